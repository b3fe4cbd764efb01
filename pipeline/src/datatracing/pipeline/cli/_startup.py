"""Start-up checks of the long-running commands: is the store open-able, is the broker reachable?

A worker that starts before its store or broker (a compose file starting everything at once) retries
with backoff for at most `--startup-wait` seconds, then stops with one line naming what it could not
reach (the store URL with its password masked, the Kafka bootstrap servers) and exit code 1.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from datatracing.errors import TransientError
from datatracing.pipeline.cli._base import one_line, redact
from datatracing.pipeline.errors import BrokerUnavailableError, StoreUnavailableError
from datatracing.pipeline.store import ClickHouseTraceStore, open_store

__all__ = ["StartupWaitOpt", "open_store_waiting", "wait_for_kafka"]

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


def _retry(attempt: Callable[[], T], what: str, wait_s: float) -> T:
    """`attempt()` until it stops raising `TransientError` or `wait_s` have passed (then re-raise)."""
    deadline = time.monotonic() + wait_s
    delay = _FIRST_DELAY_S
    while True:
        try:
            return attempt()
        except TransientError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            log.warning("%s: %s; retrying in %.1fs", what, one_line(exc), min(delay, left))
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
    _retry(lambda: _connect_any(bootstrap_servers), "Kafka", wait_s)


def open_store_waiting(url: str, *, retention_days: int, wait_s: float) -> ClickHouseTraceStore:
    """`open_store(url)` retried while the store is unavailable (a chdb path another process holds, a
    ClickHouse server not answering); raise `StoreUnavailableError` naming the URL (password masked)
    after `wait_s` seconds. Settings errors (`ConfigError`) are raised at once."""
    shown = redact(url)

    def attempt() -> ClickHouseTraceStore:
        try:
            return open_store(url, retention_days=retention_days)
        except StoreUnavailableError as exc:
            raise StoreUnavailableError(f"cannot open the store at {shown}: {one_line(exc)}") from exc

    return _retry(attempt, "store", wait_s)
