"""A small kustomize: renders our kustomizations with exactly the features they use.

`resources` (files and folders), `components`, `labels` (metadata only), `namespace`, `images`
(`newName`/`newTag`) and `patches` given by `path` (strategic merge: maps merge, lists of named
items merge by `name`, other lists are replaced). Anything else in a kustomization is an error, so a
new feature must be taught here (the tests also compare with `kubectl kustomize` when it is present).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]

_KNOWN = {"apiVersion", "kind", "resources", "components", "labels", "namespace", "images", "patches"}
_CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def _load(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in [*base, *patch])
    ):
        merged = [copy.deepcopy(i) for i in base]
        for item in patch:
            at = next((n for n, old in enumerate(merged) if old["name"] == item["name"]), None)
            if at is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[at] = _merge(merged[at], item)
        return merged
    return copy.deepcopy(patch)


def _pod_spec(doc: Doc) -> Doc | None:
    spec = doc.get("spec", {})
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        pod: Doc = spec["template"]["spec"]
        return pod
    return None


def render(folder: Path) -> list[Doc]:
    """The documents `kubectl kustomize folder` would print (in resource order)."""
    config = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(config) - _KNOWN
    if unknown:
        raise ValueError(f"{folder}: kustomization fields this renderer does not know: {sorted(unknown)}")
    docs: list[Doc] = []
    for entry in config.get("resources", []):
        path = folder / entry
        docs.extend(render(path) if path.is_dir() else _load(path))
    for entry in config.get("components", []):
        docs.extend(render(folder / entry))
    for patch_entry in config.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise ValueError(f"{folder}: only `patches: - path:` entries are supported")
        for patch in _load(folder / patch_entry["path"]):
            key = (patch["kind"], patch["metadata"]["name"])
            at = [n for n, doc in enumerate(docs) if (doc["kind"], doc["metadata"]["name"]) == key]
            if len(at) != 1:
                raise ValueError(f"{folder}: patch {patch_entry['path']} matches {len(at)} resources")
            docs[at[0]] = _merge(docs[at[0]], patch)
    for label in config.get("labels", []):
        if set(label) != {"pairs"}:
            raise ValueError(f"{folder}: only `labels: - pairs:` (metadata labels) is supported")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    for image in config.get("images", []):
        for doc in docs:
            pod = _pod_spec(doc)
            for container in [*(pod or {}).get("initContainers", []), *(pod or {}).get("containers", [])]:
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    if "namespace" in config:
        for doc in docs:
            if doc["kind"] not in _CLUSTER_KINDS:
                doc["metadata"]["namespace"] = config["namespace"]
    return docs
