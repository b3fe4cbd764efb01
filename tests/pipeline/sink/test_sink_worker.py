"""The sink worker process against the real broker and chdb: kill -9, store outage.

A chdb path is open in one process only: these tests read the store after the worker stopped.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from datatracing.pipeline.config import TopicSettings
from datatracing.pipeline.store import open_store
from tests.pipeline.sink.sink_support import (
    SPANS_PER_MESSAGE,
    WorkerProcess,
    committed_total,
    produce,
    trace_message,
    wait_until,
    write_settings,
)

pytestmark = pytest.mark.slow

WORKER_SCRIPT = Path(__file__).with_name("sink_worker.py")


def _stored(folder: Path) -> tuple[int, int, int]:
    """(distinct spans, rows before merging, rows after OPTIMIZE FINAL) in the worker's store."""
    store = open_store("chdb://" + str(folder / "chdb"))
    try:
        table = f"{store.database}.spans"
        raw = store.backend.query(f"SELECT count() AS n FROM {table}").column("n")[0].as_py()
        distinct = store.count_spans()
        store.optimize()
        merged = store.backend.query(f"SELECT count() AS n FROM {table}").column("n")[0].as_py()
        dups = store.backend.query(
            f"SELECT count() AS n FROM (SELECT trace_id, span_id FROM {table} "
            "GROUP BY trace_id, span_id HAVING count() > 1)"
        )
        assert dups.column("n")[0].as_py() == 0
        return distinct, raw, merged
    finally:
        store.close()


def test_sink_worker_killed_mid_stream_restarted_stores_every_span_once(
    tmp_path: Path, kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    total = 2000
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(total)])
    group = f"sink-kill-{uuid.uuid4().hex[:8]}"
    config = write_settings(tmp_path, kafka_bootstrap, pipeline_topics, group_id=group)
    args = ["-m", "datatracing.pipeline.cli", "worker", "sink", "--config", str(config)]

    def done() -> int:
        return committed_total(kafka_bootstrap, group, pipeline_topics.sampled, pipeline_topics.partitions)

    first = WorkerProcess(args, tmp_path / "worker-1.log")
    try:
        wait_until(lambda: done() >= 200 or not first.alive(), 90, "the first worker to commit progress")
        assert first.alive(), first.output()
    finally:
        first.kill()
    at_kill = done()
    assert at_kill < total  # killed mid-stream: batches were in flight

    second = WorkerProcess(args, tmp_path / "worker-2.log")
    try:
        wait_until(lambda: done() == total or not second.alive(), 120, "the restarted worker to finish")
        assert second.alive(), second.output()
    finally:
        assert second.stop() == 0, second.output()

    distinct, raw, merged = _stored(tmp_path)
    assert distinct == total * SPANS_PER_MESSAGE
    assert merged == total * SPANS_PER_MESSAGE
    assert raw >= merged  # replayed rows (if any) are duplicates that merging removes
    print(
        f"kill -9: {at_kill}/{total} messages committed at the kill, {raw - merged} replayed rows merged away"
    )


def test_sink_worker_store_outage_pauses_consumption_then_resumes_without_loss(
    tmp_path: Path, kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    before, during, outage_s = 200, 8_000, 6.0
    group = f"sink-outage-{uuid.uuid4().hex[:8]}"
    status = tmp_path / "status.json"
    produce(kafka_bootstrap, pipeline_topics.sampled, [trace_message(n) for n in range(before)])
    config = write_settings(
        tmp_path, kafka_bootstrap, pipeline_topics, batch_max_messages=100, group_id=group
    )
    worker = WorkerProcess(
        [str(WORKER_SCRIPT), str(config), str(status), str(outage_s)], tmp_path / "worker.log"
    )

    def counters() -> dict[str, int]:
        return json.loads(status.read_text()) if status.exists() else {}

    def done() -> int:
        return committed_total(kafka_bootstrap, group, pipeline_topics.sampled, pipeline_topics.partitions)

    try:
        wait_until(
            lambda: counters().get("unavailable_errors", 0) >= 1 or not worker.alive(), 90, "the outage"
        )
        assert worker.alive(), worker.output()
        rss_start, decoded_start = worker.rss_kib(), counters()["messages_decoded"]
        produce(
            kafka_bootstrap,
            pipeline_topics.sampled,
            [trace_message(n) for n in range(before, before + during)],
        )
        wait_until(lambda: counters().get("unavailable_errors", 0) >= 5, 30, "retries during the outage")
        # Paused: the agent holds one batch and takes no other, nothing is committed, memory bounded.
        in_outage = counters()
        assert in_outage["outage_active"]
        assert in_outage["messages_decoded"] == decoded_start
        assert done() == 0
        rss_growth_mib = (worker.rss_kib() - rss_start) / 1024
        assert rss_growth_mib < 150, f"RSS grew {rss_growth_mib:.0f} MiB during the outage"
        wait_until(lambda: done() == before + during or not worker.alive(), 120, "the worker to catch up")
        assert worker.alive(), worker.output()
    finally:
        assert worker.stop() == 0, worker.output()

    final = counters()
    assert final["rows_written"] == (before + during) * SPANS_PER_MESSAGE
    distinct, _, merged = _stored(tmp_path)
    assert distinct == merged == (before + during) * SPANS_PER_MESSAGE
    print(f"outage: {in_outage['unavailable_errors']} failed inserts, RSS +{rss_growth_mib:.1f} MiB")
