"""`datatracing`: run the embedded stack, the workers, the demo, lookups, SQL and benchmarks.

The commands live by job: `_stack` (up, down), `_processes` (worker, query, ingest), `_data`
(trace, export, import, sql); migrate, demo, bench and the sampler tools are here. Errors and exit
codes are the same for all (see `_base`): 0 done, 1 runtime failure, 2 usage error, one line on
stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datatracing.errors import UsageError
from datatracing.pipeline.cli._auth import auth_app
from datatracing.pipeline.cli._base import (
    EXIT_CODES_HELP,
    ConfigOpt,
    DataDirOpt,
    GuardedGroup,
    fail,
    settings_from,
)
from datatracing.pipeline.cli._base import query_url_for as _query_url
from datatracing.pipeline.cli._data import export_cmd, import_cmd, sql, trace
from datatracing.pipeline.cli._processes import ingest, query, worker
from datatracing.pipeline.cli._stack import down, up
from datatracing.pipeline.errors import PipelineError

app = typer.Typer(
    cls=GuardedGroup,
    add_completion=False,
    no_args_is_help=True,
    help="DataTracing: tail-sampled tracing for data pipelines.",
    epilog=EXIT_CODES_HELP,
)

app.command()(up)
app.command()(down)
app.command()(worker)
app.command()(query)
app.command()(ingest)


@app.command()
def migrate(
    config: ConfigOpt = None,
    store_url: Annotated[str | None, typer.Option(help="Store URL.")] = None,
    status: Annotated[
        bool,
        typer.Option(
            "--status", help="List applied and pending migrations and the retention; change nothing."
        ),
    ] = False,
) -> None:
    """Apply the schema migrations (and a changed retention) to the store, one migrator at a time."""
    from datatracing.pipeline.store import open_store

    settings = settings_from(config, store={"url": store_url} if store_url else None)
    try:
        store = open_store(
            settings.store_url,
            retention_days=settings.store.retention_days,
            password=settings.store.secret_password(),
        )
        try:
            report = store.migration_status().lines() if status else None
            applied = [] if status else store.migrate()
        finally:
            store.close()
    except PipelineError as exc:
        fail(str(exc), code=1)
    if report is not None:
        typer.echo(f"database {store.database}")
        for line in report:
            typer.echo(line)
        return
    typer.echo(f"applied: {', '.join(applied)}" if applied else "schema up to date")


app.command()(trace)


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


_DURATION_HELP = (
    "e2e: seconds of load (default 60): each step lasts a sixth of it; from 600 on, 10 s steps, then "
    "a soak at half the highest sustained rate for the rest."
)
_KAFKA_HELP = (
    "e2e: bootstrap servers (host:port, plaintext) of a Kafka cluster to run against instead of the "
    "embedded broker, whose memory storage keeps every record (a long soak needs a broker with "
    "retention). The run uses topics and consumer groups of its own and deletes its topics at the end."
)
_RATE_HELP = (
    "e2e: one step at this many spans/s for the whole --duration (no ladder, no soak): CPU per span "
    "of each process, latency, lag and RSS at a fixed load, to compare two versions or settings."
)


@app.command()
def bench(
    suite: Annotated[str, typer.Argument(help="e2e | sink | sampler | store | query | sdk")],
    quick: Annotated[bool, typer.Option(help="Smaller run for a quick look.")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Also print one JSON object on the last line.")
    ] = False,
    size: Annotated[int | None, typer.Option(min=1, help="Suite size (spans), where it applies.")] = None,
    duration: Annotated[float | None, typer.Option(min=1, help=_DURATION_HELP)] = None,
    kafka: Annotated[str | None, typer.Option(help=_KAFKA_HELP)] = None,
    rate: Annotated[float | None, typer.Option(min=1, help=_RATE_HELP)] = None,
) -> None:
    """Run a benchmark suite and print its figures."""
    from datatracing.pipeline.bench import check_kafka_option, run_suite
    from datatracing.pipeline.cli._startup import wait_for_kafka

    try:
        if kafka is not None:
            check_kafka_option(suite, kafka)
            wait_for_kafka(kafka, 0)  # one line and exit 1 when nothing answers, before any setup
        run_suite(suite, quick=quick, json_out=json_out, size=size, duration=duration, kafka=kafka, rate=rate)
    except UsageError as exc:
        fail(str(exc))


app.command("export")(export_cmd)
app.command("import")(import_cmd)
app.command()(sql)


sampler_app = typer.Typer(no_args_is_help=True, help="Tail-sampler tools.")
app.add_typer(sampler_app, name="sampler")
app.add_typer(auth_app, name="auth")


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


for _info in [*app.registered_commands, *sampler_app.registered_commands]:
    _info.epilog = _info.epilog or EXIT_CODES_HELP


def main() -> None:
    app()
