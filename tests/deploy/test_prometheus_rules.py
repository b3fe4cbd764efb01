"""Prometheus files checked by promtool: the alert rules parse, their unit tests pass, the scrape
config is valid, and every alert links to its runbook section."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.deploy_support import DEPLOY, ROOT

PROMETHEUS = DEPLOY / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("promtool is missing and this is not root: `apt-get install prometheus` provides it")
    pytest.fail("promtool is missing: scripts/bootstrap installs it (Debian's prometheus package)")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_prometheus_alert_rules_pass_promtool_check(promtool: str) -> None:
    result = _run(promtool, "check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_alert_rule_unit_tests_pass(promtool: str) -> None:
    result = _run(promtool, "test", "rules", "alerts.test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrape_config_passes_promtool_check(promtool: str, tmp_path: Path) -> None:
    # The config names in-container paths: point them at the repository's files for the check.
    key = tmp_path / "api-key"
    key.write_text("test")
    text = (PROMETHEUS / "prometheus.yml").read_text()
    text = text.replace("/etc/prometheus/alerts.yml", str(PROMETHEUS / "alerts.yml"))
    text = text.replace("/run/secrets/datatracing-api-key", str(key))
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    result = _run(promtool, "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_rules_cover_the_required_alerts() -> None:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    rules = {rule["alert"]: rule for group in groups for rule in group["rules"]}
    exprs = " ".join(rule["expr"] for rule in rules.values())
    for metric in (
        "datatracing_sampler_consumer_lag",
        "datatracing_sink_consumer_lag",
        "datatracing_sampler_dead_lettered_total",
        "datatracing_sink_store_retries_total",
        "datatracing_sink_store_failing",
        'datatracing_sampler_buffered{unit="spans"}',
    ):
        assert metric in exprs, metric
    assert re.search(r"\bup\{[^}]*\} == 0", rules["DataTracingWorkerDown"]["expr"])


def test_prometheus_every_alert_links_to_its_runbook_section() -> None:
    runbook = (ROOT / "docs/runbook.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in runbook.splitlines()
        if line.startswith("#")
    }
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        link = rule["annotations"]["runbook"]
        path, _, anchor = link.partition("#")
        assert path == "docs/runbook.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"docs/runbook.md has no section {rule['alert']}"
