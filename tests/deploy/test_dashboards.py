"""Every metric a Grafana panel or an alert rule reads is one our processes expose.

The real metric apps are built in-process (sampler runner, sink stats, ingest gateway, query app) and
scraped once; names are collected from the exposition, with the `_total`, `_bucket`, `_sum`, `_count`
suffixes Prometheus adds.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from datatracing.pipeline.broker import kafka_producer
from datatracing.pipeline.config import Settings
from datatracing.pipeline.ingest import IngestSettings, create_ingest_app, make_ingest_producer
from datatracing.pipeline.query import create_app
from datatracing.pipeline.runtime import HeapCollector
from datatracing.pipeline.sampler import default_policy
from datatracing.pipeline.sampler._metrics import metrics_app
from datatracing.pipeline.sampler._runner import SamplerRunner
from datatracing.pipeline.sink import SinkCollector, SinkStats, sink_metrics_app, sink_metrics_text
from datatracing.pipeline.store import EngineMemoryCollector, open_store
from tests.deploy.deploy_support import DEPLOY

DASHBOARDS = DEPLOY / "grafana/dashboards"

# Prometheus' own series and PromQL words that look like metric names in an expression.
_NOT_METRICS = {"up", "by", "without", "on", "ignoring", "le", "bool", "and", "or", "unless", "offset"}
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def _scrape(app: Any, path: str = "/metrics") -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            return await client.get(path)

    return asyncio.run(get())


def _names(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type in ("histogram", "summary"):
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
    return names


@pytest.fixture(scope="module")
def query_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store = open_store(
        "chdb://" + str(tmp_path_factory.mktemp("chdb").resolve()), database="d_" + uuid.uuid4().hex[:8]
    )
    store.migrate()
    yield store
    store.close()


@pytest.fixture(scope="module")
def exposed(kafka_bootstrap: str, query_store: Any) -> set[str]:
    """Every metric name the four processes expose."""
    settings = Settings.model_validate({"kafka": {"bootstrap_servers": kafka_bootstrap}})
    runner = SamplerRunner(settings, default_policy(), settings.sampler, kafka_producer(settings.kafka))
    runner.engine(0)
    runner.consumer_lag[0] = 0
    names = _names(_scrape(metrics_app(runner, HeapCollector())).text)
    names |= _names(_scrape(sink_metrics_app(SinkStats())).text)
    # The worker's collector also reports lag by partition (read from its consumer).
    # With its memory gauges, as the store worker serves them over an embedded store.
    collector = SinkCollector(SinkStats(), lag=lambda: {0: 0})
    memory = (HeapCollector(), EngineMemoryCollector(query_store.backend))
    names |= _names(sink_metrics_text(collector, *memory)().decode())
    ingest_settings = IngestSettings()
    producer = make_ingest_producer(ingest_settings, kafka_bootstrap)
    ingest = _scrape(create_ingest_app(producer, "otlp_spans", ingest_settings))
    producer.flush(0)
    assert ingest.status_code == 200
    names |= _names(ingest.text)
    query = _scrape(create_app(query_store))
    assert query.status_code == 200
    names |= _names(query.text)
    return names


def _metrics_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", without_ranges)
    tokens = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings))
    return {t for t in tokens if t.startswith("datatracing_") or t in ("up",)} - _NOT_METRICS


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


def _alert_exprs() -> Iterator[tuple[str, str]]:
    groups = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            yield f"alert {rule['alert']}", rule["expr"]


def _unknown(exposed: set[str], exprs: Iterator[tuple[str, str]]) -> list[str]:
    unknown: list[str] = []
    for where, expr in exprs:
        for metric in sorted(_metrics_in(expr)):
            base = next((metric[: -len(s)] for s in _SUFFIXES if metric.endswith(s)), metric)
            if metric in exposed or base in exposed:
                continue
            unknown.append(f"{where}: {metric}")
    return unknown


def test_dashboards_every_panel_metric_is_exposed(exposed: set[str]) -> None:
    assert list(_dashboard_exprs())
    assert _unknown(exposed, _dashboard_exprs()) == []


def test_alerts_every_rule_metric_is_exposed(exposed: set[str]) -> None:
    assert _unknown(exposed, _alert_exprs()) == []


def test_dashboards_metric_check_planted_unknown_name_reported(exposed: set[str]) -> None:
    planted = iter([("planted", 'sum(rate(datatracing_sink_spans_writen_total{job="sink"}[5m]))')])
    assert _unknown(exposed, planted) == ["planted: datatracing_sink_spans_writen_total"]


def test_dashboards_cover_every_stage() -> None:
    exprs = " ".join(expr for _, expr in _dashboard_exprs())
    for metric in (
        "datatracing_ingest_spans_total",
        "datatracing_sampler_spans_total",
        "datatracing_sink_spans_written_total",
        "datatracing_sampler_consumer_lag",
        "datatracing_sampler_traces_decided_total",
        "datatracing_sampler_dead_lettered_total",
        "datatracing_sink_insert_duration_seconds_bucket",
        "datatracing_query_request_duration_seconds_bucket",
    ):
        assert metric in exprs, metric


def test_dashboards_use_the_provisioned_prometheus_data_source() -> None:
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/datatracing.yml").read_text())
    uid = next(s["uid"] for s in sources["datasources"] if s["type"] == "prometheus")
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, (path.name, panel["title"])


def test_dashboards_exposition_includes_sampler_sink_and_ingest(exposed: set[str]) -> None:
    for name in (
        "datatracing_sampler_spans_total",
        "datatracing_sink_spans_written_total",
        "datatracing_ingest_requests_total",
    ):
        assert name in exposed, name
