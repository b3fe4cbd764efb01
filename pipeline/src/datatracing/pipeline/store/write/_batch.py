"""`SpanBatch`: OTLP messages turned into the Arrow columns of one insert.

Two decoders give the same rows. With an `OtlpStage` (the store's embedded engine), ClickHouse
parses the whole batch in C++ and `write._engine_rows` flattens it with Arrow kernels; the messages that path
leaves out (invalid spans, repeated keys, deeply nested values) and every batch without a stage go
through `write._python`, which reads protobuf fields in Python. `parent_service` is filled last, over the
whole batch, so a parent in any message of the batch counts; so is `extras`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datatracing.errors import InvalidDataError
from datatracing.model import Span
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store.write._engine import OtlpStage, StageError
from datatracing.pipeline.store.write._engine_rows import Hierarchy, flatten, needs_python
from datatracing.pipeline.store.write._python import COMPUTED, EXTRAS_FIELDS, SPANS_SCHEMA, Columns, Group
from datatracing.wire import encode_spans, parse_request

__all__ = ["SpanBatch"]

log = logging.getLogger(__name__)

_ZERO8 = pa.scalar(b"\x00" * 8, pa.binary(8))
_encode = json.JSONEncoder(separators=(",", ":")).encode


def _ids(trace_id: pa.Array, span_id: pa.Array) -> pa.Array:
    """(trace id, span id) as one 24-byte value per row: the fixed-width buffers side by side."""
    if trace_id.null_count or span_id.null_count:  # never from the decoders
        return pc.binary_join_element_wise(trace_id.cast(pa.binary()), span_id.cast(pa.binary()), b"")
    n = len(trace_id)
    if n == 0:
        return pa.array([], pa.binary(24))
    tid = np.frombuffer(trace_id.buffers()[1], np.uint8, count=n * 16, offset=trace_id.offset * 16)
    sid = np.frombuffer(span_id.buffers()[1], np.uint8, count=n * 8, offset=span_id.offset * 8)
    joined = np.hstack([tid.reshape(n, 16), sid.reshape(n, 8)])
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(24), n, [None, pa.py_buffer(joined)])


def _parent_services(arrays: dict[str, pa.Array]) -> pa.Array:
    """Service of each span's parent when the parent is in the batch, else ''."""
    tid = arrays["trace_id"]
    own = _ids(tid, arrays["span_id"])
    wanted = _ids(tid, arrays["parent_span_id"])
    found = pc.take(arrays["service"], pc.index_in(wanted, value_set=own)).fill_null("")
    return pc.if_else(pc.equal(arrays["parent_span_id"], _ZERO8), "", found)


def _extras(arrays: dict[str, pa.Array]) -> pa.Array:
    """The `extras` text of each span: '' unless a rarely set field is set (then JSON, built in
    Python for those rows only). The server computes the same from the columns when a writer leaves
    the column out."""
    rare = [
        pc.not_equal(arrays[name], 0)
        for name in EXTRAS_FIELDS
        if pa.types.is_integer(SPANS_SCHEMA.field(name).type)
    ]
    rare += [
        pc.not_equal(arrays["scope_attributes"], ""),
        pc.greater(pc.list_value_length(arrays["events.name"]), 0),
        pc.greater(pc.list_value_length(arrays["links.trace_id"]), 0),
    ]
    mask = rare[0]
    for more in rare[1:]:
        mask = pc.or_(mask, more)
    empty = pa.repeat(pa.scalar("", pa.string()), len(mask))
    rows = pc.indices_nonzero(mask)
    if len(rows) == 0:
        return empty
    # Column by column, then one JSON array per row (a dict per row cost twice as much).
    taken = {name: pc.take(arrays[name], rows).to_pylist() for name in EXTRAS_FIELDS}
    for name in ("links.trace_id", "links.span_id"):
        taken[name] = [[v.hex() for v in ids] if ids else [] for ids in taken[name]]
    texts = [_encode(row) for row in zip(*(taken[name] for name in EXTRAS_FIELDS), strict=True)]
    return pc.replace_with_mask(empty, mask, pa.array(texts, pa.string()))


def _table(parts: list[dict[str, pa.Array]]) -> pa.Table:
    names = [name for name in SPANS_SCHEMA.names if name not in COMPUTED]

    def column(name: str) -> pa.Array:
        pieces = [part[name].cast(SPANS_SCHEMA.field(name).type) for part in parts]
        return pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)  # one: no copy

    arrays = {name: column(name) for name in names}
    arrays["parent_service"] = _parent_services(arrays)
    arrays["extras"] = _extras(arrays)
    return pa.Table.from_arrays([arrays[name] for name in SPANS_SCHEMA.names], schema=SPANS_SCHEMA)


def _staged(
    stage: OtlpStage, messages: Sequence[tuple[bytes, SamplingAudit]]
) -> tuple[dict[str, pa.Array] | None, list[int]]:
    """Columns of the messages the engine path takes, and the indexes left to Python."""
    try:
        nested = stage.parse([payload for payload, _ in messages])
        hierarchy = Hierarchy(nested)
        flagged = needs_python(hierarchy)
    except (StageError, pa.ArrowInvalid) as exc:
        # Unparseable bytes or bad UTF-8 somewhere: Python finds which message and says why.
        log.debug("engine decoding failed, decoding %d messages in Python: %s", len(messages), exc)
        return None, list(range(len(messages)))
    index = nested.column("dt_index").to_numpy().astype(np.int64)
    keep = ~flagged & (index >= 0) & (index < len(messages))
    taken = index[keep]
    left = np.ones(len(messages), np.bool_)
    left[taken] = False
    if len(taken) + int(left.sum()) != len(messages):
        # A message twice: never expected from the engine, so trust Python.
        return None, list(range(len(messages)))
    audits = [audit for _, audit in messages]
    if not keep.all():
        hierarchy = Hierarchy(nested.filter(pa.array(keep)))
    return flatten(hierarchy, audits), np.flatnonzero(left).tolist()


class SpanBatch:
    """A columnar batch of spans ready for `TraceStore.insert`.

    Example:
        >>> from datatracing.pipeline.audit import SamplingAudit
        >>> batch = SpanBatch.from_otlp([])
        >>> len(batch)
        0
    """

    __slots__ = ("_table",)

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    @property
    def table(self) -> pa.Table:
        """The rows as an Arrow table whose column names match the `spans` table."""
        return self._table

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def __repr__(self) -> str:
        return f"SpanBatch({len(self)} spans)"

    @classmethod
    def from_otlp(
        cls, messages: Iterable[tuple[bytes, SamplingAudit]], *, stage: OtlpStage | None = None
    ) -> SpanBatch:
        """Build a batch from OTLP `ExportTraceServiceRequest` payloads and their sampling audit.

        Raises `InvalidDataError` naming the first message that does not decode or holds an
        invalid span; use `from_otlp_with_rejects` to keep the good messages instead.
        """
        batch, rejects = cls.from_otlp_with_rejects(messages, stage=stage)
        if rejects:
            index, reason = rejects[0]
            raise InvalidDataError(f"message {index}: {reason}")
        return batch

    @classmethod
    def from_otlp_with_rejects(
        cls, messages: Iterable[tuple[bytes, SamplingAudit]], *, stage: OtlpStage | None = None
    ) -> tuple[SpanBatch, list[tuple[int, str]]]:
        """Like `from_otlp`, but a bad message is left out and reported as `(index, reason)`.

        A message is all or nothing: if one of its spans is invalid, none of its spans is kept.
        `stage` (from `ClickHouseTraceStore.stage`) lets the engine decode; the rows are the same.
        """
        items = list(messages)
        parts: list[dict[str, pa.Array]] = []
        rest: Sequence[int] = range(len(items))
        if stage is not None and items:
            staged, rest = _staged(stage, items)
            if staged is not None:
                parts.append(staged)
        columns = Columns()
        rejects: list[tuple[int, str]] = []
        for index in rest:
            payload, audit = items[index]
            mark = columns.mark()
            try:
                request = parse_request(payload)
                group = Group(columns, audit)
                for resource_spans in request.resource_spans:
                    group.add_resource_spans(resource_spans)
            except InvalidDataError as exc:
                columns.rollback(mark)
                rejects.append((index, str(exc)))
        if rest or not parts:
            parts.append(columns.arrays())
        return cls(_table(parts)), rejects

    @classmethod
    def from_spans(cls, spans: Iterable[Span], audit: SamplingAudit | None = None) -> SpanBatch:
        """Build a batch from model spans (tests and tools; the sink uses `from_otlp`)."""
        return cls.from_otlp([(encode_spans(list(spans)), audit or SamplingAudit())])

    @classmethod
    def concat(cls, batches: Sequence[SpanBatch]) -> SpanBatch:
        """One batch holding the rows of all `batches`, in order."""
        if not batches:
            return cls.from_otlp([])
        return cls(pa.concat_tables([b.table for b in batches]))
