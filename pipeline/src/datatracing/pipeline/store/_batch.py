"""`SpanBatch`: OTLP messages turned straight into Arrow columns for one insert.

The hot path reads protobuf fields into flat Python lists and never builds a model object per span.
Per-resource and per-message values (resource attributes, scope, audit) are encoded once and spread
over the spans with an Arrow `take`, so a span costs only its own fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa

from datatracing.errors import InvalidDataError
from datatracing.model import Span
from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.store._columns import Columns, Group
from datatracing.wire import encode_spans, parse_request

__all__ = ["SpanBatch"]


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
    def from_otlp(cls, messages: Iterable[tuple[bytes, SamplingAudit]]) -> SpanBatch:
        """Build a batch from OTLP `ExportTraceServiceRequest` payloads and their sampling audit.

        Raises `InvalidDataError` naming the first message that does not decode or holds an
        invalid span; use `from_otlp_with_rejects` to keep the good messages instead.
        """
        batch, rejects = cls.from_otlp_with_rejects(messages)
        if rejects:
            index, reason = rejects[0]
            raise InvalidDataError(f"message {index}: {reason}")
        return batch

    @classmethod
    def from_otlp_with_rejects(
        cls, messages: Iterable[tuple[bytes, SamplingAudit]]
    ) -> tuple[SpanBatch, list[tuple[int, str]]]:
        """Like `from_otlp`, but a bad message is left out and reported as `(index, reason)`.

        A message is all or nothing: if one of its spans is invalid, none of its spans is kept.
        """
        columns = Columns()
        rejects: list[tuple[int, str]] = []
        for index, (payload, audit) in enumerate(messages):
            mark = columns.mark()
            try:
                request = parse_request(payload)
                group = Group(columns, audit)
                for resource_spans in request.resource_spans:
                    group.add_resource_spans(resource_spans)
            except InvalidDataError as exc:
                columns.rollback(mark)
                rejects.append((index, str(exc)))
        return cls(columns.to_table()), rejects

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
