"""The store's SQL: one text per statement for every backend, values only as `{name:Type}` parameters.

`$db` is the database identifier (validated at open); nothing else is ever pasted into SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datatracing.pipeline.store._port import TraceQuery, decode_cursor

__all__ = [
    "COUNT_SPANS",
    "DEPENDENCIES",
    "GET_SPANS",
    "GET_TRACE_RANGE",
    "OPERATIONS",
    "PROMOTED",
    "SERVICES",
    "SUMMARIES",
    "SearchSql",
    "build_search",
]

# Attribute keys with a MATERIALIZED column of their own in `spans` (see schema/0001_spans.sql).
PROMOTED: dict[str, str] = {
    "http.method": "http_method",
    "http.request.method": "http_request_method",
    "http.status_code": "http_status_code",
    "http.response.status_code": "http_response_status_code",
    "db.system": "db_system",
    "messaging.system": "messaging_system",
    "messaging.destination.name": "messaging_destination_name",
}

_NS = "fromUnixTimestamp64Nano({%s:Int64})"

GET_TRACE_RANGE = """
SELECT count() AS n,
       toUnixTimestamp64Nano(min(start_time)) AS start_ns,
       toUnixTimestamp64Nano(max(end_time)) AS end_ns
FROM $db.traces
WHERE trace_id = unhex({trace_id:String})
"""

GET_SPANS = """
SELECT span_id, parent_span_id, trace_state, flags, name, toInt8(kind) AS kind,
       toUnixTimestamp64Nano(timestamp) AS start_ns, duration_ns,
       toInt8(status_code) AS status_code, status_message,
       attributes, attribute_types, dropped_attributes_count,
       resource_attributes, resource_attribute_types, resource_dropped_attributes_count,
       scope_name, scope_version, scope_attributes, scope_dropped_attributes_count,
       events.time_unix_nano AS ev_time, events.name AS ev_name, events.attributes AS ev_attributes,
       events.dropped_attributes_count AS ev_dropped, dropped_events_count,
       links.trace_id AS lk_trace_id, links.span_id AS lk_span_id, links.trace_state AS lk_trace_state,
       links.flags AS lk_flags, links.attributes AS lk_attributes,
       links.dropped_attributes_count AS lk_dropped, dropped_links_count
FROM $db.spans
WHERE trace_id = unhex({trace_id:String})
  AND timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
  AND timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
ORDER BY start_ns, span_id
LIMIT 1 BY span_id
"""

SERVICES = "SELECT DISTINCT toString(service) AS service FROM $db.operations ORDER BY service"

OPERATIONS = """
SELECT DISTINCT toString(name) AS name, toInt8(kind) AS kind
FROM $db.operations
WHERE service = {service:String}
ORDER BY name, kind
"""

# Edges come from `parent_service`, filled at insert time from the parent span in the same batch.
DEPENDENCIES = """
SELECT toString(parent_service) AS parent, toString(service) AS child, count() AS call_count
FROM $db.spans
WHERE timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
  AND timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
  AND parent_service != '' AND parent_service != service
GROUP BY parent, child
ORDER BY parent, child
"""

COUNT_SPANS = "SELECT count() AS n FROM $db.spans FINAL"

# Summaries of one page of trace ids (a comma-separated list of validated hex ids).
SUMMARIES = """
SELECT lower(hex(trace_id)) AS id,
       toUnixTimestamp64Nano(min(start_time)) AS start_ns,
       toUnixTimestamp64Nano(max(end_time)) AS end_ns,
       uniqMerge(span_count) AS span_count,
       toString(max(root_service)) AS root_service,
       toString(max(root_name)) AS root_name,
       max(has_error) AS has_error,
       arraySort(arrayMap(s -> toString(s), groupUniqArrayArray(services))) AS services
FROM $db.traces
WHERE trace_id IN (SELECT toFixedString(unhex(arrayJoin(splitByChar(',', {ids:String}))), 16))
GROUP BY trace_id
"""


@dataclass
class SearchSql:
    """A search statement and its parameters."""

    sql: str
    params: dict[str, str | int] = field(default_factory=dict)


def _span_conditions(query: TraceQuery, params: dict[str, str | int]) -> list[str]:
    conds: list[str] = []
    if query.tenant is not None:
        conds.append("tenant = {tenant:String}")
        params["tenant"] = query.tenant
    if query.service is not None:
        conds.append("service = {service:String}")
        params["service"] = query.service
    if query.operation is not None:
        conds.append("name = {operation:String}")
        params["operation"] = query.operation
    if query.status is not None:
        conds.append("status_code = {status:String}")
        params["status"] = query.status.upper()
    if query.start_ns is not None:
        conds.append("timestamp >= " + _NS % "start_ns")
        params["start_ns"] = query.start_ns
    if query.end_ns is not None:
        conds.append("timestamp <= " + _NS % "end_ns")
        params["end_ns"] = query.end_ns
    if query.min_duration_ns is not None:
        conds.append("duration_ns >= {min_duration_ns:UInt64}")
        params["min_duration_ns"] = query.min_duration_ns
    if query.max_duration_ns is not None:
        conds.append("duration_ns <= {max_duration_ns:UInt64}")
        params["max_duration_ns"] = query.max_duration_ns
    for prefix, column, filters in (
        ("a", "attributes", query.attributes),
        ("r", "resource_attributes", query.resource_attributes),
    ):
        for i, (key, value) in enumerate(sorted(filters.items())):
            k, v = f"{prefix}k{i}", f"{prefix}v{i}"
            params[k], params[v] = key, value
            promoted = PROMOTED.get(key) if column == "attributes" else None
            if promoted is not None and value:
                # The MATERIALIZED column holds exactly attributes[key]: a tiny LowCardinality read
                # instead of the whole map.
                conds.append(f"{promoted} = {{{v}:String}}")
            elif value:
                # has(mapValues) lets the bloom-filter skip index prune granules; the subscript is
                # the exact test.
                conds.append(
                    f"has(mapValues({column}), {{{v}:String}}) AND {column}[{{{k}:String}}] = {{{v}:String}}"
                )
            else:
                # A missing key also reads as '': require the key (its bloom filter helps too).
                conds.append(f"mapContains({column}, {{{k}:String}}) AND {column}[{{{k}:String}}] = ''")
    return conds


def build_search(query: TraceQuery) -> SearchSql:
    """The page of trace ids with their page key `k` (ns), newest first, `limit + 1` rows.

    The key is the start of the trace's earliest matching span (with no span filter: the trace's
    start, read from `traces`). The cursor `(k, id)` is applied as `timestamp <= k` before grouping,
    which keeps each remaining trace's minimum exact: a trace whose key is at or before the cursor
    keeps the row that holds it, and a later trace has no row left. Then ties break on trace id.
    """
    params: dict[str, str | int] = {"limit": query.limit + 1}
    conds = _span_conditions(query, params)
    having = ""
    if query.cursor is not None:
        start_ns, trace_id = decode_cursor(query.cursor)
        params["cursor_start"], params["cursor_trace"] = start_ns, trace_id
        having = (
            " HAVING k < {cursor_start:Int64}"
            " OR (k = {cursor_start:Int64} AND trace_id < unhex({cursor_trace:String}))"
        )
    if conds:
        if query.cursor is not None:
            conds.append("timestamp <= " + _NS % "cursor_start")
        source, column = "$db.spans WHERE " + " AND ".join(conds), "timestamp"
    else:
        where = " WHERE start_time <= " + _NS % "cursor_start" if query.cursor is not None else ""
        source, column = "$db.traces" + where, "start_time"
    sql = (
        f"SELECT lower(hex(trace_id)) AS id, toUnixTimestamp64Nano(min({column})) AS k FROM {source}"
        f" GROUP BY trace_id{having} ORDER BY k DESC, trace_id DESC LIMIT {{limit:UInt32}}"
    )
    return SearchSql(sql, params)
