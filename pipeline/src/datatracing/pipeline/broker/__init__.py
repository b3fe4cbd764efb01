"""Kafka plumbing: the embedded broker, topic administration, producers, the Faust app factory the
workers share, record header types and the dead-letter topic."""

from __future__ import annotations

from datatracing.pipeline.broker._admin import (
    check_topic_sizes,
    consumer_config,
    ensure_pipeline_topics,
    ensure_topics,
    kafka_producer,
    make_producer,
    make_reader,
    producer_config,
    topic_specs,
)
from datatracing.pipeline.broker._deadletter import (
    DEAD_LETTER_PREFIX_BYTES,
    HEADER_ERROR,
    HEADER_ERROR_CLASS,
    HEADER_PAYLOAD_BYTES,
    HEADER_PAYLOAD_TRUNCATED,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
    HEADER_STAGE,
    SourceRef,
    bounded_payload,
    dead_letter_headers,
    dead_letter_key,
    parse_dead_letter_key,
    read_source,
    source_headers,
)
from datatracing.pipeline.broker._embedded import EmbeddedBroker, free_port, tansu_binary, wait_for_port
from datatracing.pipeline.broker._faust import make_faust_app, raw_topic
from datatracing.pipeline.broker._headers import Headers, KafkaHeaders

__all__ = [
    "DEAD_LETTER_PREFIX_BYTES",
    "HEADER_ERROR",
    "HEADER_ERROR_CLASS",
    "HEADER_PAYLOAD_BYTES",
    "HEADER_PAYLOAD_TRUNCATED",
    "HEADER_SOURCE_OFFSET",
    "HEADER_SOURCE_PARTITION",
    "HEADER_SOURCE_TOPIC",
    "HEADER_STAGE",
    "EmbeddedBroker",
    "Headers",
    "KafkaHeaders",
    "SourceRef",
    "bounded_payload",
    "check_topic_sizes",
    "consumer_config",
    "dead_letter_headers",
    "dead_letter_key",
    "ensure_pipeline_topics",
    "ensure_topics",
    "free_port",
    "kafka_producer",
    "make_faust_app",
    "make_producer",
    "make_reader",
    "parse_dead_letter_key",
    "producer_config",
    "raw_topic",
    "read_source",
    "source_headers",
    "tansu_binary",
    "topic_specs",
    "wait_for_port",
]
