-- Fewer merges per span: background merges of `spans` wait until about ten parts of a similar size can
-- be merged together (`merge_selector_base` 10; ClickHouse's default is 5), so a row is rewritten
-- fewer times on its way to a large part. Measured in steady state (30 inserts of 10k spans,
-- background merges running until quiet, see schema/README.md "0009"): merge CPU per span about
-- halved, with about 11 instead of 4 parts left afterwards; the parts left are merged as more
-- arrive, and get-by-id reads the newest parts through the trace-id bloom filter of each.
ALTER TABLE ${database}.spans MODIFY SETTING merge_selector_base = 10;
