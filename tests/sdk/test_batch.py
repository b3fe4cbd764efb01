"""The batch engine and processors: bounded queue dropping oldest, wake-ups, flush, fork, exit."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from datatracing.errors import UsageError
from datatracing.sdk import (
    BatchSpanProcessor,
    ExportResult,
    InMemorySpanExporter,
    ReadableSpan,
    SimpleSpanProcessor,
    TracerProvider,
    is_instrumentation_suppressed,
)
from datatracing.sdk._batch import BatchEngine


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


class Recorder:
    def __init__(self, result: bool = True) -> None:
        self.batches: list[list[int]] = []
        self.result = result

    def __call__(self, batch: list[int]) -> bool:
        self.batches.append(batch)
        return self.result

    @property
    def items(self) -> list[int]:
        return [item for batch in self.batches for item in batch]


def test_engine_queue_full_oldest_dropped_and_counted() -> None:
    recorder = Recorder()
    engine: BatchEngine[int] = BatchEngine(
        recorder, max_queue_size=10, max_export_batch_size=4, schedule_delay_s=60
    )
    with engine._export_lock:  # the worker cannot take anything while we fill the queue
        for item in range(25):
            engine.emit(item)
    assert engine.dropped == 15
    assert engine.force_flush(5)
    assert recorder.items == list(range(15, 25))
    assert all(len(batch) <= 4 for batch in recorder.batches)
    engine.shutdown()


def test_engine_full_batch_wakes_worker_before_delay() -> None:
    recorder = Recorder()
    engine: BatchEngine[int] = BatchEngine(
        recorder, max_queue_size=100, max_export_batch_size=5, schedule_delay_s=60
    )
    for item in range(5):
        engine.emit(item)
    assert wait_until(lambda: recorder.items == [0, 1, 2, 3, 4])
    engine.shutdown()


def test_engine_timer_exports_partial_batch() -> None:
    recorder = Recorder()
    engine: BatchEngine[int] = BatchEngine(recorder, max_export_batch_size=512, schedule_delay_s=0.05)
    engine.emit(1)
    assert wait_until(lambda: recorder.items == [1])
    engine.shutdown()


def test_engine_failing_export_flush_false_and_counted() -> None:
    def explode(batch: list[int]) -> bool:
        raise RuntimeError("exporter bug")

    engine: BatchEngine[int] = BatchEngine(explode, schedule_delay_s=60)
    engine.emit(1)
    assert engine.force_flush(5) is False
    assert engine.failed_batches == 1
    engine.shutdown()


def test_engine_blocked_export_emit_never_blocks() -> None:
    started, release = threading.Event(), threading.Event()

    def blocked(batch: list[int]) -> bool:
        started.set()
        return release.wait(10)

    engine: BatchEngine[int] = BatchEngine(
        blocked, max_queue_size=100, max_export_batch_size=10, schedule_delay_s=0.01
    )
    engine.emit(0)
    assert started.wait(5)
    start = time.monotonic()
    for item in range(10_000):
        engine.emit(item)
    assert time.monotonic() - start < 1.0
    assert engine.dropped >= 9_900
    release.set()
    engine.shutdown()


def test_engine_shutdown_flushes_then_ignores_emits() -> None:
    recorder = Recorder()
    shut: list[bool] = []
    engine: BatchEngine[int] = BatchEngine(
        recorder, on_shutdown=lambda: shut.append(True), schedule_delay_s=60
    )
    engine.emit(1)
    engine.shutdown()
    engine.emit(2)
    engine.shutdown()
    assert recorder.items == [1]
    assert shut == [True]


def test_engine_bad_sizes_usage_error() -> None:
    with pytest.raises(UsageError):
        BatchEngine(Recorder(), max_queue_size=10, max_export_batch_size=20)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_engine_after_fork_child_starts_empty_and_exports() -> None:
    recorder = Recorder()
    engine: BatchEngine[int] = BatchEngine(recorder, schedule_delay_s=60)
    read_fd, write_fd = os.pipe()
    # Unreachable librdkafka clients left by earlier tests must be destroyed here: the cyclic GC
    # running in the child would destroy them without their threads (hang or SIGSEGV).
    gc.collect()
    with engine._export_lock:  # held across fork: the child must not inherit a held lock
        for item in range(3):
            engine.emit(item)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            engine.emit(100)
            ok = engine.force_flush(5)
            os.write(write_fd, json.dumps({"ok": ok, "items": recorder.items}).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    status: list[int] = []

    def child_exited() -> bool:
        if not status:
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status.append(code)
        return bool(status)

    if not wait_until(child_exited, timeout_s=20):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)
        pytest.fail("forked child did not exit within 20 s: killed")
    assert os.waitstatus_to_exitcode(status[0]) == 0, f"forked child died: wait status {status[0]}"
    with os.fdopen(read_fd) as pipe:
        child = json.loads(pipe.read())
    assert child == {"ok": True, "items": [100]}
    assert engine.force_flush(5)
    assert recorder.items == [0, 1, 2]
    engine.shutdown()


class SuppressionProbe:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.seen: list[tuple[bool, bool]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> ExportResult:
        inner = self.provider.get_tracer("exporter-client").start_span("http post")
        self.seen.append((is_instrumentation_suppressed(), inner.is_recording()))
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_s: float = 30) -> bool:
        return True


@pytest.mark.parametrize("processor_type", [SimpleSpanProcessor, BatchSpanProcessor])
def test_processor_export_runs_with_instrumentation_suppressed(processor_type: type) -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    probe = SuppressionProbe(provider)
    provider.add_span_processor(processor_type(probe))
    provider.get_tracer("t").start_span("work").end()
    assert provider.force_flush(5)
    assert probe.seen == [(True, False)]
    provider.shutdown()


def test_batch_processor_provider_flush_exports_all_spans() -> None:
    exporter = InMemorySpanExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_s=60)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for index in range(1500):
        tracer.start_span(f"s{index}").end()
    assert provider.force_flush(10)
    assert len(exporter.get_finished_spans()) == 1500
    assert processor.dropped_spans == 0
    provider.shutdown()


def test_batch_processor_interpreter_exit_flushes_queued_spans(tmp_path: Path) -> None:
    out = tmp_path / "spans.jsonl"
    script = (
        "from datatracing.sdk import BatchSpanProcessor, JsonlFileSpanExporter, TracerProvider\n"
        "p = TracerProvider(service_name='exit-test')\n"
        f"exporter = JsonlFileSpanExporter({str(out)!r})\n"
        "p.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_s=60))\n"
        "p.get_tracer('t').start_span('last words').end()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    lines = out.read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["last words"]
