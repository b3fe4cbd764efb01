"""The sink: `sampled-spans` → ClickHouse in deduplicated batches, offsets committed after insert."""

from __future__ import annotations

from datatracing.pipeline.sink._agent import (
    SinkMessage,
    SinkStats,
    SinkWriter,
    batch_token,
    install_sink_agent,
)
from datatracing.pipeline.sink._faults import FaultCounters, FaultInjectingStore

__all__ = [
    "FaultCounters",
    "FaultInjectingStore",
    "SinkMessage",
    "SinkStats",
    "SinkWriter",
    "batch_token",
    "install_sink_agent",
]
