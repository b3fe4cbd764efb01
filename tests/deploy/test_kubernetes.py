"""The Kubernetes manifests: rendered (our small kustomize, compared with `kubectl kustomize` when it
is installed), validated against the Kubernetes API schemas with kubernetes-validate, and held to a
policy: non-root, read-only root filesystem with /tmp writable, no privilege escalation, all
capabilities dropped, requests and limits, liveness and readiness probes, no `latest` image.

kubernetes-validate ships no schemas for KEDA's custom resources (ScaledObject,
TriggerAuthentication): those are checked here by shape only. The policy scan is ours rather than
checkov's: checkov would add some sixty packages to the development lock. Run by hand on the rendered
overlay, checkov's remaining findings are choices left to an installation: image digests, an
`Always` pull policy, and the store URL and Kafka password as environment variables (settings are
read from the environment).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.deploy_support import DEPLOY, settings_env_problems
from tests.deploy.kustomize_render import render

KUBERNETES = DEPLOY / "kubernetes"
TARGETS = [KUBERNETES / "base", KUBERNETES / "overlays/example"]
K8S_VERSION = "1.31.0"
WORKLOADS = ("ingest", "sampler", "sink", "query")
CRD_GROUPS = ("keda.sh/",)


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def _by_key(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {_key(doc): doc for doc in docs}


@pytest.fixture(scope="module", params=TARGETS, ids=lambda p: str(p.relative_to(KUBERNETES)))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    folder: Path = request.param
    return render(folder)


@pytest.fixture(scope="module")
def overlay() -> dict[tuple[str, str], dict[str, Any]]:
    return _by_key(render(KUBERNETES / "overlays/example"))


def _pods(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in docs
        if doc["kind"] in ("Deployment", "Job")
    ]


@pytest.mark.parametrize("folder", TARGETS, ids=lambda p: str(p.relative_to(KUBERNETES)))
def test_kubernetes_render_matches_kubectl_kustomize(folder: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the rendering is checked by our renderer only")
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    theirs = _by_key([doc for doc in yaml.safe_load_all(result.stdout) if doc])
    assert _by_key(render(folder)) == theirs


def test_kubernetes_every_manifest_passes_schema_validation(rendered: list[dict[str, Any]]) -> None:
    checked = 0
    for doc in rendered:
        if doc["apiVersion"].startswith(CRD_GROUPS):
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 10


def test_kubernetes_keda_scaled_object_targets_the_sampler(overlay: dict[tuple[str, str], Any]) -> None:
    scaled = overlay["ScaledObject", "datatracing-sampler"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "datatracing-sampler"
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "datatracing-sampler"
    assert trigger["metadata"]["topic"] == "otlp_spans"
    auth = trigger["authenticationRef"]["name"]
    assert ("TriggerAuthentication", auth) in overlay
    partitions = int(overlay["ConfigMap", "datatracing-config"]["data"]["DATATRACING_TOPICS__PARTITIONS"])
    assert scaled["spec"]["maxReplicaCount"] <= partitions
    for ref in overlay["TriggerAuthentication", auth]["spec"]["secretTargetRef"]:
        assert ref["key"] in overlay["Secret", ref["name"]]["stringData"]


def test_kubernetes_policy_pods_non_root_read_only_no_capabilities(rendered: list[dict[str, Any]]) -> None:
    pods = _pods(rendered)
    assert len(pods) == 5
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert not context.get("privileged"), where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{where}: /tmp is no emptyDir"
            assert mounts.get("/data") in tmp_volumes, f"{where}: the data dir is no emptyDir"


def test_kubernetes_policy_requests_limits_and_pinned_images(rendered: list[dict[str, Any]]) -> None:
    for name, pod in _pods(rendered):
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][section]), f"{where}: {section}"
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1], f"{where}: untagged image {image}"
            assert not image.endswith(":latest"), f"{where}: {image}"


def test_kubernetes_policy_workers_probe_healthz_and_readyz(rendered: list[dict[str, Any]]) -> None:
    deployments = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Deployment"}
    assert set(deployments) == {f"datatracing-{w}" for w in WORKLOADS}
    ports = {"ingest": 4318, "sampler": 6066, "sink": 6067, "query": 16686}
    for workload, port in ports.items():
        container = deployments[f"datatracing-{workload}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", workload
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", workload
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named[container["readinessProbe"]["httpGet"]["port"]] == port, workload


def test_kubernetes_every_workload_has_a_disruption_budget(rendered: list[dict[str, Any]]) -> None:
    docs = _by_key(rendered)
    for workload in WORKLOADS:
        deployment = docs["Deployment", f"datatracing-{workload}"]
        budget = docs["PodDisruptionBudget", f"datatracing-{workload}"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items(), workload


def test_kubernetes_query_and_ingest_scale_on_cpu(rendered: list[dict[str, Any]]) -> None:
    docs = _by_key(rendered)
    for workload in ("ingest", "query"):
        hpa = docs["HorizontalPodAutoscaler", f"datatracing-{workload}"]
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"datatracing-{workload}",
        }
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert ("HorizontalPodAutoscaler", "datatracing-sampler") not in docs


def test_kubernetes_migration_job_and_workers_share_the_settings(rendered: list[dict[str, Any]]) -> None:
    docs = _by_key(rendered)
    job = docs["Job", "datatracing-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    for name, pod in _pods(rendered):
        for container in pod["containers"]:
            refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert refs == {"datatracing-config", "datatracing-env"}, name
            for ref in refs:
                assert any(kind in ("ConfigMap", "Secret") and n == ref for kind, n in docs), ref


def test_kubernetes_env_names_are_settings(rendered: list[dict[str, Any]]) -> None:
    docs = _by_key(rendered)
    env = dict(docs["ConfigMap", "datatracing-config"]["data"])
    env.update(docs["Secret", "datatracing-env"]["stringData"])
    assert settings_env_problems(env) == []


def test_kubernetes_validation_planted_unknown_field_reported() -> None:
    doc = render(KUBERNETES / "base")
    deployment = next(d for d in doc if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_kubernetes_every_pod_has_a_network_policy_on_its_port(rendered: list[dict[str, Any]]) -> None:
    docs = _by_key(rendered)
    for kind, name in [k for k in docs if k[0] in ("Deployment", "Job")]:
        pod = docs[kind, name]["spec"]["template"]
        policy = docs["NetworkPolicy", name]
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(), name
        allowed = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
        exposed = {p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert allowed == exposed, name
