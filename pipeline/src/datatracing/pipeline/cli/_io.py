"""Export traces to JSONL and import JSONL back: one span per line as model JSON (`Span.model_dump_json`).

The format is the SDK's `JsonlFileSpanExporter` format, so its files import too. Model JSON holds
bytes attributes as text: bytes that are not UTF-8 cannot be exported, and imported ones come back
as strings.

Export reads from a store or from the query service (`http[s]://...`, for a running stack: its
embedded chdb is open in the store worker, and one process only may open a chdb path).

Import writes either straight into a store (a ClickHouse server, or a chdb path no running stack
holds) or, by default in the CLI, to the `sampled-spans` topic of a running pipeline: past the tail
sampler, so every imported span is kept, with the audit `policy=import`. Both are idempotent per file:
direct inserts carry a token derived from the file content and batch, and spans replayed through
Kafka collapse in the store like any replay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import ValidationError

from datatracing.model import Span, Trace
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.broker import make_producer
from datatracing.pipeline.cli._base import QueryServiceError, api_key_headers
from datatracing.pipeline.config import KafkaSecuritySettings
from datatracing.pipeline.errors import BrokerUnavailableError, ConfigError
from datatracing.pipeline.store import SpanBatch, TraceQuery, TraceStore
from datatracing.wire import encode_spans, trace_key

__all__ = [
    "IMPORT_AUDIT",
    "ExportSummary",
    "ImportSummary",
    "KafkaTarget",
    "export_traces",
    "import_jsonl",
]

#: The audit stamped on imported spans (sampling did not choose them).
IMPORT_AUDIT = SamplingAudit(policy="import", policy_version="", sample_rate=1.0)
_MAX_BAD_LINES = 100


@dataclass(frozen=True)
class ExportSummary:
    """Traces and spans written; requested trace ids that were not found."""

    traces: int
    spans: int
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportSummary:
    """Spans imported, write batches, and the lines skipped with why (the first 100)."""

    spans: int
    batches: int
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class KafkaTarget:
    """Import through the pipeline: OTLP messages (one per trace and batch) to `topic`."""

    bootstrap_servers: str
    topic: str
    producer: Mapping[str, Any] = field(default_factory=dict)
    #: The Kafka security block (`kafka.security`), applied like every other client's.
    security: KafkaSecuritySettings | None = None


# --- export ----------------------------------------------------------------------------------------


class _Api:
    """The few query-service calls export needs."""

    def __init__(self, url: str, client: httpx.Client | None) -> None:
        self._url = url.rstrip("/")
        self._client = client or httpx.Client(timeout=30, headers=api_key_headers())
        self._owned = client is None

    def _get(self, path: str, params: list[tuple[str, str]] | None = None) -> httpx.Response:
        try:
            return self._client.get(self._url + path, params=tuple(params or ()))
        except httpx.HTTPError as exc:
            raise QueryServiceError(f"query service at {self._url} unreachable: {exc}") from exc

    def _check(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise QueryServiceError(
                f"query service at {self._url}: HTTP {response.status_code}: {response.text[:300]}"
            )

    def get_trace(self, trace_id: str) -> Trace | None:
        response = self._get(f"/v1/traces/{trace_id}")
        if response.status_code in (400, 404):
            return None
        self._check(response)
        return Trace.model_validate(response.json()["data"])

    def search(self, query: TraceQuery) -> tuple[list[str], str | None]:
        params: list[tuple[str, str]] = [("limit", str(query.limit))]
        for name in ("service", "operation", "status", "cursor"):
            value = getattr(query, name)
            if value is not None:
                params.append((name, str(value)))
        # The API takes times as seconds (floats) and durations in milliseconds.
        for name, ns in (("start", query.start_ns), ("end", query.end_ns)):
            if ns is not None:
                params.append((name, repr(ns / 1e9)))
        for name, ns in (
            ("min_duration_ms", query.min_duration_ns),
            ("max_duration_ms", query.max_duration_ns),
        ):
            if ns is not None:
                params.append((name, repr(ns / 1e6)))
        params += [("attr", f"{k}={v}") for k, v in query.attributes.items()]
        params += [("resource_attr", f"{k}={v}") for k, v in query.resource_attributes.items()]
        response = self._get("/v1/traces", params)
        if response.status_code == 400:
            raise ConfigError(f"query service refused the search: {response.text[:500]}")
        self._check(response)
        body = response.json()
        return [hit["trace_id"] for hit in body["data"]], body.get("next_cursor")

    def close(self) -> None:
        if self._owned:
            self._client.close()


def _search_ids(source: TraceStore | _Api, query: TraceQuery, max_traces: int) -> Iterator[str]:
    seen = 0
    cursor = query.cursor
    while seen < max_traces:
        page = query.model_copy(update={"cursor": cursor, "limit": min(query.limit, max_traces - seen)})
        if isinstance(source, _Api):
            ids, cursor = source.search(page)
        else:
            found = source.search(page)
            ids, cursor = [t.trace_id for t in found.traces], found.next_cursor
        for trace_id in ids:
            seen += 1
            yield trace_id
        if cursor is None or not ids:
            return


def export_traces(
    source: str | TraceStore,
    out: TextIO,
    *,
    trace_ids: Sequence[str] = (),
    query: TraceQuery | None = None,
    max_traces: int = 10_000,
    client: httpx.Client | None = None,
) -> ExportSummary:
    """Write the spans of `trace_ids`, then of the traces `query` finds (newest first, at most
    `max_traces`), to `out` as JSONL. `source` is a store or the query service's base URL.

    Example:
        >>> with open("traces.jsonl", "w") as out:  # doctest: +SKIP
        ...     export_traces("http://127.0.0.1:16686", out, query=TraceQuery(service="checkout"))
    """
    reader: TraceStore | _Api = _Api(source, client) if isinstance(source, str) else source
    traces = spans = 0
    missing: list[str] = []
    try:
        wanted: Iterable[str] = list(trace_ids)
        if query is not None:
            wanted = [*wanted, *_search_ids(reader, query, max_traces)]
        done: set[str] = set()
        for trace_id in wanted:
            if trace_id in done:
                continue
            done.add(trace_id)
            trace = reader.get_trace(trace_id)
            if trace is None:
                missing.append(trace_id)
                continue
            out.writelines(span.model_dump_json() + "\n" for span in trace.spans)
            traces, spans = traces + 1, spans + len(trace.spans)
    finally:
        if isinstance(reader, _Api):
            reader.close()
    return ExportSummary(traces=traces, spans=spans, missing=missing)


# --- import ----------------------------------------------------------------------------------------


def _read_spans(lines: Iterable[str], bad: list[tuple[int, str]]) -> Iterator[Span]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Span.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            if len(bad) < _MAX_BAD_LINES:
                bad.append((number, str(exc).splitlines()[0][:300]))


def _chunks(spans: Iterator[Span], size: int) -> Iterator[list[Span]]:
    chunk: list[Span] = []
    for span in spans:
        chunk.append(span)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _by_trace(spans: list[Span]) -> dict[str, list[Span]]:
    traces: dict[str, list[Span]] = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    return traces


def import_jsonl(
    source: Path | TextIO,
    target: TraceStore | KafkaTarget,
    *,
    audit: SamplingAudit = IMPORT_AUDIT,
    batch_spans: int = 5_000,
) -> ImportSummary:
    """Read JSONL spans from `source` and write them to `target` in batches of `batch_spans`.

    Lines that are not model spans are skipped and reported. Raises `BrokerUnavailableError`
    when Kafka does not acknowledge every message, store errors as the store raises them.

    Example:
        >>> target = KafkaTarget("127.0.0.1:19092", "sampled-spans")
        >>> import_jsonl(Path("traces.jsonl"), target)  # doctest: +SKIP
    """
    if batch_spans < 1:
        raise ConfigError("batch_spans must be at least 1")
    stream = source.open(encoding="utf-8") if isinstance(source, Path) else source
    bad: list[tuple[int, str]] = []
    producer = (
        make_producer(target.bootstrap_servers, target.producer, security=target.security)
        if isinstance(target, KafkaTarget)
        else None
    )
    file_digest = hashlib.sha256()
    spans = batches = 0
    try:
        for chunk in _chunks(_read_spans(stream, bad), batch_spans):
            if isinstance(target, KafkaTarget):
                assert producer is not None
                for trace_id, trace_spans in _by_trace(chunk).items():
                    producer.produce(
                        target.topic,
                        key=trace_key(trace_id),
                        value=encode_spans(trace_spans),
                        headers=audit.to_headers(),
                    )
                    producer.poll(0)
            else:
                for span in chunk:
                    file_digest.update(span.trace_id.encode() + span.span_id.encode())
                # The same file gives the same tokens: importing it twice writes nothing twice.
                token = f"import:{file_digest.hexdigest()[:32]}:{batches}"
                target.insert(SpanBatch.from_spans(chunk, audit), dedup_token=token)
            spans, batches = spans + len(chunk), batches + 1
        if producer is not None:
            remaining = producer.flush(60)
            if remaining:
                raise BrokerUnavailableError(f"{remaining} imported messages not acknowledged by Kafka")
    finally:
        if isinstance(source, Path):
            stream.close()
    return ImportSummary(spans=spans, batches=batches, bad_lines=bad)
