"""Start-up of the long-running commands when a dependency is unreachable, with real components.

Each case runs `datatracing` as a user does (a subprocess): a chdb data path another process holds,
a `clickhouse://` URL at a closed local port, a Kafka bootstrap at a closed port. What the user must
see: one line on stderr naming what could not be reached (never the password) and exit code 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from datatracing.pipeline.broker import free_port

_HOLD = """
import sys, time, chdb
conn = chdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
conn.close()
"""


def _cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datatracing.pipeline.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        timeout=timeout,
        check=False,
    )


def _closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


@pytest.fixture
def held_chdb_path(tmp_path: Path) -> Iterator[Path]:
    """A chdb data path opened by another process for the duration of the test."""
    path = tmp_path / "held"
    path.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()  # blocks until the holder has the path open (or dies)
        assert line.strip() == "holding", "holder did not start"
        yield path
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_worker_store_chdb_path_held_by_another_process_exits_1_one_line(held_chdb_path: Path) -> None:
    result = _cli(
        "worker",
        "store",
        "--startup-wait",
        "5",
        env={
            "DATATRACING_STORE__URL": f"chdb://{held_chdb_path}",
            "DATATRACING_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port()}",
        },
    )

    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot open the store at chdb://{held_chdb_path}: ")
    assert "lock" in lines[0].lower()


def test_query_clickhouse_at_closed_port_exits_1_naming_url_without_password() -> None:
    port = _closed_port()
    result = _cli(
        "query",
        "--startup-wait",
        "0",
        env={"DATATRACING_STORE__URL": f"clickhouse://analyst:hunter2@127.0.0.1:{port}/traces"},
    )

    assert result.returncode == 1
    shown = f"clickhouse://analyst:***@127.0.0.1:{port}/traces"
    assert result.stderr.strip().splitlines() == [
        f"error: cannot open the store at {shown}: Connection refused"
    ]
    assert "hunter2" not in result.stdout + result.stderr


def test_query_clickhouse_unreachable_retries_for_startup_wait_then_exits_1() -> None:
    port = _closed_port()
    result = _cli(
        "query",
        "--startup-wait",
        "1",
        env={"DATATRACING_STORE__URL": f"clickhouse://default:pw@127.0.0.1:{port}"},
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert all("retrying in" in line for line in lines[:-1]), result.stderr  # warnings while it waits
    assert lines[-1] == (
        f"error: cannot open the store at clickhouse://default:***@127.0.0.1:{port}: Connection refused "
        "(retried for 1s)"
    )
    assert "pw@" not in result.stderr


@pytest.mark.parametrize("command", [("ingest",), ("worker", "sampler"), ("worker", "sink")])
def test_command_kafka_bootstrap_at_closed_port_exits_1_one_line(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    result = _cli(
        *command,
        "--startup-wait",
        "0",
        env={
            "DATATRACING_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "DATATRACING_DATA_DIR": str(tmp_path / "data"),
        },
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot reach Kafka at {bootstrap}: Connection refused"
    ]


def test_worker_unknown_role_exits_2_one_line() -> None:
    result = _cli("worker", "janitor", env={})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: role: expected sampler, store or sink, got 'janitor'"
    ]
