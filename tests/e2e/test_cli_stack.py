"""README command 1, as a user runs it: `up --detach`, `demo`, `trace ID`, HTTP lookup, `down`."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from datatracing.pipeline.broker import free_port


def _cli(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datatracing.pipeline.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_cli_up_demo_trace_down_ids_come_back(tmp_path: Path) -> None:
    env = {**os.environ, "DATATRACING_WORKER__WEB_PORT": str(free_port()), "COLUMNS": "200"}
    query_port = str(free_port())
    data_dir = str(tmp_path / "stack")
    up = _cli(
        "up", "--detach", "--data-dir", data_dir, "--broker-port", "0", "--query-port", query_port, env=env
    )
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        demo = _cli("demo", "--data-dir", data_dir, "--traces", "4", env=env)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        ids = re.findall(r"\b[0-9a-f]{32}\b", demo.stdout)
        assert len(set(ids)) >= 4
        for trace_id in set(ids):
            response = httpx.get(f"http://127.0.0.1:{query_port}/v1/traces/{trace_id}", timeout=10)
            assert response.status_code == 200
            assert response.json()["data"]["trace_id"] == trace_id
        shown = _cli("trace", ids[0], "--data-dir", data_dir, env=env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert ids[0] in shown.stdout
        assert "POST /v1/orders" in shown.stdout
    finally:
        down = _cli("down", "--data-dir", data_dir, env=env)
    assert down.returncode == 0
    assert not (Path(data_dir) / "stack.json").exists()


def test_cli_bad_option_exits_2_naming_field() -> None:
    result = _cli("up", "--query-port", "abc", env=dict(os.environ))
    assert result.returncode == 2
    assert "--query-port" in result.stderr


def test_cli_bad_environment_setting_exits_2_one_line() -> None:
    env = {**os.environ, "DATATRACING_KAFKA__SESSION_TIMEOUT_MS": "5"}
    result = _cli("demo", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: environment: kafka.session_timeout_ms: Input should be greater than or equal to 1000"
    ]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 to anything and records the path: a bad id must never get here."""

    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("bad", ["not-hex", "abc/", "?x=1", "../stats"])
def test_cli_trace_bad_id_exits_2_without_any_request(bad: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = _cli("trace", bad, "--query-url", url, env=dict(os.environ))
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: trace id: {bad!r} is not 1-32 hex characters, non-zero"]
    assert _Recorder.paths == []  # refused before any request


def test_cli_unknown_bench_suite_exits_2() -> None:
    result = _cli("bench", "nope", env=dict(os.environ))
    assert result.returncode == 2
    assert "suite" in result.stderr
