-- Trace-id lookup: one aggregate row per trace, kept up to date by a materialized view on every
-- insert into spans. get_trace reads it first to bound the span scan by the trace's time range.
-- Every aggregate is idempotent (min, max, uniq, set union), so a trace whose spans arrive in several
-- batches, or a replayed batch, still aggregates to the right answer.

CREATE TABLE IF NOT EXISTS ${database}.traces
(
    tenant LowCardinality(String),
    trace_id FixedString(16),
    start_time SimpleAggregateFunction(min, DateTime64(9)),
    end_time SimpleAggregateFunction(max, DateTime64(9)),
    span_count AggregateFunction(uniq, FixedString(8)),
    root_service SimpleAggregateFunction(max, LowCardinality(String)),
    root_name SimpleAggregateFunction(max, LowCardinality(String)),
    has_error SimpleAggregateFunction(max, UInt8),
    services SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(start_time)
ORDER BY (trace_id, tenant)
TTL toDateTime(start_time) + INTERVAL ${retention_days} DAY
SETTINGS index_granularity = 256, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.traces_mv TO ${database}.traces AS
SELECT
    tenant,
    trace_id,
    min(timestamp) AS start_time,
    max(addNanoseconds(timestamp, duration_ns)) AS end_time,
    uniqState(span_id) AS span_count,
    max(if(empty(parent_span_id), service, '')) AS root_service,
    max(if(empty(parent_span_id), name, '')) AS root_name,
    max(status_code = 'ERROR') AS has_error,
    groupUniqArray(service) AS services
FROM ${database}.spans
GROUP BY tenant, trace_id;
