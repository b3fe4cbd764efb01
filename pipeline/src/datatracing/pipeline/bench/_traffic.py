"""The one synthetic-traffic generator of the benchmarks: realistic traces, deterministic by seed.

A trace is a root server span and children over one or several services, with skewed durations
(log-normal, a slow tail) and a share of failing traces (status ERROR, HTTP 500, an exception event).
`TrafficShape` says what each suite needs: the service catalog, spans per trace, the attribute set,
the error rate, how traces are cut into messages and how many traces one request carries.

One function per output form:
- `synthetic_traces` / `synthetic_trace`: model spans;
- `trace_messages`: OTLP protobuf messages keyed by `wire.trace_key` of the trace id, one trace cut into
  up to `max_chunks` messages, with a virtual arrival time, as producers put them on the spans topic;
- `otlp_payloads`: OTLP/HTTP request bodies of `traces_per_request` whole traces, as a batch exporter
  posts them to the gateway.
Messages are encoded with `datatracing.wire.encode_spans`, the encoder the pipeline itself uses.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Literal, NamedTuple

from datatracing.model import Attributes, Resource, Span, SpanEvent, SpanKind, Status, StatusCode
from datatracing.wire import encode_spans, trace_key

__all__ = [
    "PIPELINE_SERVICES",
    "SERVICES",
    "SHOP_SERVICES",
    "Catalog",
    "TraceMessage",
    "TrafficShape",
    "otlp_payloads",
    "synthetic_trace",
    "synthetic_traces",
    "trace_messages",
]

#: A service catalog: (service name, its operation names), the first service roots every trace.
Catalog = tuple[tuple[str, tuple[str, ...]], ...]

#: A data pipeline: an ingest API, consumers transforming records, a warehouse loader.
PIPELINE_SERVICES: Catalog = tuple(
    (service, tuple(f"{service}.{op}" for op in ("handle", "produce", "transform", "query", "load")))
    for service in ("ingest-api", "enricher", "warehouse-loader", "feature-store", "fraud-scorer")
)
SERVICES = tuple(name for name, _ in PIPELINE_SERVICES)

#: A web shop: a frontend, back-end services, a Kafka consumer and a database.
SHOP_SERVICES: Catalog = (
    ("frontend", ("GET /", "GET /cart", "POST /checkout", "GET /product/{id}", "GET /search")),
    ("cart", ("GetCart", "AddItem", "EmptyCart")),
    ("checkout", ("PlaceOrder", "ValidateOrder")),
    ("payments", ("Charge", "Refund", "Authorize")),
    ("inventory", ("Reserve", "Release", "Lookup")),
    ("shipping", ("Quote", "Ship")),
    ("orders-consumer", ("process orders", "process refunds")),
    ("postgres", ("SELECT orders", "INSERT orders", "UPDATE stock", "SELECT products")),
)

_ROUTES = ("/api/cart", "/api/items/{id}", "/api/search", "/api/pay")
_MS = 1_000_000


@dataclass(frozen=True)
class TrafficShape:
    """What the generated traffic looks like; every suite states its own."""

    #: Spans per trace: uniform in [min_spans, max_spans], or log-normal around `median_spans`, clipped.
    min_spans: int = 5
    max_spans: int = 50
    median_spans: float | None = None
    #: Share of traces holding failed spans (the root and about a third of the others).
    error_rate: float = 0.05
    #: Start of the first trace; None: one hour ago (recent, so store retention keeps the rows).
    base_time_ns: int | None = None
    #: Between the starts of consecutive traces.
    trace_interval_ns: int = _MS
    #: Median root-span duration (log-normal, sigma 1); children fall inside the root.
    median_duration_ms: float = 20.0
    services: Catalog = PIPELINE_SERVICES
    #: True: every span of a trace is in one service (drawn per trace), one resource per message.
    one_service_per_trace: bool = False
    #: "pipeline": ten job, stage and messaging attributes; "web": HTTP request attributes with long
    #: URLs and a user id (8-10 per span); "compact": four HTTP attributes.
    attributes: Literal["pipeline", "web", "compact"] = "pipeline"
    #: `trace_messages` cuts a trace into 1..max_chunks messages arriving over `chunk_spread_ns`.
    max_chunks: int = 1
    chunk_spread_ns: int = 100 * _MS
    #: The root span is the last of its trace (it ends last, so an SDK exports it last).
    root_last: bool = False
    #: Whole traces per `otlp_payloads` request.
    traces_per_request: int = 1


class TraceMessage(NamedTuple):
    """One message of the spans topic: key, OTLP payload, its span count, virtual arrival time."""

    key: bytes
    payload: bytes
    spans: int
    arrival_ns: int


def _hex(rng: random.Random, nbytes: int) -> str:
    value = rng.getrandbits(nbytes * 8) or 1
    return f"{value:0{nbytes * 2}x}"


def _span_count(rng: random.Random, shape: TrafficShape) -> int:
    if shape.median_spans is None:
        return rng.randint(shape.min_spans, shape.max_spans)
    drawn = int(rng.lognormvariate(0.0, 0.5) * shape.median_spans)
    return min(shape.max_spans, max(shape.min_spans, drawn))


def _resource(service: str, host: int, tier: str) -> Resource:
    return Resource(
        attributes={
            "service.name": service,
            "service.version": "1.4.2",
            "deployment.environment": "bench",
            "host.name": f"{service}-{host}",
            "tenant.tier": tier,
        }
    )


_RESOURCES: dict[tuple[str, int, str], Resource] = {}


def _cached_resource(service: str, host: int, tier: str) -> Resource:
    # One object per (service, host, tier): encode_spans groups consecutive spans by identity first.
    key = (service, host, tier)
    found = _RESOURCES.get(key)
    if found is None:
        found = _RESOURCES[key] = _resource(service, host, tier)
    return found


def _attributes(
    rng: random.Random, shape: TrafficShape, service: str, name: str, status: int, user: str
) -> Attributes:
    if shape.attributes == "compact":
        route = "/admin/users" if rng.random() < 0.0005 else rng.choice(_ROUTES)
        return {
            "http.method": "GET",
            "http.route": route,
            "http.status_code": status,
            "net.peer.name": f"10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
        }
    if shape.attributes == "web":
        attrs: Attributes = {
            "http.method": rng.choice(("GET", "GET", "POST", "PUT")),
            "http.url": f"https://shop.example/{name.lower().replace(' ', '/')}?id={rng.randrange(10**6)}",
            "http.route": name,
            "user.id": user,
            "net.peer.name": rng.choice(shape.services)[0],
            "thread.name": f"worker-{rng.randrange(16)}",
        }
        if service == "postgres":
            attrs["db.system"] = "postgresql"
        if service == "orders-consumer":
            attrs["messaging.destination.name"] = "orders"
        attrs["http.status_code"] = status
        attrs["thread.id"] = rng.randrange(64)
        return attrs
    return {
        "pipeline.job": "orders-etl",
        "pipeline.stage": rng.choice(("ingest", "transform", "load")),
        "pipeline.records.in": rng.randint(1, 5000),
        "messaging.system": "kafka",
        "messaging.destination.name": rng.choice(("orders", "payments", "enriched-orders")),
        "db.system": "clickhouse",
        "http.request.method": rng.choice(("GET", "POST")),
        "http.response.status_code": status,
        "customer.tier": rng.choice(("free", "pro", "enterprise")),
        "retry": rng.random() < 0.1,
    }


def _processes(rng: random.Random, shape: TrafficShape) -> tuple[dict[str, int], str]:
    """The host of each service and the tenant tier: what the resources of one trace say."""
    return {name: rng.randrange(4) for name, _ in shape.services}, rng.choice(("gold", "free"))


def synthetic_trace(rng: random.Random, shape: TrafficShape, start_ns: int) -> list[Span]:
    """One trace starting at `start_ns`, its root first (or last with `shape.root_last`)."""
    return _trace(rng, shape, start_ns, _processes(rng, shape))


def _trace(
    rng: random.Random, shape: TrafficShape, start_ns: int, processes: tuple[dict[str, int], str]
) -> list[Span]:
    hosts, tier = processes
    trace_id = _hex(rng, 16)
    n = _span_count(rng, shape)
    failing = rng.random() < shape.error_rate
    total_ns = max(n * 1000, int(rng.lognormvariate(0.0, 1.0) * shape.median_duration_ms * _MS))
    user = f"user-{rng.randrange(100_000)}"
    trace_service = rng.choice(shape.services) if shape.one_service_per_trace else shape.services[0]
    root_id = _hex(rng, 8)
    ids = [root_id]
    spans: list[Span] = []
    for i in range(n):
        if i == 0 or shape.one_service_per_trace:
            service, operations = trace_service
        else:
            service, operations = rng.choice(shape.services[1:] or shape.services)
        span_id = root_id if i == 0 else _hex(rng, 8)
        offset = 0 if i == 0 else rng.randrange(max(1, total_ns * 4 // 5))
        duration = (
            total_ns if i == 0 else max(1000, min(total_ns - offset, int(rng.lognormvariate(14.9, 1.2))))
        )
        failed = failing and (i == 0 or rng.random() < 0.3)
        status = 500 if failed else rng.choice((200, 200, 200, 200, 200, 200, 200, 201, 404))
        name = rng.choice(operations)
        end = start_ns + offset + duration
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=None if i == 0 else rng.choice(ids),
                name=name,
                kind=SpanKind.SERVER
                if i == 0
                else rng.choice((SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER)),
                start_time_unix_nano=start_ns + offset,
                end_time_unix_nano=end,
                attributes=_attributes(rng, shape, service, name, status, user),
                events=(
                    SpanEvent(
                        name="exception", time_unix_nano=end, attributes={"exception.type": "HTTPError"}
                    ),
                )
                if failed
                else (),
                status=Status(code=StatusCode.ERROR, message="upstream returned 500") if failed else Status(),
                resource=_cached_resource(service, hosts[service], tier),
            )
        )
        if i:
            ids.append(span_id)
    if shape.root_last:
        spans.append(spans.pop(0))
    return spans


def _base(shape: TrafficShape) -> int:
    return shape.base_time_ns if shape.base_time_ns is not None else time.time_ns() - 3600 * 10**9


def synthetic_traces(count: int, *, seed: int = 7, shape: TrafficShape | None = None) -> list[list[Span]]:
    """`count` traces, `shape.trace_interval_ns` apart."""
    rng = random.Random(seed)
    shape = shape or TrafficShape()
    base = _base(shape)
    return [synthetic_trace(rng, shape, base + i * shape.trace_interval_ns) for i in range(count)]


def _grouped(spans: list[Span]) -> list[Span]:
    """The spans with each resource's together (first appearance order): one group per service."""
    order: dict[int, list[Span]] = {}
    for span in spans:
        order.setdefault(id(span.resource), []).append(span)
    return [span for group in order.values() for span in group]


def _chunks(rng: random.Random, spans: list[Span], max_chunks: int) -> list[list[Span]]:
    cuts = sorted(rng.sample(range(1, len(spans)), rng.randint(0, min(max_chunks, len(spans)) - 1)))
    return [spans[lo:hi] for lo, hi in zip([0, *cuts], [*cuts, len(spans)], strict=True)]


def trace_messages(
    traces: int | None = None, *, spans: int | None = None, seed: int = 7, shape: TrafficShape | None = None
) -> list[TraceMessage]:
    """Keyed OTLP messages of `traces` traces (or of whole traces totalling at least `spans` spans),
    in arrival order: a trace's chunks arrive over `shape.chunk_spread_ns` from its start."""
    if (traces is None) == (spans is None):
        raise ValueError("trace_messages: pass exactly one of traces= or spans=")
    rng = random.Random(seed)
    shape = shape or TrafficShape()
    base = _base(shape)
    arrivals: list[tuple[int, int, TraceMessage]] = []
    made = index = 0
    while (index < traces) if traces is not None else (made < (spans or 0)):
        start = base + index * shape.trace_interval_ns
        trace = synthetic_trace(rng, shape, start)
        key = trace_key(trace[0].trace_id)
        chunks = _chunks(rng, trace, shape.max_chunks)
        for k, chunk in enumerate(chunks):
            at = start + k * shape.chunk_spread_ns // len(chunks)
            arrivals.append(
                (at, len(arrivals), TraceMessage(key, encode_spans(_grouped(chunk)), len(chunk), at))
            )
        made += len(trace)
        index += 1
    arrivals.sort()
    return [message for _, _, message in arrivals]


def otlp_payloads(count: int, *, seed: int = 7, shape: TrafficShape | None = None) -> list[bytes]:
    """`count` OTLP/HTTP protobuf request bodies of `shape.traces_per_request` whole traces each."""
    rng = random.Random(seed)
    shape = shape or TrafficShape()
    base = _base(shape)
    out: list[bytes] = []
    for i in range(count):
        # A request is one batch of one exporter: the same hosts and tier for all its traces.
        processes = _processes(rng, shape)
        spans: list[Span] = []
        for t in range(shape.traces_per_request):
            start = base + (i * shape.traces_per_request + t) * shape.trace_interval_ns
            spans.extend(_trace(rng, shape, start, processes))
        out.append(encode_spans(_grouped(spans)))
    return out
