"""Start-up checks of the long-running commands: is the store open-able, is the broker reachable?

A worker that starts before its store or broker (a compose file starting everything at once) retries
with backoff for at most `--startup-wait` seconds, then stops with one line naming what it could not
reach (the store URL with its password masked, the Kafka bootstrap servers) and exit code 1. An
embedded chdb path another process holds is not retried (see `open_store_waiting`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

import typer

from datatracing.errors import TransientError
from datatracing.pipeline.cli._base import one_line, redact
from datatracing.pipeline.config import Settings
from datatracing.pipeline.errors import BrokerUnavailableError, StoreUnavailableError
from datatracing.pipeline.store import ClickHouseTraceStore, open_store

__all__ = ["StartupWaitOpt", "open_settings_store", "open_store_waiting", "wait_for_kafka"]

log = logging.getLogger(__name__)

StartupWaitOpt = Annotated[
    float,
    typer.Option(
        "--startup-wait",
        min=0,
        envvar="DATATRACING_STARTUP_WAIT_S",
        help="Seconds to retry an unreachable store or broker at start-up, with backoff (0: fail at once).",
    ),
]

_FIRST_DELAY_S = 0.2
_MAX_DELAY_S = 5.0
_CONNECT_TIMEOUT_S = 3.0

T = TypeVar("T")


def _retry(attempt: Callable[[], T], wait_s: float) -> T:
    """`attempt()` until it stops raising `TransientError` or `wait_s` have passed (then re-raise)."""
    deadline = time.monotonic() + wait_s
    delay = _FIRST_DELAY_S
    while True:
        try:
            return attempt()
        except TransientError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                if wait_s <= 0:
                    raise
                raise type(exc)(f"{one_line(exc)} (retried for {wait_s:g}s)") from exc
            log.warning("%s; retrying in %.1fs", one_line(exc), min(delay, left))
            time.sleep(min(delay, left))
            delay = min(delay * 2, _MAX_DELAY_S)


def _addresses(bootstrap_servers: str) -> list[tuple[str, int]]:
    out = []
    for entry in bootstrap_servers.split(","):
        host, _, port = entry.strip().split("://")[-1].rpartition(":")
        if host and port.isdigit():
            out.append((host.strip("[]"), int(port)))
    return out


def _connect_any(bootstrap_servers: str) -> None:
    reasons = []
    for host, port in _addresses(bootstrap_servers):
        try:
            with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
                return
        except OSError as exc:
            reasons.append(exc.strerror or type(exc).__name__)
    reason = reasons[0] if reasons else "no host:port in the list"
    raise BrokerUnavailableError(f"cannot reach Kafka at {bootstrap_servers}: {reason}")


def wait_for_kafka(bootstrap_servers: str, wait_s: float) -> None:
    """Return once a TCP connection to one of `bootstrap_servers` opens; raise
    `BrokerUnavailableError` naming them after `wait_s` seconds of retries."""
    _retry(lambda: _connect_any(bootstrap_servers), wait_s)


# Loggers that report a refused connection once more, each in its own words, before it is raised.
_CLIENT_LOGGERS = ("clickhouse_connect", "urllib3")
_DB_PREFIX = re.compile(r"^Code: \d+\. DB::Exception: ")
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\"')]+)")


@contextlib.contextmanager
def _quiet_attempt(native: list[str]) -> Iterator[None]:
    """Keep an attempt's noise off stderr: the HTTP client's warnings, and what the embedded engine
    writes to file descriptor 2 itself (its first line is kept in `native` for the message)."""
    levels = {name: logging.getLogger(name).level for name in _CLIENT_LOGGERS}
    for name in _CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                capture.seek(0)
                text = capture.read(4096).decode("utf-8", "replace")
                native[:] = [line.strip() for line in text.splitlines() if line.strip()][:1]
    finally:
        os.close(saved)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _reason(exc: BaseException, native: list[str]) -> str:
    message = one_line(exc)
    errno = _ERRNO.search(message)
    if errno:
        return errno.group(1).strip()
    if native:  # the engine's own account, e.g. "Cannot lock file .../status. Another server ..."
        return _DB_PREFIX.sub("", native[0])
    return message


def open_store_waiting(
    url: str, *, retention_days: int, wait_s: float, password: str | None = None
) -> ClickHouseTraceStore:
    """`open_store(url)` retried while the store is unavailable (a chdb path another process holds, a
    ClickHouse server not answering); raise `StoreUnavailableError` naming the URL (password masked)
    after `wait_s` seconds. Settings errors (`ConfigError`) and a chdb path that cannot be opened
    are raised at once."""
    shown = redact(url)

    def attempt() -> ClickHouseTraceStore:
        native: list[str] = []
        try:
            with _quiet_attempt(native):
                return open_store(url, retention_days=retention_days, password=password)
        except StoreUnavailableError as exc:
            raise StoreUnavailableError(f"cannot open the store at {shown}: {_reason(exc, native)}") from exc

    # A chdb path is opened once: after a failed open, chdb cannot be trusted to open again in the
    # same process, so a held path fails at once (the supervisor restarts the worker).
    return _retry(attempt, 0 if url.lower().startswith("chdb:") else wait_s)


def open_settings_store(settings: Settings, wait_s: float) -> ClickHouseTraceStore:
    """`open_store_waiting` for the store `settings` name (URL, retention, password setting)."""
    return open_store_waiting(
        settings.store_url,
        retention_days=settings.store.retention_days,
        wait_s=wait_s,
        password=settings.store.secret_password(),
    )
