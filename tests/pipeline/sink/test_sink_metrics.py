"""The sink's counters as Prometheus text, as the store worker serves them at `/metrics`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from datatracing.pipeline.sink import SinkStats, sink_metrics_app


def _scrape(app: Any) -> str:
    async def get() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sink") as client:
            response = await client.get("/metrics")
            response.raise_for_status()
            return response.text

    return asyncio.run(get())


def test_sink_metrics_report_stats_at_scrape_time() -> None:
    stats = SinkStats(batches=3, spans_written=120, messages_dead_lettered=2, store_retries=1)
    stats.store_failing = True

    text = _scrape(sink_metrics_app(stats))

    assert "datatracing_sink_batches_total 3.0" in text
    assert "datatracing_sink_spans_written_total 120.0" in text
    assert "datatracing_sink_dead_lettered_total 2.0" in text
    assert "datatracing_sink_store_retries_total 1.0" in text
    assert "datatracing_sink_store_failing 1.0" in text


def test_sink_metrics_same_app_follows_later_changes() -> None:
    stats = SinkStats()
    app = sink_metrics_app(stats)
    before = _scrape(app)
    stats.messages_dead_lettered += 5

    assert "datatracing_sink_dead_lettered_total 0.0" in before
    assert "datatracing_sink_dead_lettered_total 5.0" in _scrape(app)


def test_sink_metrics_insert_durations_lag_and_paused_at_scrape_time() -> None:
    from datatracing.pipeline.sink import SinkCollector, sink_metrics_text

    stats = SinkStats()
    for seconds in (0.002, 0.03, 0.03, 7.0):
        stats.insert_duration.observe(seconds)
    lag = {0: 5, 1: 0}
    paused = [False]
    render = sink_metrics_text(SinkCollector(stats, lag=lambda: lag, paused=lambda: paused[0]))

    text = render().decode()
    assert 'datatracing_sink_insert_duration_seconds_bucket{le="0.005"} 1.0' in text
    assert 'datatracing_sink_insert_duration_seconds_bucket{le="0.05"} 3.0' in text
    assert 'datatracing_sink_insert_duration_seconds_bucket{le="+Inf"} 4.0' in text
    assert "datatracing_sink_insert_duration_seconds_count 4.0" in text
    assert 'datatracing_sink_consumer_lag{partition="0"} 5.0' in text
    assert 'datatracing_sink_consumer_lag{partition="1"} 0.0' in text
    assert "datatracing_sink_paused 0.0" in text

    paused[0] = True
    assert "datatracing_sink_paused 1.0" in render().decode()
    paused[0] = False
    stats.store_failing = True  # a batch waiting for the store holds consumption too
    assert "datatracing_sink_paused 1.0" in render().decode()
