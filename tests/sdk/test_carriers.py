"""Getters and setters for each transport carry the W3C headers both ways."""

from __future__ import annotations

import email.message
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from datatracing.sdk import (
    Context,
    Getter,
    NonRecordingSpan,
    Setter,
    SpanContext,
    asgi_getter,
    asgi_setter,
    dict_getter,
    dict_setter,
    extract,
    get_current_span,
    headers_getter,
    inject,
    kafka_getter,
    kafka_setter,
    set_baggage,
    set_span_in_context,
    wsgi_getter,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"


def _sent_context() -> Context:
    ctx = set_span_in_context(NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, 1, "v=1")), Context())
    return set_baggage("tenant", "acme corp", ctx)


def _round_trip(carrier: Any, setter: Setter, getter: Getter) -> Context:
    inject(carrier, _sent_context(), setter)
    return extract(carrier, Context(), getter)


def _assert_received(ctx: Context) -> None:
    span_ctx = get_current_span(ctx).span_context
    assert (span_ctx.trace_id, span_ctx.span_id, span_ctx.trace_state) == (TRACE_ID, SPAN_ID, "v=1")
    from datatracing.sdk import get_baggage

    assert get_baggage("tenant", ctx) == "acme corp"


def test_dict_carrier_round_trip_context_kept() -> None:
    _assert_received(_round_trip({}, dict_setter, dict_getter))


def test_kafka_list_headers_round_trip_bytes_values() -> None:
    headers: list[tuple[str, bytes]] = [("traceparent", b"stale"), ("other", b"x")]
    _assert_received(_round_trip(headers, kafka_setter, kafka_getter))
    assert [k for k, _ in headers].count("traceparent") == 1
    assert all(isinstance(v, bytes) for _, v in headers)


def test_kafka_dict_headers_round_trip() -> None:
    _assert_received(_round_trip({}, kafka_setter, kafka_getter))


def test_asgi_scope_headers_round_trip() -> None:
    message: dict[str, Any] = {"type": "http.response.start", "headers": [(b"content-type", b"text/plain")]}
    inject(message, _sent_context(), asgi_setter)
    scope = {"type": "http", "headers": message["headers"]}
    _assert_received(extract(scope, Context(), asgi_getter))
    assert (b"traceparent", TRACEPARENT.encode()) in message["headers"]


def test_wsgi_environ_http_prefixed_keys_read() -> None:
    environ = {
        "HTTP_TRACEPARENT": TRACEPARENT,
        "HTTP_TRACESTATE": "v=1",
        "HTTP_BAGGAGE": "tenant=acme%20corp",
    }
    _assert_received(extract(environ, Context(), wsgi_getter))
    assert set(wsgi_getter.keys(environ)) == {"traceparent", "tracestate", "baggage"}


def test_headers_getter_mixed_case_and_message_objects() -> None:
    assert headers_getter.get({"TRACEPARENT": TRACEPARENT}, "traceparent") == [TRACEPARENT]
    assert headers_getter.get({b"traceparent": TRACEPARENT.encode()}, "traceparent") == [TRACEPARENT]
    message = email.message.Message()
    message["TraceParent"] = TRACEPARENT
    assert headers_getter.get(message, "traceparent") == [TRACEPARENT]


@given(
    st.one_of(st.none(), st.integers(), st.text(), st.lists(st.tuples(st.text(), st.binary())), st.binary())
)
def test_getters_setters_wrong_carrier_shape_never_raise(carrier: Any) -> None:
    for getter in (dict_getter, headers_getter, asgi_getter, wsgi_getter, kafka_getter):
        extract(carrier, Context(), getter)
        getter.keys(carrier)
    for setter in (dict_setter, asgi_setter, kafka_setter):
        inject(carrier, _sent_context(), setter)
