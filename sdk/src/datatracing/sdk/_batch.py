"""The generic batch engine behind `BatchSpanProcessor`: bounded queue, daemon worker, flush.

The host's thread only appends to a `deque` with a maximum length (appending to a full one drops the
oldest item, counted in `dropped`). A daemon worker wakes every `schedule_delay_s`, or as soon as a
full batch is waiting, and exports what is queued in batches under an export lock. Flush runs on the
caller's thread under the same lock. After `fork()` the child starts with an empty queue, fresh locks
and no worker (one is started on the first emit). `shutdown` runs at interpreter exit as well.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from datatracing.errors import UsageError
from datatracing.sdk._log import RateLimitedLog

__all__ = ["BatchEngine"]

T = TypeVar("T")
_log = RateLimitedLog(logging.getLogger("datatracing.sdk"))


def _call_weak(ref: weakref.ref[BatchEngine[Any]], method: str) -> None:
    engine = ref()
    if engine is not None:
        getattr(engine, method)()


class BatchEngine(Generic[T]):
    """Batches items from any thread and hands them to `export` on a daemon worker thread.

    `export(batch) -> bool` must not block forever; False (or an exception) counts a failed batch.
    """

    def __init__(
        self,
        export: Callable[[list[T]], bool],
        *,
        on_flush: Callable[[float], bool] | None = None,
        on_shutdown: Callable[[], None] | None = None,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
        export_timeout_s: float = 30,
        name: str = "datatracing-batch",
    ) -> None:
        if max_queue_size <= 0 or max_export_batch_size <= 0 or max_export_batch_size > max_queue_size:
            raise UsageError("need 0 < max_export_batch_size <= max_queue_size")
        if schedule_delay_s <= 0 or export_timeout_s <= 0:
            raise UsageError("schedule_delay_s and export_timeout_s must be positive")
        self._export = export
        self._on_flush = on_flush
        self._on_shutdown = on_shutdown
        self._max_queue_size = max_queue_size
        self._batch_size = max_export_batch_size
        self._delay_s = schedule_delay_s
        self._export_timeout_s = export_timeout_s
        self._name = name
        self.dropped = 0
        self.failed_batches = 0
        self.exported = 0
        self._is_shutdown = False
        self._queue: deque[T] = deque(maxlen=max_queue_size)
        self._reset_threading()
        ref = weakref.ref(self)
        # Neither hook keeps the engine alive; both are no-ops once it is collected.
        os.register_at_fork(after_in_child=lambda: _call_weak(ref, "_after_fork"))
        atexit.register(_call_weak, ref, "shutdown")

    def _reset_threading(self) -> None:
        self._event = threading.Event()
        self._export_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def _after_fork(self) -> None:
        # The parent's queued items belong to the parent (exporting them here would duplicate them),
        # and its locks may have been held by a thread that does not exist in the child.
        self._queue.clear()
        self._reset_threading()

    def emit(self, item: T) -> None:
        """Queue `item` (called on the host's thread; never blocks, never raises)."""
        if self._is_shutdown:
            return
        queue = self._queue
        if len(queue) >= self._max_queue_size:
            self.dropped += 1
        queue.append(item)
        if self._worker is None:
            self._start_worker()
        if len(queue) >= self._batch_size and not self._event.is_set():
            self._event.set()

    def _start_worker(self) -> None:
        with self._start_lock:
            if self._worker is not None or self._is_shutdown:
                return
            worker = threading.Thread(target=self._run, name=self._name, daemon=True)
            try:
                worker.start()
            except RuntimeError:  # interpreter shutting down: items wait for the final flush
                return
            self._worker = worker

    def _run(self) -> None:
        event = self._event
        while not self._is_shutdown:
            event.wait(self._delay_s)
            event.clear()
            if self._is_shutdown:
                break
            with self._export_lock:
                self._export_queued(time.monotonic() + self._export_timeout_s)

    def _export_queued(self, deadline: float) -> None:
        # Export only what is queued now: a host emitting faster than we export must not keep us here.
        pending = len(self._queue)
        while pending > 0 and time.monotonic() < deadline:
            batch = self._take(min(pending, self._batch_size))
            if not batch:
                return
            pending -= len(batch)
            self._export_batch(batch)

    def _take(self, count: int) -> list[T]:
        popleft = self._queue.popleft
        batch: list[T] = []
        try:
            for _ in range(count):
                batch.append(popleft())
        except IndexError:  # emptied concurrently (fork reset)
            pass
        return batch

    def _export_batch(self, batch: list[T]) -> None:
        try:
            ok = self._export(batch)
        except Exception:
            _log.error("batch-export", "%s: export raised", self._name, exc_info=True)
            ok = False
        if ok:
            self.exported += len(batch)
        else:
            self.failed_batches += 1

    def force_flush(self, timeout_s: float = 30) -> bool:
        """Export everything queued now, on this thread, within `timeout_s`; True when all went out."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        if not self._export_lock.acquire(timeout=max(timeout_s, 0.0)):
            return False
        try:
            failed_before = self.failed_batches
            self._export_queued(deadline)
            ok = not self._queue and self.failed_batches == failed_before
        finally:
            self._export_lock.release()
        if self._on_flush is not None:
            try:
                ok = self._on_flush(max(deadline - time.monotonic(), 0.0)) and ok
            except Exception:
                _log.error("batch-flush", "%s: flush raised", self._name, exc_info=True)
                ok = False
        return ok

    def shutdown(self) -> None:
        """Stop the worker, export what is queued (bounded by `export_timeout_s`), shut the exporter."""
        if self._is_shutdown:
            return
        self._is_shutdown = True
        deadline = time.monotonic() + self._export_timeout_s
        self._event.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(deadline - time.monotonic(), 0.0))
        self.force_flush(max(deadline - time.monotonic(), 0.0))
        if self._on_shutdown is not None:
            try:
                self._on_shutdown()
            except Exception:
                _log.error("batch-shutdown", "%s: shutdown raised", self._name, exc_info=True)
