"""The sink: `sampled-spans` → ClickHouse in deduplicated batches, offsets committed after insert."""

from __future__ import annotations

from datatracing.pipeline.sink._agent import (
    SinkMessage,
    SinkStats,
    SinkWriter,
    batch_token,
    install_sink_agent,
)

__all__ = ["SinkMessage", "SinkStats", "SinkWriter", "batch_token", "install_sink_agent"]
