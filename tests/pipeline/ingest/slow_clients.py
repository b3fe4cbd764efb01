"""Raw-socket clients of the ingest tests: half-sent requests, answers read to the end, captured logs."""

from __future__ import annotations

import contextlib
import logging
import resource
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def request_head(
    length: int, content_type: str = "application/x-protobuf", path: str = "/v1/traces"
) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: ingest\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def open_sockets(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    """`count` connections to the gateway, each having sent `first_bytes` (possibly nothing)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sockets.append(sock)
            if first_bytes:
                sock.sendall(first_bytes)
    except BaseException:
        close_all(sockets)
        raise
    return sockets


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def read_until_closed(sockets: list[socket.socket], timeout_s: float) -> list[bytes | None]:
    """What the server wrote on each socket until it closed it; None where it was still open at the
    deadline."""
    received = [b""] * len(sockets)
    done: list[bool] = [False] * len(sockets)
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(sockets):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        deadline = time.monotonic() + timeout_s
        remaining = len(sockets)
        while remaining and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.1):
                index = key.data
                try:
                    chunk = sockets[index].recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[index] += chunk
                    continue
                done[index] = True
                remaining -= 1
                selector.unregister(sockets[index])
    return [data if finished else None for data, finished in zip(received, done, strict=True)]


def wait_until(condition: Callable[[], bool], timeout_s: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def enough_open_files(needed: int) -> None:
    """Raise this process's soft limit of open files to `needed` (skip when the hard limit is lower)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)


@contextlib.contextmanager
def captured_logs() -> Iterator[_Records]:
    """Every record reaching the root logger or uvicorn's (which does not propagate to the root),
    formatted with its traceback if it has one. Enter it once the server is configured: uvicorn's
    logging configuration replaces the handlers of its loggers."""
    handler = _Records()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
