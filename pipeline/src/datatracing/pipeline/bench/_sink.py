"""Suite `sink`: what the sink agent's consumption path takes, beside the raw copy rate, same run.

The `sampled-spans` topic is filled with traffic-generator messages (`_load.build_pool`, fresh trace
ids), then the sink agent (`install_sink_agent`, in a Faust worker of its own process, as in the store
worker) consumes all of them twice, each time as a new consumer group:
- `noop`: the agent with a writer that returns at once: Faust's consumption path alone;
- `store`: the real `SinkWriter` on an embedded chdb store: decode + insert + commit.
Each rate is counted from the first batch the agent receives to the last message written. The raw
copy (one confluent-kafka consumer + producer, no logic) runs over the same messages.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

from datatracing.pipeline.bench._kafka import bench_topics, produce_all, raw_copy_rate
from datatracing.pipeline.bench._load import build_pool
from datatracing.pipeline.broker import EmbeddedBroker, free_port, kafka_producer, make_faust_app, raw_topic
from datatracing.pipeline.config import KafkaSettings, Settings, SinkSettings, TopicSettings
from datatracing.pipeline.sink import SinkMessage, SinkWriter, install_sink_agent
from datatracing.pipeline.store import TraceStore, open_store

__all__ = ["run_sink_bench"]


class _TimedWriter(SinkWriter):
    """The sink's writer (or, `noop`, none of its work) timing the consumption of `count` messages;
    puts (seconds, messages) on `results` and ends the worker once they are written."""

    def __init__(self, *args: Any, noop: bool, count: int, results: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.noop, self.count, self.results = noop, count, results
        self.first = 0.0
        self.seen = 0

    async def write(self, messages: Any) -> int:
        if not self.first:
            self.first = time.perf_counter()
        written = len(messages) if self.noop else await super().write(cast("list[SinkMessage]", messages))
        self.seen += len(messages)
        if self.seen >= self.count and self.results is not None:
            self.results.put((time.perf_counter() - self.first, self.seen))
            self.results = None
            os.kill(os.getpid(), signal.SIGTERM)  # the Faust worker stops cleanly on SIGTERM
        return written


def _consume(
    bootstrap: str, topics: TopicSettings, workdir: str, mode: str, count: int, results: Any
) -> None:
    """The child process: one Faust worker running the sink agent until `count` messages are written."""
    import faust

    settings = Settings(
        data_dir=Path(workdir),
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        topics=topics,
    )
    app = make_faust_app(
        settings, f"bench-sink-{uuid.uuid4().hex[:8]}", web_port=free_port(), web_enabled=False
    )
    store: TraceStore | None = None
    if mode == "store":
        store = open_store("chdb://" + str(Path(workdir) / "chdb"))
        store.migrate()
    writer = _TimedWriter(
        cast("TraceStore", store),
        kafka_producer(settings.kafka),
        topics.dead_letter,
        settings.sink,
        noop=mode == "noop",
        count=count,
        results=results,
    )
    install_sink_agent(app, raw_topic(app, topics.sampled), writer, settings.sink)
    try:
        faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
    finally:
        if store is not None:
            store.close()


def _consume_rate(bootstrap: str, topics: TopicSettings, mode: str, count: int) -> tuple[float, float]:
    """(seconds, messages) the sink agent took for `count` messages in a child process."""
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        child = context.Process(target=_consume, args=(bootstrap, topics, tmp, mode, count, results))
        child.start()
        try:
            seconds, messages = results.get(timeout=600)
        except queue.Empty:
            seconds, messages = 0.0, 0
        child.join(60)
        if child.is_alive():
            child.kill()
            child.join()
    return float(seconds), float(messages)


def run_sink_bench(quick: bool) -> dict[str, float]:
    pool = build_pool(200 if quick else 1_000)
    rounds = 2 if quick else 10
    messages = [(os.urandom(16).hex(), m) for _ in range(rounds) for m in pool]
    spans = sum(m.spans for _, m in messages)
    values = [(tid.encode(), m.payload.replace(m.trace_id, bytes.fromhex(tid))) for tid, m in messages]
    figures: dict[str, float] = {"messages": float(len(values)), "spans": float(spans)}
    with EmbeddedBroker() as broker:
        topics = bench_topics(broker.bootstrap_servers)
        produce_all(broker.bootstrap_servers, topics.sampled, values)
        for mode in ("noop", "store"):
            seconds, seen = _consume_rate(broker.bootstrap_servers, topics, mode, len(values))
            rate = spans * (seen / len(values)) / seconds if seconds else 0.0
            figures[f"sink_{mode}_spans_per_s"] = round(rate, 1)
            figures[f"sink_{mode}_messages_per_s"] = round(seen / seconds, 1) if seconds else 0.0
        raw = raw_copy_rate(broker.bootstrap_servers, topics.sampled, topics.partitions, len(values), spans)
    figures["raw_copy_spans_per_s"] = round(raw, 1)
    figures["noop_ratio"] = round(figures["sink_noop_spans_per_s"] / raw, 3) if raw else 0.0
    figures["store_ratio"] = round(figures["sink_store_spans_per_s"] / raw, 3) if raw else 0.0
    figures["batch_max_messages"] = float(SinkSettings().batch_max_messages)
    return figures
