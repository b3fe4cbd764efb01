"""Rate-limited logging: instrumentation must not flood the host's logs when a broker is down."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """Logs each message key at most once per `interval_s`, reporting how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval_s: float = 60.0) -> None:
        self.logger = logger
        self._interval_s = interval_s
        self._next: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def _allow(self, key: str) -> int | None:
        now = time.monotonic()
        with self._lock:
            if now < self._next.get(key, 0.0):
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return None
            self._next[key] = now + self._interval_s
            return self._suppressed.pop(key, 0)

    def log(self, level: int, key: str, msg: str, *args: object, exc_info: bool = False) -> None:
        """Log `msg % args` at `level` unless `key` was logged within the interval."""
        if not self.logger.isEnabledFor(level):
            return
        suppressed = self._allow(key)
        if suppressed is None:
            return
        if suppressed:
            msg += " (%d similar messages suppressed)"
            args = (*args, suppressed)
        self.logger.log(level, msg, *args, exc_info=exc_info)

    def warning(self, key: str, msg: str, *args: object, exc_info: bool = False) -> None:
        self.log(logging.WARNING, key, msg, *args, exc_info=exc_info)

    def error(self, key: str, msg: str, *args: object, exc_info: bool = False) -> None:
        self.log(logging.ERROR, key, msg, *args, exc_info=exc_info)
