"""The console, JSON lines, in-memory and OTLP/HTTP exporters."""

from __future__ import annotations

import gzip
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from datatracing.errors import UsageError
from datatracing.model import Span
from datatracing.sdk import (
    ConsoleSpanExporter,
    ExportResult,
    InMemorySpanExporter,
    JsonlFileSpanExporter,
    OtlpHttpSpanExporter,
    ReadableSpan,
    SimpleSpanProcessor,
    TracerProvider,
)
from datatracing.wire import decode_spans


def _ended_spans(count: int = 2) -> list[ReadableSpan]:
    collected = InMemorySpanExporter()
    spans: list[ReadableSpan] = []

    class Keep(SimpleSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            spans.append(span)

    provider = TracerProvider(service_name="exporters", shutdown_on_exit=False)
    provider.add_span_processor(Keep(collected))
    tracer = provider.get_tracer("t")
    for index in range(count):
        tracer.start_span(f"span{index}", attributes={"index": index}).end()
    return spans


def test_console_exporter_one_json_line_per_span() -> None:
    stream = io.StringIO()
    spans = _ended_spans()
    assert ConsoleSpanExporter(stream).export(spans) is ExportResult.SUCCESS
    lines = stream.getvalue().splitlines()
    assert [Span.model_validate_json(line) for line in lines] == [s.to_model() for s in spans]


def test_jsonl_exporter_appends_model_lines(tmp_path: Path) -> None:
    path = tmp_path / "out" / "spans.jsonl"
    path.parent.mkdir()
    exporter = JsonlFileSpanExporter(path)
    spans = _ended_spans(3)
    assert exporter.export(spans[:1]) is ExportResult.SUCCESS
    assert exporter.export(spans[1:]) is ExportResult.SUCCESS
    assert exporter.force_flush()
    exporter.shutdown()
    assert exporter.export(spans) is ExportResult.FAILURE
    lines = path.read_text().splitlines()
    assert lines == [s.to_model().model_dump_json() for s in spans]


def test_jsonl_exporter_unwritable_path_failure_not_raised(tmp_path: Path) -> None:
    exporter = JsonlFileSpanExporter(tmp_path / "missing-dir" / "spans.jsonl")
    assert exporter.export(_ended_spans(1)) is ExportResult.FAILURE


def test_in_memory_exporter_clear_and_shutdown() -> None:
    exporter = InMemorySpanExporter()
    spans = _ended_spans(2)
    exporter.export(spans)
    assert [s.name for s in exporter.get_finished_spans()] == ["span0", "span1"]
    exporter.clear()
    assert exporter.get_finished_spans() == []
    exporter.shutdown()
    assert exporter.export(spans) is ExportResult.FAILURE


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        type(self).received.append((self.path, headers, body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, type[_Collector]]]:
    handler = type("Handler", (_Collector,), {"received": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_otlp_http_exporter_posts_protobuf_to_v1_traces(
    collector: tuple[str, type[_Collector]], compression: str
) -> None:
    url, handler = collector
    spans = _ended_spans(3)
    exporter = OtlpHttpSpanExporter(url, headers={"x-tenant": "acme"}, compression=compression)  # type: ignore[arg-type]
    assert exporter.export(spans) is ExportResult.SUCCESS
    ((path, headers, body),) = handler.received
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-tenant"] == "acme"
    if compression == "gzip":
        body = gzip.decompress(body)
    assert decode_spans(body) == [s.to_model() for s in spans]


def test_otlp_http_exporter_bad_request_failure_without_retry(
    collector: tuple[str, type[_Collector]],
) -> None:
    url, handler = collector
    handler.status = 400
    assert OtlpHttpSpanExporter(url + "/v1/traces").export(_ended_spans(1)) is ExportResult.FAILURE
    assert len(handler.received) == 1


def test_otlp_http_exporter_unreachable_failure_within_timeout() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exporter = OtlpHttpSpanExporter(f"http://127.0.0.1:{port}", timeout_s=1.0)
    assert exporter.export(_ended_spans(1)) is ExportResult.FAILURE


def test_otlp_http_exporter_not_http_usage_error() -> None:
    with pytest.raises(UsageError):
        OtlpHttpSpanExporter("ftp://collector")


def test_console_exporter_non_utf8_bytes_failure_not_raised() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    spans: list[ReadableSpan] = []

    class Keep(SimpleSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            spans.append(span)

    provider.add_span_processor(Keep(InMemorySpanExporter()))
    provider.get_tracer("t").start_span("bin", attributes={"raw": b"\xff"}).end()
    stream = io.StringIO()
    assert ConsoleSpanExporter(stream).export(spans) is ExportResult.FAILURE
    assert stream.getvalue() == ""
