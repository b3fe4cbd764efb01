"""`existing_trace_ids`: which of a set of trace ids the store holds, in one query."""

from __future__ import annotations

import pytest

from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.store import ClickHouseTraceStore, SpanBatch
from tests.pipeline.store.store_data import span, trace_id


def test_existing_trace_ids_mixed_ids_returns_only_the_stored_ones(store: ClickHouseTraceStore) -> None:
    stored_a, stored_b, unknown = trace_id(), trace_id(), trace_id()
    store.insert(SpanBatch.from_spans([span(stored_a, 1), span(stored_b, 1), span(stored_b, 2, parent=1)]))

    found = store.existing_trace_ids([stored_a, stored_b.upper(), unknown, "not-hex", "", "0" * 32])

    assert found == {stored_a, stored_b}


def test_existing_trace_ids_no_ids_asks_nothing_and_finds_nothing(store: ClickHouseTraceStore) -> None:
    assert store.existing_trace_ids([]) == set()


def test_existing_trace_ids_more_than_a_thousand_ids_is_refused(store: ClickHouseTraceStore) -> None:
    with pytest.raises(ConfigError, match="trace_ids: at most 1000"):
        store.existing_trace_ids([f"{n:032x}" for n in range(1, 1002)])
    assert store.existing_trace_ids([f"{n:032x}" for n in range(1, 1001)]) == set()
