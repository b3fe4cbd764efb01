-- Wider merges of `spans`: a background merge waits until about thirty parts of a similar size can be
-- merged together (`merge_selector_base` 30, after 10 in 0009 and ClickHouse's default 5), so a row is
-- rewritten fewer times on its way to a large part (the number of rewrites is about the logarithm of
-- the data's size in sink batches, to that base). Measured on 2M and 4M bench spans in 20k-span
-- inserts, background merges running until quiet (schema/README.md "0010"): merge CPU per span 30%
-- lower (6.4 against 9.9 µs at 2M, 7.6 against 10.6 at 4M), with more parts left between merges
-- (17 against 12-13 at 4M); get-by-id and search over those parts within the runs' spread.
ALTER TABLE ${database}.spans MODIFY SETTING merge_selector_base = 30;
