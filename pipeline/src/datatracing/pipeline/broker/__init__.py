"""Kafka plumbing: the embedded broker, topic administration, producers and the dead-letter topic."""

from __future__ import annotations

from datatracing.pipeline.broker._admin import (
    consumer_config,
    ensure_pipeline_topics,
    ensure_topics,
    make_producer,
    make_reader,
    producer_config,
    topic_specs,
)
from datatracing.pipeline.broker._deadletter import (
    HEADER_ERROR,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
    dead_letter_headers,
)
from datatracing.pipeline.broker._embedded import EmbeddedBroker, free_port, tansu_binary, wait_for_port

__all__ = [
    "HEADER_ERROR",
    "HEADER_SOURCE_OFFSET",
    "HEADER_SOURCE_PARTITION",
    "HEADER_SOURCE_TOPIC",
    "EmbeddedBroker",
    "consumer_config",
    "dead_letter_headers",
    "ensure_pipeline_topics",
    "ensure_topics",
    "free_port",
    "make_producer",
    "make_reader",
    "producer_config",
    "tansu_binary",
    "topic_specs",
    "wait_for_port",
]
