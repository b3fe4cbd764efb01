"""Kafka record headers, as our code passes them to and reads them from confluent-kafka."""

from __future__ import annotations

from collections.abc import Sequence

#: Headers as confluent-kafka's consumer returns them (and as our readers accept them).
Headers = Sequence[tuple[str, bytes | None]]
#: Headers as confluent-kafka's producer takes them.
KafkaHeaders = list[tuple[str, str | bytes | None]]
