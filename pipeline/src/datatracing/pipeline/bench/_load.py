"""The e2e bench's load generator: OTLP traffic at a set rate, from a process of its own.

It runs in a separate process (multiprocessing, spawn) so that producing costs neither the pipeline's
processes nor the measuring loop any CPU of theirs. Traffic comes from the one traffic generator
(`_traffic`): a pool of traces is generated and encoded once, and every produced message is a pool
message with a fresh random trace id written over the pool trace's id (the id's 16 bytes in every
span), so each message is a new trace and producing one costs a bytes replace and a `produce` call
instead of building spans.

Protocol (two queues). Commands: `("run", step, spans_per_s, seconds)` produces at that rate for that
long; `("stop",)` flushes and ends. Reports: `("ready", spans_per_message)` once the pool is built;
`("probe", step, trace_id, produced_at, spans)` for the message picked as a latency probe (about
`probes_per_s` per second; `produced_at` is `time.time()` when it was handed to the producer);
`("mark", step, where, spans, messages, seconds)` every `SAMPLE_MARK_S` (`where` "sample", with
the seconds since the step began) and at the end of a step ("end", with the seconds it took), with the
totals produced so far; `("done", spans, messages)` after the final flush.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from dataclasses import dataclass
from typing import Any

from datatracing.pipeline.bench._traffic import synthetic_traces
from datatracing.pipeline.broker import make_producer
from datatracing.wire import encode_spans

__all__ = ["SAMPLE_MARK_S", "LoadProcess", "PoolMessage", "build_pool", "produce_loop"]

#: Traces in the pool: enough variety of shapes, built in about a second.
POOL_TRACES = 1_000
#: Every step reports a "sample" mark this often: the measuring side reads each stage's lag at each,
#: so a step is judged on the lag's low points, not on one reading (see `Step.sustained`). A reading
#: costs the pipeline one scrape of the sampler's metrics and two committed-offset requests.
SAMPLE_MARK_S = 0.5
#: How often the pacing loop wakes up (the rate is exact over a step, not within a tick).
_TICK_S = 0.005


@dataclass(frozen=True)
class PoolMessage:
    trace_id: bytes
    payload: bytes
    spans: int


def build_pool(traces: int = POOL_TRACES, seed: int = 11) -> list[PoolMessage]:
    """Encoded traces of the traffic generator, one message each, with their raw trace ids."""
    return [
        PoolMessage(bytes.fromhex(t[0].trace_id), encode_spans(t), len(t))
        for t in synthetic_traces(traces, seed=seed)
    ]


def produce_loop(
    bootstrap: str,
    topic: str,
    commands: Any,
    reports: Any,
    probes_per_s: float,
    pool_traces: int = POOL_TRACES,
) -> None:
    """The load process's body (see the module docstring for the protocol)."""
    pool = build_pool(pool_traces)
    producer = make_producer(bootstrap)
    reports.put(("ready", sum(m.spans for m in pool) / len(pool)))
    spans = messages = cursor = 0
    while True:
        command = commands.get()
        if command[0] != "run":
            break
        _, step, rate, seconds = command
        started = time.monotonic()
        first_spans = spans
        next_probe = started
        next_sample = started + SAMPLE_MARK_S
        while (now := time.monotonic()) - started < seconds:
            due = rate * (now - started)
            while spans - first_spans < due:
                message = pool[cursor]
                cursor = (cursor + 1) % len(pool)
                new_id = os.urandom(16)
                trace_id = new_id.hex()
                value = message.payload.replace(message.trace_id, new_id)
                while True:
                    try:
                        producer.produce(topic, key=trace_id.encode("ascii"), value=value)
                        break
                    except BufferError:
                        producer.poll(0.01)
                spans += message.spans
                messages += 1
                if now >= next_probe:
                    reports.put(("probe", step, trace_id, time.time(), message.spans))
                    next_probe = now + 1 / probes_per_s
            producer.poll(0)
            if now >= next_sample:
                reports.put(("mark", step, "sample", spans, messages, now - started))
                next_sample += SAMPLE_MARK_S
            time.sleep(_TICK_S)
        producer.poll(0)
        reports.put(("mark", step, "end", spans, messages, time.monotonic() - started))
    producer.flush(60)
    reports.put(("done", spans, messages))


class LoadProcess:
    """The load generator as a child process, driven step by step from the measuring side."""

    def __init__(self, bootstrap: str, topic: str, *, probes_per_s: float = 2.0) -> None:
        context = multiprocessing.get_context("spawn")
        self.commands: Any = context.Queue()
        self.reports: Any = context.Queue()
        self.process = context.Process(
            target=produce_loop,
            args=(bootstrap, topic, self.commands, self.reports, probes_per_s),
            name="datatracing-bench-load",
            daemon=True,
        )

    def start(self, timeout_s: float = 120.0) -> float:
        """Start the process; returns the pool's spans per message once it is ready to produce."""
        self.process.start()
        kind, spans_per_message = self.reports.get(timeout=timeout_s)
        if kind != "ready":
            raise RuntimeError(f"load process: expected 'ready', got {kind!r}")
        return float(spans_per_message)

    def run_step(self, step: int, spans_per_s: float, seconds: float) -> None:
        self.commands.put(("run", step, spans_per_s, seconds))

    def stop(self, timeout_s: float = 90.0) -> tuple[int, int]:
        """Finish the step in progress, flush, end the process; (spans, messages) produced in all.

        Reports still queued (probes of the last step) are dropped: read them before stopping.
        """
        self.commands.put(("stop",))
        totals = (0, 0)
        deadline = time.monotonic() + timeout_s
        # Read to "done" before joining: a child still feeding its queue cannot exit.
        while time.monotonic() < deadline:
            try:
                report = self.reports.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if report[0] == "done":
                totals = (int(report[1]), int(report[2]))
                break
        self.process.join(max(0.1, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        return totals
