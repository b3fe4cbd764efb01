"""End to end under hostile input: a 1 MB-attribute trace and a 5 MB message among ordinary traces.

The sampler worker must never stop, every ordinary trace must be stored exactly, the big trace
stored whole, and the 5 MB message dead-lettered once, by reference, naming its offset.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
from confluent_kafka import Consumer, Producer, TopicPartition

from datatracing.model import Resource, Span
from datatracing.pipeline.broker import DEAD_LETTER_PREFIX_BYTES, read_source
from datatracing.pipeline.runtime._stack import Stack
from datatracing.wire import encode_spans, trace_key

MB = 1_000_000
BASE_NS = (time.time_ns() // 10**9 - 300) * 10**9


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.2)


def _trace(n: int, spans: int, blob: int = 0) -> tuple[str, list[Span]]:
    tid = uuid.UUID(int=(n << 64) | 0xE2E).hex
    out = [
        Span(
            trace_id=tid,
            span_id=f"{i + 1:016x}",
            parent_span_id=None if i == 0 else "0000000000000001",
            name=f"step {i}",
            start_time_unix_nano=BASE_NS + n * 10_000 + i,
            end_time_unix_nano=BASE_NS + n * 10_000 + i + 500,
            attributes={"blob": "z" * blob} if blob and i == 0 else {"i": i},
            resource=Resource(attributes={"service.name": "hostile-e2e"}),
        )
        for i in range(spans)
    ]
    return tid, out


def test_pipeline_big_trace_and_5mb_message_stored_or_dead_lettered_worker_never_stops(stack: Stack) -> None:
    topics = stack.settings.topics
    bootstrap = stack.settings.kafka.bootstrap_servers
    sampler_pid = stack.workers["sampler"].pid
    ordinary = [_trace(n, 4) for n in range(1, 16)]
    big_id, big_spans = _trace(100, 3, blob=MB)
    huge_id, huge_spans = _trace(101, 1, blob=5 * MB)
    huge = encode_spans(huge_spans)
    records = [(tid, encode_spans(spans)) for tid, spans in ordinary[:7]]
    records += [(big_id, encode_spans(big_spans)), (huge_id, huge)]
    records += [(tid, encode_spans(spans)) for tid, spans in ordinary[7:]]
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "message.max.bytes": 16 * 1024 * 1024,
            "partitioner": "murmur2_random",
        }
    )
    huge_at: list[tuple[int, int]] = []
    for tid, value in records:
        on_delivery = (lambda _e, m: huge_at.append((m.partition(), m.offset()))) if tid == huge_id else None
        producer.produce(topics.spans, key=trace_key(tid), value=value, on_delivery=on_delivery)
    assert producer.flush(30) == 0

    with httpx.Client(base_url=stack.query_url, timeout=30) as client:

        def stored(tid: str, count: int) -> bool:
            r = client.get(f"/v1/traces/{tid}")
            return r.status_code == 200 and len(r.json()["data"]["spans"]) == count

        _wait_for(lambda: all(stored(tid, 4) for tid, _ in ordinary), 120, "every ordinary trace stored")
        _wait_for(lambda: stored(big_id, 3), 60, "the 1 MB-attribute trace stored")
        for tid, spans in ordinary:
            got = client.get(f"/v1/traces/{tid}").json()["data"]["spans"]
            assert sorted(s["span_id"] for s in got) == sorted(s.span_id for s in spans)
        big = client.get(f"/v1/traces/{big_id}").json()["data"]["spans"]
        assert any(s["attributes"].get("blob") == "z" * MB for s in big)
        assert client.get(f"/v1/traces/{huge_id}").status_code == 404

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"hostile-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "fetch.max.bytes": 64 * 1024 * 1024,
        }
    )
    consumer.assign([TopicPartition(topics.dead_letter, 0, 0)])
    dead: list[tuple[tuple[str, int, int] | None, bytes]] = []

    def dead_lettered() -> bool:
        for message in consumer.consume(100, timeout=0.5):
            if not message.error():
                dead.append((read_source(message.headers()), message.value() or b""))
        return any(source == (topics.spans, *huge_at[0]) for source, _ in dead)

    try:
        _wait_for(dead_lettered, 60, "the 5 MB message's dead letter")
    finally:
        consumer.close()
    mine = [value for source, value in dead if source == (topics.spans, *huge_at[0])]
    assert mine == [huge[:DEAD_LETTER_PREFIX_BYTES]]
    # The sampler worker is the one that started: it never crashed or restarted.
    assert stack.workers["sampler"].poll() is None
    assert stack.workers["sampler"].pid == sampler_pid
