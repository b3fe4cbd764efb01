"""What the sampler remembers on the broker about bad messages: dead letters already written, and
messages that crashed the worker.

Both are read when partitions are taken over (`SamplerRunner.assign`), from single-partition
compacted topics read whole (one record per key), never "to the end" by the high watermark.

- Dead letters are keyed by their source message (`dead_letter_key`); the keys already written
  for a partition are not written again by a replay. This is chosen over a transactional write
  (exactly-once producers are not something the embedded broker or Faust can be trusted with)
  and over a "dead-lettered up to offset" watermark (which would need its own durable write per
  dead letter): the dead letter is its own record of having been written. The cost is one read
  of the dead-letter topic per assignment; keep its retention proportionate.
- A crash that escapes the per-message quarantine (an exception that is not an `Exception`, a bug
  in the loop itself) is recorded by the dying loop against the message it was handling, as a
  count under `crash_key` on the quarantine topic. A message that crashed the worker
  `QUARANTINE_AFTER_CRASHES` times is skipped on the next start: dead-lettered by reference and
  passed over, so a supervisor's restarts end instead of looping. A process killed outright
  (SIGKILL, out of memory) records nothing; its replay is the ordinary at-least-once path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from confluent_kafka import KafkaException, Message, Producer, TopicPartition

from datatracing.pipeline.broker import make_reader, parse_dead_letter_key
from datatracing.pipeline.config import KafkaSettings
from datatracing.pipeline.errors import BrokerUnavailableError
from datatracing.pipeline.sampler._restore import true_end_offset

__all__ = [
    "QUARANTINE_AFTER_CRASHES",
    "crash_key",
    "read_crash_counts",
    "read_dead_letter_keys",
    "record_crash",
]

log = logging.getLogger(__name__)

#: Crashes on one message after which a start skips it.
QUARANTINE_AFTER_CRASHES = 2


def _scan(kafka: KafkaSettings, topic: str, visit: Callable[[Message], None], timeout_s: float) -> None:
    """Call `visit` on every record of `topic` partition 0, from its start to its true end."""
    consumer = make_reader(kafka, f"scan-{topic}")
    try:
        end = true_end_offset(consumer, topic, 0, timeout_s)
        low, _ = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout_s)
        if end <= low:
            return
        consumer.assign([TopicPartition(topic, 0, low)])
        deadline = time.monotonic() + timeout_s
        position = low
        while position < end:
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(f"reading {topic} timed out at {position}/{end}")
            for message in consumer.consume(1000, timeout=0.5):
                if message.error() is not None:
                    continue
                position = (message.offset() or 0) + 1
                visit(message)
    except KafkaException as exc:
        raise BrokerUnavailableError(f"reading {topic}: {exc}") from exc
    finally:
        consumer.close()


def read_dead_letter_keys(
    kafka: KafkaSettings,
    dead_letter_topic: str,
    stage: str,
    source_topic: str,
    partitions: Iterable[int],
    timeout_s: float = 30.0,
) -> dict[int, set[tuple[int, str]]]:
    """The (offset, part) of every dead letter `stage` wrote for `source_topic`'s `partitions`."""
    out: dict[int, set[tuple[int, str]]] = {p: set() for p in partitions}

    def visit(message: Message) -> None:
        ref = parse_dead_letter_key(message.key())
        if ref is not None and (ref.stage, ref.topic) == (stage, source_topic) and ref.partition in out:
            out[ref.partition].add((ref.offset, ref.part))

    _scan(kafka, dead_letter_topic, visit, timeout_s)
    return out


def crash_key(source_topic: str, partition: int, offset: int) -> bytes:
    return f"{source_topic}/{partition}/{offset}".encode()


def read_crash_counts(
    kafka: KafkaSettings,
    quarantine_topic: str,
    source_topic: str,
    partitions: Iterable[int],
    timeout_s: float = 30.0,
) -> dict[int, dict[int, int]]:
    """Partition → offset → how many times that message crashed the worker (latest record wins)."""
    out: dict[int, dict[int, int]] = {p: {} for p in partitions}

    def visit(message: Message) -> None:
        try:
            topic, partition, offset = (message.key() or b"").decode().rsplit("/", 2)
            count = int(message.value() or b"0")
            if topic == source_topic and int(partition) in out:
                out[int(partition)][int(offset)] = count
        except ValueError:
            log.warning("skipping an unreadable quarantine record at offset %s", message.offset())

    _scan(kafka, quarantine_topic, visit, timeout_s)
    return out


def record_crash(
    producer: Producer, quarantine_topic: str, key: bytes, count: int, timeout_s: float = 10.0
) -> bool:
    """Write a crash count and wait for the broker (the process is about to die); True when stored."""
    delivered: list[bool] = []
    try:
        producer.produce(
            quarantine_topic,
            key=key,
            value=str(count).encode(),
            on_delivery=lambda err, _msg: delivered.append(err is None),
        )
        producer.flush(timeout_s)
    except (KafkaException, BufferError) as exc:
        log.error("cannot record the crash on %s: %s", quarantine_topic, exc)
        return False
    return delivered == [True]
