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
    "OPERATIONS",
    "PROMOTED",
    "SERVICES",
    "SUMMARIES",
    "TIME_BOUNDS",
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

# One statement: the scalar subquery reads the trace's time range from `traces` (a point lookup on its
# sort key), and the span scan is bounded by it, so the primary key prunes `spans` to the granules of
# that second before the trace-id bloom filter runs. An unknown id gives an empty range and no rows.
# One thread: a trace spans a few granules, and parallel reading only adds scheduling. The rarely set
# fields come packed in `extras` (schema/0005_read_path.sql): one column read instead of seventeen.
GET_SPANS = """
WITH (SELECT (min(start_time), max(end_time)) FROM $db.traces WHERE trace_id = unhex({trace_id:String}))
     AS trace_range
SELECT span_id, parent_span_id, trace_state, flags, name, toInt8(kind) AS kind,
       toUnixTimestamp64Nano(timestamp) AS start_ns, duration_ns,
       toInt8(status_code) AS status_code, status_message,
       attributes, attribute_types, resource_attributes, resource_attribute_types,
       scope_name, scope_version, extras, policy, policy_version, sample_rate
FROM $db.spans
WHERE trace_id = unhex({trace_id:String})
  AND timestamp >= trace_range.1
  AND timestamp <= trace_range.2
ORDER BY start_ns, span_id
LIMIT 1 BY span_id
SETTINGS max_threads = 1
"""

SERVICES = "SELECT DISTINCT toString(service) AS service FROM $db.operations ORDER BY service"

OPERATIONS = """
SELECT DISTINCT toString(name) AS name, toInt8(kind) AS kind
FROM $db.operations
WHERE service = {service:String}
ORDER BY name, kind
"""

# Edges come from `parent_service`, filled at insert time from the parent span in the same batch.
# A span stored twice (a replay under another dedup token, not yet merged away) counts once: `FINAL`
# collapses rows with the same sort key, which ends in (trace id, span id), as a merge would, so the
# counts are the same before and after `OPTIMIZE ... FINAL`. Both copies of a span have the same
# start, hence the same partition: no merging across partitions is needed.
DEPENDENCIES = """
SELECT toString(parent_service) AS parent, toString(service) AS child, count() AS call_count
FROM $db.spans FINAL
WHERE timestamp >= fromUnixTimestamp64Nano({start_ns:Int64})
  AND timestamp <= fromUnixTimestamp64Nano({end_ns:Int64})
  AND parent_service != '' AND parent_service != service
GROUP BY parent, child
ORDER BY parent, child
SETTINGS do_not_merge_across_partitions_select_final = 1
"""

COUNT_SPANS = "SELECT count() AS n FROM $db.spans FINAL"

# The time span of the stored spans (from part metadata: no column is read).
TIME_BOUNDS = """
SELECT toUnixTimestamp64Nano(min(timestamp)) AS lo, toUnixTimestamp64Nano(max(timestamp)) AS hi, count() AS n
FROM $db.spans
"""

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


@dataclass
class _Filters:
    """A search's span conditions: `prewhere` (read first, on the few granules the bloom filters
    keep), `where`, and the skip indexes that cannot prune this query (skipping them saves reading
    their filters for every granule)."""

    prewhere: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)


# The key bloom filter of each attribute map: only a search for a missing key ('' value) uses it.
_KEY_INDEXES = {"attributes": "idx_attribute_keys", "resource_attributes": "idx_resource_keys"}


def _span_conditions(query: TraceQuery, params: dict[str, str | int]) -> _Filters:
    filters = _Filters()
    conds = filters.where
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
    for prefix, column, wanted in (
        ("a", "attributes", query.attributes),
        ("r", "resource_attributes", query.resource_attributes),
    ):
        key_index_needed = False
        for i, (key, value) in enumerate(sorted(wanted.items())):
            k, v = f"{prefix}k{i}", f"{prefix}v{i}"
            params[k], params[v] = key, value
            promoted = PROMOTED.get(key) if column == "attributes" else None
            if promoted is not None and value:
                # The MATERIALIZED column holds exactly attributes[key]: a tiny LowCardinality read
                # instead of the whole map.
                conds.append(f"{promoted} = {{{v}:String}}")
            elif value:
                # has(mapValues) lets the value bloom filters prune granules, and as PREWHERE reads
                # only the values of what they keep; the subscript is the exact test.
                filters.prewhere.append(f"has(mapValues({column}), {{{v}:String}})")
                conds.append(f"{column}[{{{k}:String}}] = {{{v}:String}}")
            else:
                # A missing key also reads as '': require the key (its bloom filter helps too).
                conds.append(f"mapContains({column}, {{{k}:String}}) AND {column}[{{{k}:String}}] = ''")
                key_index_needed = True
        if wanted and not key_index_needed:
            filters.ignore.append(_KEY_INDEXES[column])
    return filters


def _trace_conditions(query: TraceQuery, params: dict[str, str | int]) -> list[str]:
    """Conditions on a trace's aggregates in `traces` (one `GROUP BY trace_id` group)."""
    conds: list[str] = []
    duration = "(toUnixTimestamp64Nano(max(end_time)) - toUnixTimestamp64Nano(min(start_time)))"
    for name, test in (
        ("min_trace_duration_ns", f"{duration} >= {{min_trace_duration_ns:Int64}}"),
        ("max_trace_duration_ns", f"{duration} <= {{max_trace_duration_ns:Int64}}"),
        ("min_spans", "uniqMerge(span_count) >= {min_spans:UInt64}"),
        ("max_spans", "uniqMerge(span_count) <= {max_spans:UInt64}"),
    ):
        value = getattr(query, name)
        if value is not None:
            conds.append(test)
            params[name] = value
    if query.trace_error is not None:
        conds.append("max(has_error) = {trace_error:UInt8}")
        params["trace_error"] = int(query.trace_error)
    if query.trace_services:
        names = []
        for i, service in enumerate(query.trace_services):
            params[f"ts{i}"] = service
            names.append(f"{{ts{i}:String}}")
        conds.append(f"hasAll(groupUniqArrayArray(services), [{', '.join(names)}])")
    return conds


def build_search(query: TraceQuery, since_ns: int | None = None) -> SearchSql:
    """The page of trace ids with their page key `k` (ns), newest first, `limit + 1` rows.

    The key is the start of the trace's earliest matching span (with no span filter: the trace's
    start, read from `traces`). The cursor `(k, id)` is applied as `timestamp <= k` before grouping,
    which keeps each remaining trace's minimum exact: a trace whose key is at or before the cursor
    keeps the row that holds it, and a later trace has no row left. Then ties break on trace id.

    `since_ns` restricts the search to a recent window: spans at or after it (or, from `traces`,
    traces starting at or after it). A span-filtered window can overstate the key of a trace that
    also matches before the window; `ClickHouseTraceStore.search` checks for that.

    Trace-level filters are conditions on the `traces` aggregates. With span filters they select
    among the traces the span filters matched (`trace_id IN` the matched ids, looked up by the
    sort key of `traces`), so they never scan all of `traces`; without span filters they are a
    `HAVING` of the `traces` query itself.
    """
    params: dict[str, str | int] = {"limit": query.limit + 1}
    filters = _span_conditions(query, params)
    conds = filters.where
    trace_conds = _trace_conditions(query, params)
    having: list[str] = []
    if query.cursor is not None:
        start_ns, trace_id = decode_cursor(query.cursor)
        params["cursor_start"], params["cursor_trace"] = start_ns, trace_id
        having.append(
            "(k < {cursor_start:Int64}"
            " OR (k = {cursor_start:Int64} AND trace_id < unhex({cursor_trace:String})))"
        )
    if since_ns is not None:
        params["since"] = since_ns
    settings = ""
    if conds:
        if query.cursor is not None:
            conds.append("timestamp <= " + _NS % "cursor_start")
        if since_ns is not None:
            conds.append("timestamp >= " + _NS % "since")
        prewhere = " PREWHERE " + " AND ".join(filters.prewhere) if filters.prewhere else ""
        matched = f"$db.spans{prewhere} WHERE " + " AND ".join(conds)
        source, column = matched, "timestamp"
        if trace_conds:
            # Every row of a trace is read (no time bound on `traces` rows: a row left out would
            # change the trace's aggregates); the matched ids select them by the sort key.
            source += (
                f" AND trace_id IN (SELECT trace_id FROM $db.traces WHERE trace_id IN"
                f" (SELECT trace_id FROM {matched}) GROUP BY trace_id HAVING {' AND '.join(trace_conds)})"
            )
        if filters.ignore:
            settings = " SETTINGS ignore_data_skipping_indices = '" + ",".join(filters.ignore) + "'"
    else:
        where = " WHERE start_time <= " + _NS % "cursor_start" if query.cursor is not None else ""
        source, column = "$db.traces" + where, "start_time"
        if since_ns is not None:
            # `traces` may hold several partial rows per trace: filter the minimum, not the rows.
            having.append("k >= {since:Int64}")
        having.extend(trace_conds)
    having_sql = " HAVING " + " AND ".join(having) if having else ""
    sql = (
        f"SELECT lower(hex(trace_id)) AS id, toUnixTimestamp64Nano(min({column})) AS k FROM {source}"
        f" GROUP BY trace_id{having_sql} ORDER BY k DESC, trace_id DESC LIMIT {{limit:UInt32}}{settings}"
    )
    return SearchSql(sql, params)
