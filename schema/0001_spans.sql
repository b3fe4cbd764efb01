-- One wide row per span, sorted for search (tenant, service, operation, second), not by trace id.
-- Placeholders: ${database} (identifier) and ${retention_days} (integer) are filled in by migrate().

CREATE TABLE IF NOT EXISTS ${database}.spans
(
    tenant LowCardinality(String),
    timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    trace_id FixedString(16) CODEC(ZSTD(1)),
    span_id FixedString(8) CODEC(ZSTD(1)),
    parent_span_id FixedString(8) CODEC(ZSTD(1)),
    trace_state String CODEC(ZSTD(1)),
    flags UInt32 CODEC(ZSTD(1)),
    service LowCardinality(String),
    name LowCardinality(String),
    kind Enum8('UNSPECIFIED' = 0, 'INTERNAL' = 1, 'SERVER' = 2, 'CLIENT' = 3, 'PRODUCER' = 4, 'CONSUMER' = 5),
    duration_ns UInt64 CODEC(T64, ZSTD(1)),
    status_code Enum8('UNSET' = 0, 'OK' = 1, 'ERROR' = 2),
    status_message String CODEC(ZSTD(1)),
    parent_service LowCardinality(String),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    attribute_types Map(LowCardinality(String), UInt8) CODEC(ZSTD(1)),
    dropped_attributes_count UInt32 CODEC(ZSTD(1)),
    resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    resource_attribute_types Map(LowCardinality(String), UInt8) CODEC(ZSTD(1)),
    resource_dropped_attributes_count UInt32 CODEC(ZSTD(1)),
    scope_name LowCardinality(String),
    scope_version LowCardinality(String),
    scope_attributes String CODEC(ZSTD(1)),
    scope_dropped_attributes_count UInt32 CODEC(ZSTD(1)),
    events Nested
    (
        time_unix_nano UInt64,
        name LowCardinality(String),
        attributes String,
        dropped_attributes_count UInt32
    ),
    dropped_events_count UInt32 CODEC(ZSTD(1)),
    links Nested
    (
        trace_id FixedString(16),
        span_id FixedString(8),
        trace_state String,
        flags UInt32,
        attributes String,
        dropped_attributes_count UInt32
    ),
    dropped_links_count UInt32 CODEC(ZSTD(1)),
    policy LowCardinality(String),
    policy_version LowCardinality(String),
    sample_rate Float64 CODEC(ZSTD(1)),
    -- Hot attribute keys promoted to columns (computed by the server, so the sink pays nothing).
    http_method LowCardinality(String) MATERIALIZED attributes['http.method'],
    http_request_method LowCardinality(String) MATERIALIZED attributes['http.request.method'],
    http_status_code LowCardinality(String) MATERIALIZED attributes['http.status_code'],
    http_response_status_code LowCardinality(String) MATERIALIZED attributes['http.response.status_code'],
    db_system LowCardinality(String) MATERIALIZED attributes['db.system'],
    messaging_system LowCardinality(String) MATERIALIZED attributes['messaging.system'],
    messaging_destination_name LowCardinality(String) MATERIALIZED attributes['messaging.destination.name'],
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_duration duration_ns TYPE minmax GRANULARITY 1,
    INDEX idx_attribute_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attribute_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_resource_keys mapKeys(resource_attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_resource_values mapValues(resource_attributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(timestamp)
PRIMARY KEY (tenant, service, name, toDateTime(timestamp))
ORDER BY (tenant, service, name, toDateTime(timestamp), timestamp, trace_id, span_id)
TTL toDateTime(timestamp) + INTERVAL ${retention_days} DAY
SETTINGS index_granularity = 1024, min_compress_block_size = 16384, max_compress_block_size = 65536, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;
