"""One size contract from producer to store: every limit comes from `kafka.max_message_bytes`."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from datatracing.pipeline.broker import (
    check_topic_sizes,
    consumer_config,
    ensure_pipeline_topics,
    producer_config,
    topic_specs,
)
from datatracing.pipeline.config import (
    RECORD_OVERHEAD_BYTES,
    KafkaSettings,
    TopicSettings,
    load_settings,
    wire_max_bytes,
)
from datatracing.pipeline.errors import ConfigError

MIB = 1024 * 1024


def test_settings_sampler_limit_follows_kafka_contract() -> None:
    settings = load_settings(kafka={"max_message_bytes": 2 * MIB})
    assert settings.sampler.max_message_bytes == 2 * MIB
    assert settings.ingest.max_message_bytes <= 2 * MIB


def test_settings_sampler_limit_set_apart_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"sampler\.max_message_bytes"):
        load_settings(sampler={"max_message_bytes": 1000})


def test_settings_producer_limit_below_contract_refused() -> None:
    with pytest.raises(ConfigError, match=r"message\.max\.bytes"):
        load_settings(kafka={"producer": {"message.max.bytes": 1_000_000}})


def test_settings_consumer_fetch_below_contract_refused() -> None:
    with pytest.raises(ConfigError, match=r"fetch\.max\.bytes"):
        load_settings(kafka={"max_message_bytes": 8 * MIB, "consumer": {"fetch.max.bytes": 4 * MIB}})


def test_settings_ingest_cut_above_contract_refused() -> None:
    with pytest.raises(ConfigError, match=r"ingest\.max_message_bytes"):
        load_settings(kafka={"max_message_bytes": 256 * 1024}, ingest={"max_message_bytes": 900_000})


def test_client_configs_carry_a_whole_record_of_the_contract() -> None:
    wire = wire_max_bytes(8 * MIB)
    assert wire == 8 * MIB + RECORD_OVERHEAD_BYTES
    assert producer_config("x:1", max_message_bytes=8 * MIB)["message.max.bytes"] == wire
    consumer = consumer_config("x:1", "g", 6000, max_message_bytes=8 * MIB)
    assert consumer["fetch.max.bytes"] >= wire
    assert consumer["receive.message.max.bytes"] >= consumer["fetch.max.bytes"] + 512
    specs = [s for s in topic_specs(TopicSettings(), 8 * MIB) if s.topic != TopicSettings().quarantine]
    assert {s.config["max.message.bytes"] for s in specs} == {str(wire)}
    dead_letter = next(s for s in specs if s.topic == TopicSettings().dead_letter)
    assert dead_letter.config["cleanup.policy"] == "compact"


def test_producer_of_contract_sends_a_message_the_default_producer_refuses(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("size", **{"max.message.bytes": str(wire_max_bytes(4 * MIB))})
    value = os.urandom(2 * MIB)  # incompressible: the contract holds with compression on
    with pytest.raises(Exception, match="MSG_SIZE_TOO_LARGE"):
        Producer({"bootstrap.servers": kafka_bootstrap}).produce(topic, value=value)
    producer = Producer(producer_config(kafka_bootstrap))
    errors: list[object] = []
    producer.produce(topic, value=value, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0
    assert errors == [None]


def test_check_topic_sizes_existing_topic_below_contract_refused(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    small = topic_factory("small", **{"max.message.bytes": "1000000"})
    specs = [s for s in topic_specs(TopicSettings(spans=small)) if s.topic == small]
    with pytest.raises(ConfigError, match=small):
        check_topic_sizes(kafka_bootstrap, specs)
    fine = topic_factory("fine", **{"max.message.bytes": str(wire_max_bytes(4 * MIB))})
    check_topic_sizes(kafka_bootstrap, [s for s in topic_specs(TopicSettings(spans=fine)) if s.topic == fine])


def test_ensure_pipeline_topics_small_output_topic_refused_small_input_topic_accepted(
    kafka_bootstrap: str, topic_factory: Callable[..., str]
) -> None:
    small_spans = topic_factory("spans", **{"max.message.bytes": "1000000"})
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    suffix = small_spans.rsplit("-", 1)[1]
    fine = TopicSettings(
        spans=small_spans,
        sampled=f"sampled-{suffix}",
        decisions=f"decisions-{suffix}",
        dead_letter=f"dlq-{suffix}",
    )
    ensure_pipeline_topics(kafka, fine)
    small_sampled = topic_factory("sampled", **{"max.message.bytes": "1000000"})
    with pytest.raises(ConfigError, match=small_sampled):
        ensure_pipeline_topics(kafka, fine.model_copy(update={"sampled": small_sampled}))
