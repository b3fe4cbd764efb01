"""`datatracing up` and `down`: the embedded stack, in the foreground or detached."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from datatracing.pipeline.cli._base import (
    EXIT_FAILURE,
    ConfigOpt,
    DataDirOpt,
    fail,
    settings_from,
    setup_logging,
)

__all__ = ["down", "up"]


def up(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    broker_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Embedded broker port (0: any).")
    ] = 19092,
    query_port: Annotated[int | None, typer.Option(min=0, max=65535, help="Query API port (0: any).")] = None,
    policy: Annotated[Path | None, typer.Option(help="Sampling policy file (YAML/JSON).")] = None,
    detach: Annotated[bool, typer.Option(help="Start in the background and return once ready.")] = False,
) -> None:
    """Start the embedded stack: broker, sampler worker, store worker with the query API."""
    from datatracing.pipeline.runtime import Stack, read_state

    overrides: dict[str, Any] = {"data_dir": data_dir, "policy_file": policy}
    if query_port is not None:
        from datatracing.pipeline.broker import free_port

        overrides["query"] = {"port": query_port or free_port()}
    settings = settings_from(config, **overrides)
    if settings.policy_file is not None:
        from datatracing.pipeline.sampler import load_policy_file

        load_policy_file(settings.policy_file)  # refuse to start the stack on an invalid file
    if detach:
        running = read_state(settings.data_dir)
        if running is not None:
            typer.echo(f"stack already up: broker {running.bootstrap_servers}, query {running.query_url}")
            return
        args = [sys.executable, "-m", "datatracing.pipeline.cli", "up", "--broker-port", str(broker_port)]
        args += ["--data-dir", str(settings.data_dir), "--query-port", str(settings.query.port)]
        if config is not None:
            args += ["--config", str(config)]
        if policy is not None:
            args += ["--policy", str(policy)]
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(settings.data_dir / "up.log", "ab") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while (state := read_state(settings.data_dir)) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                fail(f"the stack did not start; see {settings.data_dir / 'up.log'}", EXIT_FAILURE)
            time.sleep(0.2)
        typer.echo(f"stack up: broker {state.bootstrap_servers}, query {state.query_url}")
        return
    setup_logging("info")
    stack = Stack(settings, broker_port=broker_port)
    try:
        state = stack.start()
    except BaseException:
        stack.stop()
        raise
    typer.echo(f"stack up: broker {state.bootstrap_servers}, query {state.query_url}; Ctrl-C stops it")
    stack.supervise()


def down(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Stop the stack started by `up --detach`."""
    from datatracing.pipeline.runtime import read_state

    settings = settings_from(config, data_dir=data_dir)
    state = read_state(settings.data_dir)
    if state is None:
        typer.echo("no stack running")
        return
    os.kill(state.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while read_state(settings.data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    typer.echo("stack stopped")
