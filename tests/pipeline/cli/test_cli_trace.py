"""`datatracing trace ID [--graph] [--critical-path]` against a query service over a chdb store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from datatracing.model import Resource, Span, SpanKind, Status, StatusCode
from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.broker import free_port
from datatracing.pipeline.cli import app
from datatracing.pipeline.query import create_app
from datatracing.pipeline.store import SpanBatch, open_store

BASE = (time.time_ns() // 10**9 - 1800) * 10**9
TRACE = "5b8efff798038103d269b633813fc60c"
MS = 1_000_000


def _span(n: int, start_ms: int, end_ms: int, parent: int | None, kind: SpanKind, service: str) -> Span:
    return Span(
        trace_id=TRACE,
        span_id=f"{n:016x}",
        parent_span_id=None if parent is None else f"{parent:016x}",
        name=f"step {n}",
        kind=kind,
        start_time_unix_nano=BASE + start_ms * MS,
        end_time_unix_nano=BASE + end_ms * MS,
        status=Status(code=StatusCode.ERROR) if n == 4 else Status(),
        resource=Resource(attributes={"service.name": service}),
    )


@pytest.fixture(scope="module")
def query_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A query service with the graph route, over a chdb store holding one pipeline trace."""
    store = open_store(
        "chdb://" + str(tmp_path_factory.mktemp("trace-cli-chdb")), database="c_" + uuid.uuid4().hex[:8]
    )
    store.migrate()
    store.insert(
        SpanBatch.from_spans(
            [
                _span(1, 0, 100, None, SpanKind.SERVER, "ingest-api"),
                _span(2, 10, 20, 1, SpanKind.PRODUCER, "ingest-api"),
                _span(3, 30, 90, 2, SpanKind.CONSUMER, "enricher"),
                _span(4, 40, 60, 3, SpanKind.CLIENT, "enricher"),
            ]
        )
    )
    api = create_app(store)
    with serve_in_thread(api) as url:
        yield url
    store.close()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["trace", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("bad", ["abc/", "?x=1", "xyz", "0", "1" * 33, "../stats"])
def test_trace_malformed_id_exits_2_with_one_line_on_stderr(bad: str) -> None:
    code, out, err = _run(bad, "--query-url", "http://127.0.0.1:9")

    assert code == 2
    assert out == ""
    assert err.startswith("error: trace id: ")
    assert err.count("\n") == 1


def test_trace_query_service_down_exits_1_with_one_line(tmp_path: object) -> None:
    code, out, err = _run("abc", "--query-url", f"http://127.0.0.1:{free_port()}")

    assert (code, out) == (1, "")
    assert err.startswith("error: query service at ")
    assert err.count("\n") == 1


def test_trace_unknown_id_exits_1_with_one_line(query_url: str) -> None:
    code, out, err = _run("f" * 32, "--query-url", query_url, "--graph")

    assert (code, out) == (1, "")
    assert err == f"error: trace {'f' * 32} not found\n"


def test_trace_default_prints_the_span_tree(query_url: str) -> None:
    code, out, err = _run(TRACE, "--query-url", query_url)

    assert (code, err) == (0, "")
    assert "4 spans" in out
    assert "step 4" in out
    assert "ERROR" in out


def test_trace_graph_prints_service_edges_and_summary(query_url: str) -> None:
    code, out, err = _run(TRACE, "--query-url", query_url, "--graph")

    assert (code, err) == (0, "")
    assert "service graph" in out
    assert "messaging" in out
    edge = next(line for line in out.splitlines() if "ingest-api" in line and "enricher" in line)
    assert "60.0ms" in edge  # the consumer span's duration
    summary = next(line for line in out.splitlines() if "ingest-api" in line and "100.0ms" in line)
    assert "2" in summary


def test_trace_critical_path_highlights_spans_and_lists_segments(query_url: str) -> None:
    code, out, err = _run(TRACE, "--query-url", query_url, "--critical-path")

    assert (code, err) == (0, "")
    assert "critical path 100.0ms in 3 segments" in " ".join(out.split())
    assert sum("on path" in line for line in out.splitlines()) == 2  # the server span and the producer
    assert "critical path segments" in out
    assert f"{2:016x}" in out.split("critical path segments")[1]
