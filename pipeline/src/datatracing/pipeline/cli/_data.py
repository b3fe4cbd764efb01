"""`datatracing trace`, `export`, `import` and `sql`: reading and writing traces of a running pipeline.

Lookups go through the query service over HTTP (the process that owns the store), so they work
while the stack runs; import goes through the `sampled-spans` topic.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from datatracing.pipeline.cli._base import (
    EXIT_FAILURE,
    ConfigOpt,
    DataDirOpt,
    fail,
    query_url_for,
    settings_from,
)

__all__ = ["export_cmd", "import_cmd", "sql", "trace"]

QueryUrlOpt = Annotated[str | None, typer.Option(help="Query service URL.")]


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
    query_url: QueryUrlOpt = None,
) -> None:
    """Print a trace's span tree, its service graph (--graph) or its critical path (--critical-path).

    Exit 1 when the trace is not found or the query service is unreachable or failing, 2 for a
    malformed id (checked before any request).
    """
    from datatracing.pipeline.cli._trace import print_trace

    settings = settings_from(config, data_dir=data_dir)
    url = query_url_for(settings, query_url)
    raise typer.Exit(print_trace(url, trace_id, graph=graph, critical_path=critical_path))


def export_cmd(
    trace_ids: Annotated[list[str] | None, typer.Argument(help="Trace ids; none: a search instead.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSONL file (default: stdout).")] = None,
    service: Annotated[str | None, typer.Option(help="Search: service.")] = None,
    operation: Annotated[str | None, typer.Option(help="Search: operation.")] = None,
    max_traces: Annotated[int, typer.Option(min=1, help="Search: at most this many traces.")] = 1000,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    query_url: QueryUrlOpt = None,
) -> None:
    """Export traces (by id, or a search) as JSONL, one span per line, through the query service.

    Exit 1 when a requested trace is not found or the query service is unreachable.
    """
    from datatracing.pipeline.cli._io import export_traces
    from datatracing.pipeline.store import TraceQuery

    settings = settings_from(config, data_dir=data_dir)
    query = None if trace_ids else TraceQuery(service=service, operation=operation, limit=100)
    stream = open(out, "w") if out else sys.stdout  # noqa: SIM115 - closed below when a file
    try:
        summary = export_traces(
            query_url_for(settings, query_url),
            stream,
            trace_ids=trace_ids or (),
            query=query,
            max_traces=max_traces,
        )
    finally:
        if out:
            stream.close()
    typer.echo(f"exported {summary.traces} traces, {summary.spans} spans", err=True)
    if summary.missing:
        fail(f"not found: {', '.join(summary.missing[:10])}", EXIT_FAILURE)


def import_cmd(
    path: Annotated[Path, typer.Argument(help="JSONL file of spans (model JSON, one per line).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Import JSONL spans through the `sampled-spans` topic (the store worker writes them).

    Lines that are not spans are skipped and listed; exit 1 when no line is a span or Kafka is
    unreachable.
    """
    from datatracing.pipeline.cli._io import KafkaTarget, import_jsonl
    from datatracing.pipeline.cli._startup import wait_for_kafka
    from datatracing.pipeline.runtime import read_state

    settings = settings_from(config, data_dir=data_dir)
    state = read_state(settings.data_dir)
    bootstrap = state.bootstrap_servers if state else settings.kafka.bootstrap_servers
    if not path.is_file():
        fail(f"path: {path} is not a file")
    wait_for_kafka(bootstrap, 0)
    summary = import_jsonl(
        path,
        KafkaTarget(bootstrap, settings.topics.sampled, settings.kafka.producer, settings.kafka.security),
    )
    if summary.spans == 0:
        if summary.bad_lines:
            line, reason = summary.bad_lines[0]
            fail(f"{path}: no valid span; line {line}: {reason}", EXIT_FAILURE)
        fail(f"{path}: no span in the file", EXIT_FAILURE)
    typer.echo(
        f"imported {summary.spans} spans in {summary.batches} batches; {len(summary.bad_lines)} bad lines"
    )
    for line, reason in summary.bad_lines[:10]:
        typer.echo(f"  line {line}: {reason}", err=True)


def sql(
    statement: Annotated[str, typer.Argument(help="One SELECT or WITH query; tables: datatracing.spans...")],
    output: Annotated[
        Literal["table", "csv", "json"], typer.Option("--format", help="table, csv or json (one object).")
    ] = "table",
    max_rows: Annotated[
        int | None, typer.Option(min=1, help="At most this many rows (the service's default: 10,000).")
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    query_url: QueryUrlOpt = None,
) -> None:
    """Run one read-only SQL query on the store, through the query service (`POST /v1/sql`).

    Exit 1 when the query service is unreachable or the store is down, 2 when the query is refused
    (bad SQL, a write, over the row or time limit).
    """
    from datatracing.pipeline.cli._sql import print_result, run_sql

    settings = settings_from(config, data_dir=data_dir)
    result = run_sql(query_url_for(settings, query_url), statement, max_rows=max_rows)
    print_result(result, output)
