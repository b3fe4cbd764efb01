"""`datatracing trace ID`: fetch a trace from the query service and print its span tree."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.tree import Tree

from datatracing.model import Span, StatusCode, Trace


def _label(span: Span, trace_start: int) -> str:
    offset_ms = (span.start_time_unix_nano - trace_start) / 1e6
    duration_ms = span.duration_ns / 1e6
    error = " [bold red]ERROR[/]" if span.status.code is StatusCode.ERROR else ""
    return (
        f"[cyan]{span.service_name}[/] {span.name} "
        f"[dim]+{offset_ms:.1f}ms[/] [bold]{duration_ms:.1f}ms[/]{error} [dim]{span.span_id}[/]"
    )


def render_tree(trace: Trace) -> Tree:
    """A rich Tree of the spans, children under parents (orphans under the trace node), by start."""
    start = trace.start_time_unix_nano
    root = Tree(
        f"trace [bold]{trace.trace_id}[/] {len(trace.spans)} spans, {trace.duration_ns / 1e6:.1f}ms, "
        f"services: {', '.join(trace.services)}"
    )
    ids = {s.span_id for s in trace.spans}
    children: dict[str | None, list[Span]] = {}
    for span in trace.spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)

    def add(node: Tree, parent: str | None) -> None:
        for span in children.get(parent, []):
            add(node.add(_label(span, start)), span.span_id)

    add(root, None)
    return root


def print_trace(query_url: str, trace_id: str, console: Console | None = None) -> int:
    """Print the tree; returns the process exit code (0 found, 1 not found or unreachable, 2 bad id)."""
    out = console or Console()
    try:
        response = httpx.get(f"{query_url}/v1/traces/{trace_id}", timeout=10)
    except httpx.HTTPError as exc:
        out.print(f"[red]error:[/] query service at {query_url} unreachable: {exc}")
        return 1
    body: dict[str, Any] = response.json()
    if response.status_code != 200:
        out.print(f"[red]error:[/] {body.get('error', {}).get('message', response.text)}")
        return 2 if response.status_code == 400 else 1
    out.print(render_tree(Trace.model_validate(body["data"])))
    return 0
