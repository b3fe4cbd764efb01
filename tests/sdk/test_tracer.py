"""Tracer and span behaviour: ids, parenting, current span, decorators, exceptions, limits."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from datatracing.errors import UsageError
from datatracing.sdk import (
    ALWAYS_OFF,
    INVALID_SPAN,
    InMemorySpanExporter,
    Link,
    NonRecordingSpan,
    ParentBasedSampler,
    SimpleSpanProcessor,
    SpanContext,
    SpanKind,
    SpanLimits,
    StatusCode,
    TraceIdRatioSampler,
    Tracer,
    TracerProvider,
    get_current_span,
    suppress_instrumentation,
    use_span,
)

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def test_start_span_new_root_has_valid_w3c_ids(tracer: Tracer) -> None:
    span = tracer.start_span("root")
    ctx = span.span_context
    assert HEX32.match(ctx.trace_id)
    assert ctx.trace_id != "0" * 32
    assert HEX16.match(ctx.span_id)
    assert ctx.span_id != "0" * 16
    assert ctx.trace_flags == 1
    assert not ctx.is_remote
    assert span.is_recording()


def test_start_span_many_roots_ids_unique(tracer: Tracer) -> None:
    spans = [tracer.start_span("s") for _ in range(2000)]
    assert len({s.span_context.trace_id for s in spans}) == 2000
    assert len({s.span_context.span_id for s in spans}) == 2000


def test_start_as_current_span_nested_child_has_parent(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("parent") as parent:
        assert get_current_span() is parent
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT):
            pass
    assert get_current_span() is INVALID_SPAN
    child, root = exporter.get_finished_spans()
    assert child.trace_id == root.trace_id
    assert child.parent_span_id == root.span_id
    assert root.parent_span_id is None
    assert child.kind is SpanKind.CLIENT
    assert root.resource.service_name == "test-service"
    assert (root.scope.name, root.scope.version) == ("tests.sdk", "1.0")


def test_span_attributes_events_links_status_model_has_them(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    other = tracer.start_span("other").span_context
    span = tracer.start_span("op", attributes={"a": 1, "b": "x"}, links=[Link(other, {"why": "batch"})])
    span.set_attribute("c", [1, 2])
    span.set_attributes({"d": {"nested": True}, "e": 2.5, "f": b"\x00"})
    span.add_event("checkpoint", {"n": 3}, timestamp=5)
    span.add_link(other)
    span.set_status(StatusCode.ERROR, "broken")
    span.update_name("renamed")
    span.end()
    (model,) = exporter.get_finished_spans()
    assert model.name == "renamed"
    assert model.attributes == {"a": 1, "b": "x", "c": [1, 2], "d": {"nested": True}, "e": 2.5, "f": b"\x00"}
    assert model.events[0].name == "checkpoint"
    assert model.events[0].time_unix_nano == 5
    assert [link.span_id for link in model.links] == [other.span_id, other.span_id]
    assert model.links[0].attributes == {"why": "batch"}
    assert (model.status.code, model.status.message) == (StatusCode.ERROR, "broken")


def test_set_attribute_invalid_values_dropped_not_raised(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    span = tracer.start_span("op")
    span.set_attribute("none", None)
    span.set_attribute("object", object())
    span.set_attribute("huge", 2**70)
    span.set_attribute("", "empty key")
    span.set_attribute(3, "not a str key")  # type: ignore[arg-type]
    span.set_attribute("tuple", ("a", "b"))
    span.end()
    assert exporter.get_finished_spans()[0].attributes == {"tuple": ["a", "b"]}


def test_end_twice_second_call_no_op(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    span = tracer.start_span("op", start_time_unix_nano=100)
    span.end(200)
    span.end(300)
    span.set_attribute("late", 1)
    (model,) = exporter.get_finished_spans()
    assert model.end_time_unix_nano == 200
    assert "late" not in model.attributes
    assert not span.is_recording()


def test_end_before_start_clamped_to_start(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    tracer.start_span("op", start_time_unix_nano=1000).end(10)
    assert exporter.get_finished_spans()[0].duration_ns == 0


def test_start_as_current_span_exception_escapes_error_recorded(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(KeyError), tracer.start_as_current_span("failing"):
        raise KeyError("missing")
    (model,) = exporter.get_finished_spans()
    assert model.status.code is StatusCode.ERROR
    assert "KeyError" in model.status.message
    (event,) = model.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "KeyError"
    assert event.attributes["exception.message"] == "'missing'"
    assert "Traceback" in str(event.attributes["exception.stacktrace"])


def test_set_status_ok_final_unset_ignored(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    span = tracer.start_span("op")
    span.set_status(StatusCode.UNSET)
    span.set_status(StatusCode.OK, "ignored description")
    span.set_status(StatusCode.ERROR, "too late")
    span.end()
    status = exporter.get_finished_spans()[0].status
    assert (status.code, status.message) == (StatusCode.OK, "")


def test_traced_sync_and_async_functions_make_spans(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    @tracer.traced
    def bare(x: int) -> int:
        return x + 1

    @tracer.traced("custom", kind=SpanKind.SERVER)
    async def handler(x: int) -> int:
        await asyncio.sleep(0)
        assert get_current_span().is_recording()
        return x * 2

    assert bare(1) == 2
    assert asyncio.run(handler(3)) == 6
    names = [(s.name, s.kind) for s in exporter.get_finished_spans()]
    assert names == [(bare.__qualname__, SpanKind.INTERNAL), ("custom", SpanKind.SERVER)]


def test_traced_async_exception_recorded_and_reraised(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    @tracer.traced()
    async def boom() -> None:
        raise RuntimeError("bad")

    with pytest.raises(RuntimeError):
        asyncio.run(boom())
    assert exporter.get_finished_spans()[0].status.code is StatusCode.ERROR


def test_current_span_concurrent_tasks_isolated(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    async def worker(name: str) -> None:
        with tracer.start_as_current_span(name):
            await asyncio.sleep(0.01)
            with tracer.start_as_current_span(name + ".child"):
                await asyncio.sleep(0)

    async def main() -> None:
        with tracer.start_as_current_span("root"):
            await asyncio.gather(worker("a"), worker("b"))

    asyncio.run(main())
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["a.child"].parent_span_id == spans["a"].span_id
    assert spans["b.child"].parent_span_id == spans["b"].span_id
    assert spans["a"].parent_span_id == spans["root"].span_id == spans["b"].parent_span_id


def test_current_span_other_thread_not_inherited(tracer: Tracer) -> None:
    seen: list[object] = []
    with tracer.start_as_current_span("main"):
        thread = threading.Thread(target=lambda: seen.append(get_current_span()))
        thread.start()
        thread.join()
    assert seen == [INVALID_SPAN]


def test_use_span_end_on_exit_ends_span(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    span = tracer.start_span("manual")
    with use_span(span, end_on_exit=True):
        assert get_current_span() is span
    assert [s.name for s in exporter.get_finished_spans()] == ["manual"]


def test_explicit_context_parent_overrides_current(tracer: Tracer) -> None:
    from datatracing.sdk import set_span_in_context

    remote = SpanContext("a" * 32, "b" * 16, 1, "k=v", is_remote=True)
    ctx = set_span_in_context(NonRecordingSpan(remote))
    with tracer.start_as_current_span("unrelated"):
        span = tracer.start_span("child", context=ctx)
    assert span.span_context.trace_id == "a" * 32
    assert span.span_context.trace_state == "k=v"


def test_remote_parent_flags_mark_remote_in_otlp_flags(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    from datatracing.sdk import set_span_in_context

    remote = SpanContext("a" * 32, "b" * 16, 1, is_remote=True)
    tracer.start_span("child", context=set_span_in_context(NonRecordingSpan(remote))).end()
    tracer.start_span("root").end()
    child, root = exporter.get_finished_spans()
    assert child.flags == 0x301
    assert root.flags == 0x101


def test_unsampled_parent_default_sampler_not_recording(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    from datatracing.sdk import set_span_in_context

    parent = SpanContext("a" * 32, "b" * 16, 0, is_remote=True)
    span = tracer.start_span("child", context=set_span_in_context(NonRecordingSpan(parent)))
    assert not span.is_recording()
    assert span.span_context.trace_id == "a" * 32
    assert span.span_context.trace_flags == 0
    span.end()
    assert exporter.get_finished_spans() == []


@pytest.mark.parametrize(("ratio", "expected"), [(0.0, 0), (1.0, 200)])
def test_ratio_sampler_bounds_sample_none_or_all(ratio: float, expected: int) -> None:
    provider = TracerProvider(sampler=ParentBasedSampler(TraceIdRatioSampler(ratio)), shutdown_on_exit=False)
    tracer = provider.get_tracer("t")
    assert sum(tracer.start_span("s").is_recording() for _ in range(200)) == expected


def test_ratio_sampler_half_samples_about_half() -> None:
    provider = TracerProvider(sampler=TraceIdRatioSampler(0.5), shutdown_on_exit=False)
    tracer = provider.get_tracer("t")
    assert 800 < sum(tracer.start_span("s").is_recording() for _ in range(2000)) < 1200


def test_ratio_sampler_out_of_range_usage_error() -> None:
    with pytest.raises(UsageError):
        TraceIdRatioSampler(1.5)


def test_always_off_sampler_propagates_context_only() -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)
    span = provider.get_tracer("t").start_span("s")
    assert not span.is_recording()
    assert span.span_context.is_valid


def test_suppress_instrumentation_spans_not_recorded(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with suppress_instrumentation():
        span = tracer.start_span("hidden")
        span.end()
    assert not span.is_recording()
    assert exporter.get_finished_spans() == []


def test_span_limits_excess_counted_as_dropped(exporter: InMemorySpanExporter) -> None:
    limits = SpanLimits(max_attributes=2, max_events=1, max_links=1, max_attribute_length=3)
    provider = TracerProvider(span_limits=limits, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    other = tracer.start_span("o").span_context
    span = tracer.start_span("s", attributes={"a": "abcdef", "b": 1, "c": 2}, links=[other, other])
    span.set_attribute("d", 4)
    span.set_attribute("a", "xyzxyz")
    span.add_event("e1")
    span.add_event("e2")
    span.add_link(other)
    span.end()
    (model,) = exporter.get_finished_spans()
    assert model.attributes == {"a": "xyz", "b": 1}
    assert (model.dropped_attributes_count, model.dropped_events_count, model.dropped_links_count) == (
        2,
        1,
        2,
    )


def test_provider_shutdown_later_spans_not_recorded(provider: TracerProvider, tracer: Tracer) -> None:
    provider.shutdown()
    provider.shutdown()
    assert not tracer.start_span("late").is_recording()
    assert not provider.get_tracer("new").start_span("late").is_recording()


def test_get_tracer_same_scope_cached(provider: TracerProvider) -> None:
    assert provider.get_tracer("a", "1") is provider.get_tracer("a", "1")
    assert provider.get_tracer("a", "1") is not provider.get_tracer("a", "2")


def test_processor_raising_span_still_ends_quietly(tracer: Tracer, provider: TracerProvider) -> None:
    class Broken:
        def on_start(self, span: object, parent_context: object) -> None:
            raise RuntimeError("start")

        def on_end(self, span: object) -> None:
            raise RuntimeError("end")

        def shutdown(self) -> None:
            raise RuntimeError("shutdown")

        def force_flush(self, timeout_s: float = 30) -> bool:
            raise RuntimeError("flush")

    provider.add_span_processor(Broken())  # type: ignore[arg-type]
    tracer.start_span("op").end()
    assert provider.force_flush(1) is False


def test_to_model_unended_span_usage_error(tracer: Tracer) -> None:
    from datatracing.sdk import ReadableSpan

    span = tracer.start_span("open")
    assert isinstance(span, ReadableSpan)
    with pytest.raises(UsageError):
        span.to_model()


def test_start_span_garbage_arguments_never_raise(tracer: Tracer) -> None:
    span = tracer.start_span(
        123,  # type: ignore[arg-type]
        context="not a context",  # type: ignore[arg-type]
        attributes={"ok": 1},
    )
    span.end()
    ok = tracer.start_span("ok", links=["nope"], start_time_unix_nano=-5)  # type: ignore[list-item]
    assert ok.is_recording()
