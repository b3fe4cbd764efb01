-- Services and operations (span name + kind), for the UI's pick lists. Tiny: one row per distinct
-- (tenant, service, name, kind), refreshed by every insert.

CREATE TABLE IF NOT EXISTS ${database}.operations
(
    tenant LowCardinality(String),
    service LowCardinality(String),
    name LowCardinality(String),
    kind Enum8('UNSPECIFIED' = 0, 'INTERNAL' = 1, 'SERVER' = 2, 'CLIENT' = 3, 'PRODUCER' = 4, 'CONSUMER' = 5),
    last_seen SimpleAggregateFunction(max, DateTime)
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, service, name, kind)
TTL last_seen + INTERVAL ${retention_days} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.operations_mv TO ${database}.operations AS
SELECT tenant, service, name, kind, max(toDateTime(timestamp)) AS last_seen
FROM ${database}.spans
GROUP BY tenant, service, name, kind;
