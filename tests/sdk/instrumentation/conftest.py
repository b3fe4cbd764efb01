"""Collect this folder's garbage in this process, module by module.

Kafka clients caught in reference cycles (an exporter's bound-method callbacks) are freed only by the
cyclic GC; if that first runs in a child forked by a later test, librdkafka is destroyed there without
its threads and the child hangs or crashes. Collecting here destroys them where they were made.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def _collect_kafka_clients() -> Iterator[None]:
    yield
    gc.collect()
