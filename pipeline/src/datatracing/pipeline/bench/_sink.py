"""Suite `sink`: what the sink agent's consumption path takes, beside the raw copy rate, same run.

The `sampled-spans` topic is filled with traffic-generator messages (`_load.build_pool`, fresh trace
ids), then each consumption path consumes all of them, in a process of its own and a new consumer
group, with two writers:
- paths: `agent`, a Faust agent's stream (`install_sink_agent`, `take_events`, in a Faust worker);
  `loop`, the store worker's batch consumer (`SinkConsumerLoop`, confluent-kafka);
- writers: `noop` returns at once (the consumption path alone); `store` is the real `SinkWriter` on
  an embedded chdb store (decode + insert + commit).
Each rate counts the messages after the agent's first batch (buffered while the group joined), from
the end of that batch to the last message written. The raw
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from datatracing.pipeline.bench._kafka import bench_topics, produce_all, raw_copy_rate
from datatracing.pipeline.bench._load import build_pool
from datatracing.pipeline.broker import (
    EmbeddedBroker,
    consumer_config,
    free_port,
    kafka_producer,
    make_faust_app,
    raw_topic,
)
from datatracing.pipeline.config import KafkaSettings, Settings, SinkSettings, TopicSettings
from datatracing.pipeline.sink import SinkConsumerLoop, SinkMessage, SinkWriter, install_sink_agent
from datatracing.pipeline.store import TraceStore, open_store

__all__ = ["MODES", "run_sink_bench"]

#: Consumption path and writer of each measured run.
MODES = ("agent_noop", "loop_noop", "agent_store", "loop_store")


class _TimedWriter(SinkWriter):
    """The sink's writer (or, `noop`, none of its work) timing the consumption of `count` messages;
    puts (seconds, messages) on `results` and calls `done` once they are written."""

    def __init__(
        self, *args: Any, noop: bool, count: int, results: Any, done: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.noop, self.count, self.results, self.done = noop, count, results, done
        self.first = 0.0
        self.first_batch = self.seen = 0

    async def write(self, messages: Any) -> int:
        written = len(messages) if self.noop else await super().write(cast("list[SinkMessage]", messages))
        self.seen += len(messages)
        if not self.first:
            # The clock starts after the first batch: it was buffered while the group was joining.
            self.first, self.first_batch = time.perf_counter(), self.seen
        if self.seen >= self.count and self.results is not None:
            self.results.put((time.perf_counter() - self.first, self.seen - self.first_batch))
            self.results = None
            self.done()
        return written


def _consume(
    bootstrap: str, topics: TopicSettings, workdir: str, mode: str, count: int, results: Any
) -> None:
    """The child process: one consumption path (`mode` is "path_writer") until `count` messages are
    written."""
    path, writer_kind = mode.split("_")
    settings = Settings(
        data_dir=Path(workdir), kafka=KafkaSettings(bootstrap_servers=bootstrap), topics=topics
    )
    store: TraceStore | None = None
    if writer_kind == "store":
        store = open_store("chdb://" + str(Path(workdir) / "chdb"))
        store.migrate()
    group = f"bench-sink-{uuid.uuid4().hex[:8]}"
    writer = _TimedWriter(
        cast("TraceStore", store),
        kafka_producer(settings.kafka),
        topics.dead_letter,
        settings.sink,
        noop=writer_kind == "noop",
        count=count,
        results=results,
        # The Faust worker stops cleanly on SIGTERM (the loop's run is given `stop` below).
        done=lambda: os.kill(os.getpid(), signal.SIGTERM),
    )
    try:
        if path == "agent":
            _run_agent(settings, group, writer)
        else:
            config = consumer_config(bootstrap, group, settings.kafka.session_timeout_ms)
            loop = SinkConsumerLoop(writer, topics.sampled, config, settings.sink)
            writer.done = loop.stop  # run() is on this thread: stop() only asks it to end
            loop.run()
    finally:
        if store is not None:
            store.close()


def _run_agent(settings: Settings, group: str, writer: SinkWriter) -> None:
    import faust

    app = make_faust_app(settings, group, web_port=free_port(), web_enabled=False)
    install_sink_agent(app, raw_topic(app, settings.topics.sampled), writer, settings.sink)
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


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
    rounds = 25 if quick else 40
    messages = [(os.urandom(16).hex(), m) for _ in range(rounds) for m in pool]
    spans = sum(m.spans for _, m in messages)
    values = [(tid.encode(), m.payload.replace(m.trace_id, bytes.fromhex(tid))) for tid, m in messages]
    figures: dict[str, float] = {"messages": float(len(values)), "spans": float(spans)}
    with EmbeddedBroker() as broker:
        topics = bench_topics(broker.bootstrap_servers)
        produce_all(broker.bootstrap_servers, topics.sampled, values)
        for mode in MODES:
            seconds, seen = _consume_rate(broker.bootstrap_servers, topics, mode, len(values))
            rate = spans / len(values) * seen / seconds if seconds else 0.0
            figures[f"sink_{mode}_spans_per_s"] = round(rate, 1)
            figures[f"sink_{mode}_messages_per_s"] = round(seen / seconds, 1) if seconds else 0.0
        raw = raw_copy_rate(broker.bootstrap_servers, topics.sampled, topics.partitions, len(values), spans)
    figures["raw_copy_spans_per_s"] = round(raw, 1)
    for mode in MODES:
        figures[f"{mode}_ratio"] = round(figures[f"sink_{mode}_spans_per_s"] / raw, 3) if raw else 0.0
    figures["batch_max_messages"] = float(SinkSettings().batch_max_messages)
    return figures
