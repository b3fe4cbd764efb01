-- A shorter read path for get-by-id (measured on 10M bench spans; see schema/README.md).
--
-- `extras`: the span's rarely set fields (dropped counts, scope attributes, events, links) as one
-- JSON array, '' when they are all empty (nearly always, and then it costs nothing on disk).
-- Reading one column instead of seventeen cuts get-by-id by about a third. The sink sends it
-- (computed in Python for the few spans that have such fields; as a MATERIALIZED column the server
-- spent 2.3 µs per span on it at insert); the DEFAULT fills it for writers that leave it out and
-- for parts written before this migration.
-- The columns themselves stay, for SQL. Positions: dropped_attributes_count,
-- resource_dropped_attributes_count, scope_attributes, scope_dropped_attributes_count,
-- events.time_unix_nano, events.name, events.attributes, events.dropped_attributes_count,
-- dropped_events_count, links.trace_id (hex), links.span_id (hex), links.trace_state, links.flags,
-- links.attributes, links.dropped_attributes_count, dropped_links_count.

ALTER TABLE ${database}.spans
    ADD COLUMN IF NOT EXISTS extras String DEFAULT if(
        dropped_attributes_count = 0 AND resource_dropped_attributes_count = 0 AND scope_attributes = ''
            AND scope_dropped_attributes_count = 0 AND empty(events.name) AND dropped_events_count = 0
            AND empty(links.trace_id) AND dropped_links_count = 0,
        '',
        toJSONString((
            dropped_attributes_count, resource_dropped_attributes_count, scope_attributes,
            scope_dropped_attributes_count, events.time_unix_nano, events.name, events.attributes,
            events.dropped_attributes_count, dropped_events_count,
            arrayMap(x -> lower(hex(x)), links.trace_id), arrayMap(x -> lower(hex(x)), links.span_id),
            links.trace_state, links.flags, links.attributes, links.dropped_attributes_count,
            dropped_links_count
        ))
    ) CODEC(ZSTD(1));

-- Smaller compression blocks for `traces`, whose page summaries read a few scattered rows: one granule
-- of a column then decompresses 4-16 KiB instead of up to 1 MiB (12 -> 7 ms per page at 10M spans,
-- +0.3 B/span). (The same on `spans` cost 2.5 B/span for no gain in get-by-id.) New parts and
-- merges use them.
ALTER TABLE ${database}.traces MODIFY SETTING min_compress_block_size = 4096, max_compress_block_size = 16384;
