"""The SDK's recording span: a light `__slots__` object, converted to the model only on demand.

`RecordingSpan` is what `Tracer.start_span` returns when a span is sampled; once it ends it is handed
to the processors as a `ReadableSpan` (its read-only base). Nothing on the start/set/end path builds a
pydantic object: `to_model()` and the OTLP encoder read the slots directly, later, off the hot path.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from datatracing.model import Attributes, SpanKind, Status, StatusCode
from datatracing.sdk._api import SpanContext, on_exception
from datatracing.sdk._attributes import (
    INT64_MAX,
    INT64_MIN,
    INVALID,
    clean_attributes,
    clean_value,
)
from datatracing.sdk._log import RateLimitedLog
from datatracing.sdk._readable import LinkData, ReadableSpan

if TYPE_CHECKING:
    from datatracing.sdk._tracer import Tracer

__all__ = ["RecordingSpan"]

_log = RateLimitedLog(logging.getLogger("datatracing.sdk"))
_time_ns = time.time_ns


class RecordingSpan(ReadableSpan):
    """A sampled span being recorded. Every method is a no-op after `end()` and never raises."""

    __slots__ = ()

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        start: int,
        attributes: Attributes,
        dropped_attributes: int,
        links: list[LinkData] | None,
        dropped_links: int,
        tracer: Tracer,
    ) -> None:
        self._name = name
        self.span_context = context
        self._parent = parent
        self._kind = kind
        self._start = start
        self._end = None
        self._attributes = attributes
        self._dropped_attributes = dropped_attributes
        self._events = None
        self._dropped_events = 0
        self._links = links
        self._dropped_links = dropped_links
        self._status_code = StatusCode.UNSET
        self._status_description = ""
        self._tracer = tracer
        self._limits = tracer.limits

    def is_recording(self) -> bool:
        return self._end is None

    def set_attribute(self, key: str, value: object) -> None:
        if self._end is not None or type(key) is not str or not key:
            return
        kind = type(value)
        if kind is str:
            max_length = self._limits.max_attribute_length
            if max_length is not None:
                value = value[:max_length]  # type: ignore[index]
        elif kind is int:
            if not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                return
        elif kind is not bool and kind is not float:
            if value is None:
                return
            value = clean_value(value, self._limits.max_attribute_length)
            if value is INVALID:
                return
        attributes = self._attributes
        if key in attributes or len(attributes) < self._limits.max_attributes:
            attributes[key] = value  # type: ignore[assignment]
        else:
            self._dropped_attributes += 1

    def set_attributes(self, attributes: Mapping[str, object]) -> None:
        try:
            for key, value in attributes.items():
                self.set_attribute(key, value)
        except Exception:
            _log.warning("set-attributes", "dropped attributes that are not a mapping")

    def add_event(
        self, name: str, attributes: Mapping[str, object] | None = None, timestamp: int | None = None
    ) -> None:
        if self._end is not None:
            return
        if self._events is None:
            self._events = []
        limits = self._limits
        if len(self._events) >= limits.max_events:
            self._dropped_events += 1
            return
        attrs, dropped = clean_attributes(
            attributes, limits.max_attributes_per_event, limits.max_attribute_length
        )
        when = timestamp if type(timestamp) is int and 0 <= timestamp < 2**64 else _time_ns()
        self._events.append((str(name), when, attrs, dropped))

    def add_link(self, context: SpanContext, attributes: Mapping[str, object] | None = None) -> None:
        if self._end is not None or not isinstance(context, SpanContext) or not context.is_valid:
            return
        if self._links is None:
            self._links = []
        limits = self._limits
        if len(self._links) >= limits.max_links:
            self._dropped_links += 1
            return
        attrs, dropped = clean_attributes(
            attributes, limits.max_attributes_per_link, limits.max_attribute_length
        )
        self._links.append((context, attrs, dropped))

    def set_status(self, status: StatusCode | Status, description: str | None = None) -> None:
        # OTel rules: OK is final, UNSET is never set explicitly, a description only goes with ERROR.
        if self._end is not None or self._status_code is StatusCode.OK:
            return
        code = status
        if isinstance(status, Status):
            code, description = status.code, status.message
        if code == StatusCode.ERROR:
            self._status_code = StatusCode.ERROR
            self._status_description = str(description) if description else ""
        elif code == StatusCode.OK:
            self._status_code = StatusCode.OK
            self._status_description = ""

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, object] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        if self._end is not None:
            return
        try:
            kind = type(exception)
            module = kind.__module__
            event: dict[str, object] = {
                "exception.type": kind.__qualname__
                if module == "builtins"
                else f"{module}.{kind.__qualname__}",
                "exception.message": str(exception),
                "exception.stacktrace": "".join(traceback.format_exception(exception)),
            }
        except Exception:  # a broken __str__ must not break the host
            event = {"exception.type": type(exception).__qualname__}
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._name = str(name)

    def end(self, end_time_unix_nano: int | None = None) -> None:
        """End the span and hand it to the processors; a second call does nothing."""
        if self._end is not None:
            return
        end = _time_ns() if end_time_unix_nano is None else end_time_unix_nano
        # The wall clock can step back; the model requires end >= start.
        self._end = end if type(end) is int and end >= self._start else self._start
        for processor in self._tracer.processors:
            try:
                processor.on_end(self)
            except Exception:
                _log.error("processor-on-end", "span processor %r failed in on_end", processor, exc_info=True)

    def __enter__(self) -> RecordingSpan:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception):
            on_exception(self, exc, True, True)
        self.end()
