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
from datatracing.pipeline.sink._loop import SinkConsumerLoop
from datatracing.pipeline.sink._metrics import SinkCollector, sink_metrics_app, sink_metrics_text
from datatracing.pipeline.sink._timing import DurationHistogram

__all__ = [
    "DurationHistogram",
    "FaultCounters",
    "FaultInjectingStore",
    "SinkCollector",
    "SinkConsumerLoop",
    "SinkMessage",
    "SinkStats",
    "SinkWriter",
    "batch_token",
    "install_sink_agent",
    "sink_metrics_app",
    "sink_metrics_text",
]
