-- `operations` is written by the store's inserts (the sink, `datatracing import`), which write only
-- the (tenant, service, name, kind) that are new to them or whose `last_seen` is over a minute old
-- (see pipeline/.../store/_catalog.py). The view wrote one more part on every insert into `spans`
-- for the same few dozen rows: 0.7-0.8 µs per span of a ~5.5 µs insert (A/B, 400k spans).
-- Writers other than the store that insert into `spans` with SQL insert their names into
-- `operations` too (see schema/README.md).

DROP VIEW IF EXISTS ${database}.operations_mv;
