"""The store's write path: OTLP messages from `sampled-spans` into the Arrow columns of one insert.

Read in this order: `SpanBatch` (`_batch`) takes a batch of messages and returns rows and rejects. Two
decoders produce identical rows (a property test holds them to it):

- the engine decoder (`_engine`): ClickHouse itself parses the whole batch as protobuf and hands it
  back as nested Arrow, which `_engine_rows` flattens with Arrow kernels and `_engine_values` turns
  attribute values into map text and type codes;
- the Python decoder (`_python`): protobuf fields read one at a time, for the messages the engine
  path cannot take (and for stores without an engine decoder).

Both check spans against the pipeline's one set of rules (`datatracing.wire.invalid_span_reason`), so a
span the sampler kept is a span the store can write.
"""

from __future__ import annotations

from datatracing.pipeline.store.write._batch import SpanBatch
from datatracing.pipeline.store.write._engine import OtlpStage

__all__ = ["OtlpStage", "SpanBatch"]
