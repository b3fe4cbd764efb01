-- Sink batches are written as Compact parts (one data file) instead of Wide ones (two files per column,
-- about 200 per `spans` part), measured on 200k bench spans in one process, A/B interleaved:
-- inserting cost 7.6-8.0 -> 6.2-6.3 µs per span (creating ~200 files per part was a fifth of the
-- insert). A part with fewer than 65536 rows is Compact; merges of a few batches stay Compact, larger
-- merges are Wide as before. A Compact part is ~15% larger on disk (68 vs 60 B/span at 20k-span
-- batches) until merged. A sink batch larger than 65536 spans is written Wide, as before.
ALTER TABLE ${database}.spans MODIFY SETTING min_rows_for_wide_part = 65536;
