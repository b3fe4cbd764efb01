"""`datatracing`: run the embedded stack, the workers, the demo, lookups and benchmarks.

Bad arguments or settings print one line naming the bad field and exit with code 2.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from datatracing.errors import UsageError
from datatracing.pipeline.config import Settings, load_settings
from datatracing.pipeline.errors import PipelineError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="DataTracing: tail-sampled tracing for data pipelines."
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file.", envvar="DATATRACING_CONFIG")
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded stack keeps its data.")
]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except UsageError as exc:
        fail(str(exc))


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _query_url(settings: Settings, explicit: str | None) -> str:
    from datatracing.pipeline.runtime import read_state

    if explicit:
        return explicit.rstrip("/")
    state = read_state(settings.data_dir)
    if state is not None:
        return state.query_url
    return f"http://{settings.query.host}:{settings.query.port}"


@app.command()
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

        try:
            load_policy_file(settings.policy_file)  # refuse to start the stack on an invalid file
        except UsageError as exc:
            fail(str(exc))
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
                fail(f"the stack did not start; see {settings.data_dir / 'up.log'}", code=1)
            time.sleep(0.2)
        typer.echo(f"stack up: broker {state.bootstrap_servers}, query {state.query_url}")
        return
    _setup_logging("info")
    stack = Stack(settings, broker_port=broker_port)
    try:
        state = stack.start()
    except (PipelineError, OSError) as exc:
        stack.stop()
        fail(str(exc), code=1)
    typer.echo(f"stack up: broker {state.bootstrap_servers}, query {state.query_url}; Ctrl-C stops it")
    stack.supervise()


@app.command()
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


@app.command()
def worker(
    role: Annotated[str, typer.Argument(help="sampler | store | sink")],
    config: ConfigOpt = None,
) -> None:
    """Run one worker process (settings from the environment and --config)."""
    from datatracing.pipeline.runtime.workers import run_sampler_worker, run_store_worker

    settings = settings_from(config)
    if role not in ("sampler", "store", "sink"):
        fail(f"role: expected sampler, store or sink, got {role!r}")
    _setup_logging(settings.worker.log_level)
    try:
        if role == "sampler":
            run_sampler_worker(settings)
        else:
            run_store_worker(settings, with_query=role == "store")
    except UsageError as exc:  # an invalid policy file, a bad store URL...
        fail(str(exc))


@app.command()
def query(config: ConfigOpt = None) -> None:
    """Run the query service alone (for a ClickHouse server; with chdb the store worker hosts it)."""
    import uvicorn

    from datatracing.pipeline.query import create_app
    from datatracing.pipeline.store import open_store

    settings = settings_from(config)
    _setup_logging(settings.worker.log_level)
    if settings.store_url.startswith("chdb:"):
        fail("store.url: the query service alone needs a ClickHouse server; chdb is served by `worker store`")
    store = open_store(settings.store_url, retention_days=settings.store.retention_days)
    try:
        uvicorn.run(
            create_app(store, max_limit=settings.query.max_limit),
            host=settings.query.host,
            port=settings.query.port,
            log_level=settings.worker.log_level,
        )
    finally:
        store.close()


@app.command()
def ingest(config: ConfigOpt = None) -> None:
    """Run the OTLP/HTTP ingest gateway (`POST /v1/traces`, protobuf or JSON) into the spans topic."""
    from datatracing.pipeline.ingest import run_ingest

    settings = settings_from(config)
    _setup_logging(settings.worker.log_level)
    run_ingest(settings.ingest, settings.kafka, settings.topics, log_level=settings.worker.log_level)


@app.command()
def migrate(
    config: ConfigOpt = None, store_url: Annotated[str | None, typer.Option(help="Store URL.")] = None
) -> None:
    """Apply the schema migrations to the store."""
    from datatracing.pipeline.store import open_store

    settings = settings_from(config, store={"url": store_url} if store_url else None)
    try:
        store = open_store(settings.store_url, retention_days=settings.store.retention_days)
        applied = store.migrate()
        store.close()
    except PipelineError as exc:
        fail(str(exc), code=1)
    typer.echo(f"applied: {', '.join(applied)}" if applied else "schema up to date")


@app.command()
def trace(
    trace_id: Annotated[str, typer.Argument(help="Trace id (1-32 hex characters).")],
    graph: Annotated[
        bool, typer.Option("--graph", help="Print the service graph and the per-service summary.")
    ] = False,
    critical_path: Annotated[
        bool,
        typer.Option("--critical-path", help="Print the span tree with the critical path, and its segments."),
    ] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    query_url: Annotated[str | None, typer.Option(help="Query service URL.")] = None,
) -> None:
    """Print a trace's span tree, its service graph (--graph) or its critical path (--critical-path).

    Exit codes: 0 printed, 1 trace not found or query service unreachable/failing, 2 bad trace id.

    Errors are one line on stderr.
    """
    from datatracing.pipeline.cli._trace import print_trace

    settings = settings_from(config, data_dir=data_dir)
    url = _query_url(settings, query_url)
    raise typer.Exit(print_trace(url, trace_id, graph=graph, critical_path=critical_path))


@app.command()
def demo(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    traces: Annotated[int, typer.Option(min=1, max=100_000, help="How many traces to emit.")] = 40,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the traces to be queryable.")
    ] = 120,
) -> None:
    """Emit realistic pipeline traffic through the SDK, wait until it is queryable, print a summary."""
    from datatracing.pipeline.cli._demo import run_demo
    from datatracing.pipeline.runtime import read_state

    settings = settings_from(config, data_dir=data_dir)
    state = read_state(settings.data_dir)
    bootstrap = state.bootstrap_servers if state else settings.kafka.bootstrap_servers
    raise typer.Exit(run_demo(bootstrap, settings.topics.spans, _query_url(settings, None), traces, timeout))


@app.command()
def bench(
    suite: Annotated[str, typer.Argument(help="e2e | sink | sampler | store | query | sdk")],
    quick: Annotated[bool, typer.Option(help="Smaller run for a quick look.")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Also print one JSON object on the last line.")
    ] = False,
    size: Annotated[int | None, typer.Option(min=1, help="Suite size (spans), where it applies.")] = None,
    duration: Annotated[float | None, typer.Option(min=1, help="e2e: seconds of load (default 60).")] = None,
) -> None:
    """Run a benchmark suite and print its figures."""
    from datatracing.pipeline.bench import run_suite

    try:
        run_suite(suite, quick=quick, json_out=json_out, size=size, duration=duration)
    except UsageError as exc:
        fail(str(exc))


@app.command("export")
def export_cmd(
    trace_ids: Annotated[list[str] | None, typer.Argument(help="Trace ids; none: a search instead.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSONL file (default: stdout).")] = None,
    service: Annotated[str | None, typer.Option(help="Search: service.")] = None,
    operation: Annotated[str | None, typer.Option(help="Search: operation.")] = None,
    max_traces: Annotated[int, typer.Option(min=1, help="Search: at most this many traces.")] = 1000,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    query_url: Annotated[str | None, typer.Option(help="Query service URL.")] = None,
) -> None:
    """Export traces (by id, or a search) as JSONL, one span per line, through the query service."""
    from datatracing.pipeline.cli._io import export_traces
    from datatracing.pipeline.store import TraceQuery

    settings = settings_from(config, data_dir=data_dir)
    query = None if trace_ids else TraceQuery(service=service, operation=operation, limit=100)
    stream = open(out, "w") if out else sys.stdout  # noqa: SIM115 - closed below when a file
    try:
        summary = export_traces(
            _query_url(settings, query_url),
            stream,
            trace_ids=trace_ids or (),
            query=query,
            max_traces=max_traces,
        )
    except (PipelineError, OSError) as exc:
        fail(str(exc), code=1)
    finally:
        if out:
            stream.close()
    typer.echo(f"exported {summary.traces} traces, {summary.spans} spans", err=True)
    if summary.missing:
        fail(f"not found: {', '.join(summary.missing[:10])}", code=1)


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="JSONL file of spans (model JSON, one per line).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Import JSONL spans through the `sampled-spans` topic (the store worker writes them)."""
    from datatracing.pipeline.cli._io import KafkaTarget, import_jsonl
    from datatracing.pipeline.runtime import read_state

    settings = settings_from(config, data_dir=data_dir)
    state = read_state(settings.data_dir)
    bootstrap = state.bootstrap_servers if state else settings.kafka.bootstrap_servers
    if not path.is_file():
        fail(f"path: {path} is not a file")
    try:
        summary = import_jsonl(path, KafkaTarget(bootstrap, settings.topics.sampled, settings.kafka.producer))
    except PipelineError as exc:
        fail(str(exc), code=1)
    typer.echo(
        f"imported {summary.spans} spans in {summary.batches} batches; {len(summary.bad_lines)} bad lines"
    )
    for line, reason in summary.bad_lines[:10]:
        typer.echo(f"  line {line}: {reason}", err=True)


sampler_app = typer.Typer(no_args_is_help=True, help="Tail-sampler tools.")
app.add_typer(sampler_app, name="sampler")


@sampler_app.command("replay")
def sampler_replay(
    policy: Annotated[Path, typer.Option(help="Candidate policy file (YAML/JSON).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run a candidate policy over the retained spans topic and compare with the recorded decisions."""
    import json

    from rich.console import Console
    from rich.table import Table

    from datatracing.pipeline.runtime import read_state
    from datatracing.pipeline.sampler import load_policy_file, replay

    settings = settings_from(config, data_dir=data_dir)
    state = read_state(settings.data_dir)
    if state is not None:
        kafka = settings.kafka.model_copy(update={"bootstrap_servers": state.bootstrap_servers})
        settings = settings.model_copy(update={"kafka": kafka})
    try:
        candidate = load_policy_file(policy)
        report = replay(settings, candidate).as_dict()
    except UsageError as exc:
        fail(str(exc))
    except PipelineError as exc:
        fail(str(exc), code=1)
    if json_out:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    table = Table(title=f"replay of {policy} (version {candidate.version})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in report.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    Console().print(table)


def main() -> None:
    app()
