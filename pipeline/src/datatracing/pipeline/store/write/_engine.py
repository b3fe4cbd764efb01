"""ClickHouse as the OTLP decoder: raw messages in, one nested Arrow row per message out.

Reading protobuf fields one at a time costs Python a call per field; the embedded engine (chdb)
parses a whole batch in C++ with the `Protobuf` input format into a Memory table, and hands it back
as Arrow, where `write._engine_rows` flattens it with vectorised kernels. Attribute values come as
the bytes of their `AnyValue` messages, which `write._engine_values` decodes (one column per
`AnyValue` member would be filled for every attribute).

Each message is framed with its length and gets its position in the batch appended as one extra
field (protobuf concatenation sets it), so rows map back to messages whatever the engine's order.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

__all__ = ["INDEX_FIELD", "OtlpStage", "StageError", "frame", "read_arrow"]

#: Field number of the appended message index (far above any OTLP field).
INDEX_FIELD = 536_870_005

# The OTLP trace messages with the same field numbers; an attribute's `AnyValue` is read as the
# bytes of its message (`write._engine_values` decodes them).
PROTO_SCHEMA = f"""syntax = "proto3";
message KeyValue {{ string key = 1; bytes value = 2; }}
message Scope {{ string name = 1; string version = 2; repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4; }}
message Resource {{ repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }}
message Status {{ string message = 2; int32 code = 3; }}
message Event {{ fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4; }}
message Link {{ bytes trace_id = 1; bytes span_id = 2; string trace_state = 3;
  repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }}
message Span {{ bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  fixed32 flags = 16; string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Event events = 11; uint32 dropped_events_count = 12; repeated Link links = 13;
  uint32 dropped_links_count = 14; Status status = 15; }}
message ScopeSpans {{ Scope scope = 1; repeated Span spans = 2; }}
message ResourceSpans {{ Resource resource = 1; repeated ScopeSpans scope_spans = 2; }}
message Request {{ repeated ResourceSpans resource_spans = 1; uint32 dt_index = {INDEX_FIELD}; }}
"""

_KVS = "Array(Tuple(key String, value String))"
_SPAN = (
    "Tuple(trace_id String, span_id String, trace_state String, parent_span_id String, flags UInt32, "
    "name String, kind Int32, start_time_unix_nano UInt64, end_time_unix_nano UInt64, "
    f"attributes {_KVS}, dropped_attributes_count UInt32, "
    "events Array(Tuple(time_unix_nano UInt64, name String, "
    f"attributes {_KVS}, dropped_attributes_count UInt32)), "
    "dropped_events_count UInt32, "
    "links Array(Tuple(trace_id String, span_id String, trace_state String, "
    f"attributes {_KVS}, dropped_attributes_count UInt32, flags UInt32)), "
    "dropped_links_count UInt32, status Tuple(message String, code Int32))"
)
#: One row per message, columns named like the `Request` fields.
STAGE_COLUMNS = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {_KVS}, dropped_attributes_count UInt32), "
    f"scope_spans Array(Tuple(scope Tuple(name String, version String, attributes {_KVS}, "
    f"dropped_attributes_count UInt32), spans Array({_SPAN}))))), dt_index UInt32"
)

_DATABASE = "datatracing_otlp_stage"
_TABLE = f"{_DATABASE}.messages"


def _schema_file() -> Path:
    """The schema as a file named by its content, shared by every process and never removed.

    A file of our own: `format_schema_source='string'` would cache one in the working directory.
    """
    digest = hashlib.sha256(PROTO_SCHEMA.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"datatracing-otlp-{digest}.proto"
    if not path.is_file() or path.read_text(encoding="utf-8") != PROTO_SCHEMA:
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(PROTO_SCHEMA, encoding="utf-8")
        partial.replace(path)
    return path


def read_arrow(result: Any) -> pa.Table:
    """A chdb result in the `Arrow` format as a table that owns its memory.

    chdb's own `ArrowTable` format reads the result buffer in place, and the engine may reuse that
    buffer once the result object is gone; uncompressed results (see `_backend`) would then point
    at freed memory. One copy into Python bytes costs less than the LZ4 round trip it replaces.
    """
    data = result.bytes()
    if not data:
        return pa.table({})
    return pa.ipc.open_file(pa.py_buffer(data)).read_all()


class StageError(Exception):
    """The engine could not parse the batch (the caller decodes it with Python instead)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_INDEX_TAG = _varint(INDEX_FIELD << 3)  # wire type 0 (varint)


@functools.cache
def _small_varints() -> list[bytes]:
    """Varints of one and two bytes, looked up: message sizes under 16 KiB and batch positions.

    Built at the first batch, not at import: processes that only read (CLI, query) never frame.
    """
    return [_varint(n) for n in range(1 << 14)]


def frame(payloads: Sequence[bytes]) -> bytes:
    """Length-delimited messages (the `Protobuf` format), each with its index appended."""
    parts: list[bytes] = []
    small = _small_varints()
    append, limit = parts.append, len(small)
    for index, payload in enumerate(payloads):
        suffix = _INDEX_TAG + (small[index] if index < limit else _varint(index))
        size = len(payload) + len(suffix)
        append(small[size] if size < limit else _varint(size))
        append(payload)
        append(suffix)
    return b"".join(parts)


class OtlpStage:
    """Parses OTLP batches on one chdb connection (shared with a store, or in-memory).

    `lock` must be the connection's lock: a batch is three statements that must not interleave
    with other users of the connection.
    """

    def __init__(self, conn: Any, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock
        schema = _schema_file()
        self._insert = (
            f"INSERT INTO {_TABLE} SETTINGS format_schema = '{schema}:Request', "
            # One block per batch as parsed: squashing it into bigger blocks would only copy it.
            "min_insert_block_size_rows = 0, min_insert_block_size_bytes = 0"
        )
        self._ready = False

    def parse(self, payloads: Sequence[bytes]) -> pa.Table:
        """One row per message: `resource_spans` (nested) and `dt_index`; strings as binary."""
        data = frame(payloads)
        with self._lock:
            try:
                if not self._ready:
                    self._conn.query(f"CREATE DATABASE IF NOT EXISTS {_DATABASE} ENGINE = Memory")
                    self._conn.query(f"CREATE TABLE IF NOT EXISTS {_TABLE} ({STAGE_COLUMNS}) ENGINE = Memory")
                    self._ready = True
                self._conn.query(f"TRUNCATE TABLE {_TABLE}")
                with self._conn.send_insert(self._insert, "Protobuf") as inserter:
                    inserter.append(data)
                    inserter.finish()
                table = read_arrow(
                    self._conn.query(
                        f"SELECT * FROM {_TABLE} SETTINGS output_format_arrow_string_as_string = 0", "Arrow"
                    )
                )
                self._conn.query(f"TRUNCATE TABLE {_TABLE}")
            except Exception as exc:
                raise StageError(str(exc)) from exc
        return table

    def close(self) -> None:
        """Drop the staged rows (the schema file stays for the next process)."""
        with self._lock:
            if self._ready:
                # Closing: if this fails, the rows go with the connection anyway.
                with contextlib.suppress(Exception):
                    self._conn.query(f"TRUNCATE TABLE {_TABLE}")
