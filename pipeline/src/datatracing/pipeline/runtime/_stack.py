"""`datatracing up`: the embedded stack on one machine, supervised.

Processes: the tansu broker (memory storage), the sampler worker, and the store worker (sink + query
API; it owns the chdb data path). The supervisor restarts a worker that dies, writes
`data_dir/stack.json` once everything answers, and on SIGINT/SIGTERM stops the workers (SIGTERM, so
each stops consuming and commits only finished work) and then the broker.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

import httpx
import yaml

from datatracing.pipeline.broker import EmbeddedBroker, ensure_pipeline_topics
from datatracing.pipeline.config import Settings
from datatracing.pipeline.errors import PipelineError
from datatracing.pipeline.runtime._memory import BrokerMemoryWatch

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"
#: How often the supervisor reads the embedded broker's memory (`BrokerMemoryWatch`).
MEMORY_CHECK_S = 30.0


@dataclass(frozen=True)
class StackState:
    """What `datatracing up` started, for `down`, `demo` and `trace` to find."""

    supervisor_pid: int
    bootstrap_servers: str
    query_url: str
    data_dir: str


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def read_state(data_dir: Path) -> StackState | None:
    """The running stack's state, or None when none runs (a stale file is ignored)."""
    try:
        state = StackState(**json.loads(state_path(data_dir).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(state.supervisor_pid, 0)
    except OSError:
        return None
    return state


def wait_healthy(url: str, timeout_s: float) -> None:
    """Return once GET `url` answers 200; `PipelineError` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise PipelineError(f"{url} not healthy after {timeout_s:.0f}s")


class Stack:
    """Start, supervise and stop the embedded stack."""

    def __init__(
        self,
        settings: Settings,
        *,
        broker_port: int | None = 0,
        roles: tuple[str, ...] = ("store", "sampler"),
    ) -> None:
        """`broker_port=None` uses the broker in `settings.kafka` instead of starting tansu."""
        self.settings = settings
        self.broker_port = broker_port
        self.roles = roles
        self.logs = settings.data_dir / "logs"
        self.broker: EmbeddedBroker | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping = False

    def _write_worker_settings(self) -> Path:
        # Workers get the supervisor's resolved settings as a file, and no DATATRACING_* variables,
        # so what they run with is exactly what the supervisor decided (embedded broker address...).
        path = self.settings.data_dir / "worker-settings.yaml"
        values = self.settings.model_dump(mode="json", exclude_none=True)
        values["data_dir"] = str(self.settings.data_dir.resolve())
        values["store"]["url"] = self.settings.store_url
        path.write_text(yaml.safe_dump(values, sort_keys=True))
        return path

    def _spawn(self, role: str) -> None:
        settings_file = self._write_worker_settings()
        cmd = [
            sys.executable,
            "-m",
            "datatracing.pipeline.cli",
            "worker",
            role,
            "--config",
            str(settings_file),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATATRACING_")}
        with open(self.logs / f"{role}.log", "ab") as out:
            self.workers[role] = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        log.info("started %s worker (pid %d)", role, self.workers[role].pid)

    @property
    def metrics_url(self) -> str:
        """The sampler worker's Prometheus endpoint."""
        return f"http://127.0.0.1:{self.settings.worker.web_port}/metrics"

    @property
    def query_url(self) -> str:
        return f"http://{self.settings.query.host}:{self.settings.query.port}"

    def start(self, timeout_s: float = 90.0) -> StackState:
        self.logs.mkdir(parents=True, exist_ok=True)
        if read_state(self.settings.data_dir) is not None:
            raise PipelineError(f"a stack already runs with data dir {self.settings.data_dir}")
        if self.broker_port is not None:
            self.broker = EmbeddedBroker(self.broker_port, log_file=self.logs / "broker.log").start()
            kafka = self.settings.kafka.model_copy(
                update={"bootstrap_servers": self.broker.bootstrap_servers}
            )
            self.settings = self.settings.model_copy(update={"kafka": kafka})
        ensure_pipeline_topics(self.settings.kafka, self.settings.topics)
        for role in self.roles:
            self._spawn(role)
        if "store" in self.roles:
            wait_healthy(f"{self.query_url}/healthz", timeout_s)
        if "sampler" in self.roles:
            wait_healthy(self.metrics_url, timeout_s)
        bootstrap = self.settings.kafka.bootstrap_servers
        state = StackState(os.getpid(), bootstrap, self.query_url, str(self.settings.data_dir))
        state_path(self.settings.data_dir).write_text(json.dumps(asdict(state)))
        return state

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %d, stopping", signum)
        self._stopping = True

    def supervise(self) -> None:
        """Block until SIGINT/SIGTERM, restarting workers that die and warning as the embedded
        broker's memory grows; then stop everything."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        watch = BrokerMemoryWatch(self.broker.pid) if self.broker is not None and self.broker.pid else None
        checked = time.monotonic()
        try:
            while not self._stopping:
                for role, proc in list(self.workers.items()):
                    if proc.poll() is not None and not self._stopping:
                        log.warning("%s worker exited with %s; restarting", role, proc.returncode)
                        self._spawn(role)
                if watch is not None and time.monotonic() - checked >= MEMORY_CHECK_S:
                    checked = time.monotonic()
                    warning = watch.check()
                    if warning is not None:
                        log.warning("%s", warning)
                time.sleep(0.5)
        finally:
            self.stop()

    def stop(self, timeout_s: float = 30.0) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.workers.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.workers.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        state_path(self.settings.data_dir).unlink(missing_ok=True)
