"""Keeping `operations` (services, span names and kinds) current from the store's own inserts.

A materialized view on `spans` would write one more part per batch for the same few dozen rows.
The writer knows what it has already written, so it writes only the (tenant, service, name, kind)
that are new to it, or whose `last_seen` it wrote more than `REFRESH_S` ago: a small insert a
minute per writer at steady state instead of one per batch.

`last_seen` is therefore up to `REFRESH_S` behind the newest span, and a writer that restarts
writes its first batch's names again (harmless: `last_seen` keeps the max).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["REFRESH_S", "OperationsCatalog"]

#: How stale a written `last_seen` may get before the writer writes it again (seconds).
REFRESH_S = 60
_KEYS = ["tenant", "service", "name", "kind"]
# A writer that sees this many names (a cardinality problem upstream) forgets them and starts over.
_MAX_REMEMBERED = 100_000
_SCHEMA = pa.schema(
    [
        ("tenant", pa.string()),
        ("service", pa.string()),
        ("name", pa.string()),
        ("kind", pa.int8()),
        ("last_seen", pa.uint32()),
    ]
)

Key = tuple[str, str, str, int]


class OperationsCatalog:
    """What one writer has written to `operations`, and what a batch adds to it.

    Once a batch's spans are stored: `pending(spans)` gives the rows `operations` lacks (if any);
    insert them, then `written(rows)`.
    """

    def __init__(self) -> None:
        self._written: dict[Key, int] = {}

    def pending(self, spans: pa.Table) -> pa.Table | None:
        """Rows for `operations` from a batch in the `spans` layout; None when nothing is due."""
        grouped = (
            spans.select([*_KEYS, "timestamp"])
            .group_by(_KEYS, use_threads=False)
            .aggregate([("timestamp", "max")])
        )
        newest = pc.divide(grouped["timestamp_max"].cast(pa.int64()), 10**9).to_pylist()
        keys = zip(*(grouped[k].to_pylist() for k in _KEYS), strict=True)
        due: list[tuple[Key, int]] = []
        for key, seconds in zip(keys, newest, strict=True):
            last = min(max(int(seconds), 0), 2**32 - 1)  # `DateTime` is 32-bit unsigned seconds
            written = self._written.get(key)
            if written is None or last > written + REFRESH_S:
                due.append((key, last))
        if not due:
            return None
        rows: dict[str, list[object]] = {k: [key[i] for key, _ in due] for i, k in enumerate(_KEYS)}
        rows["last_seen"] = [seconds for _, seconds in due]
        return pa.table(rows, schema=_SCHEMA)

    def written(self, rows: pa.Table) -> None:
        """Remember rows that are now stored."""
        if len(self._written) + rows.num_rows > _MAX_REMEMBERED:
            self._written.clear()
        for row in rows.to_pylist():
            key = (row["tenant"], row["service"], row["name"], row["kind"])
            self._written[key] = max(self._written.get(key, 0), row["last_seen"])
