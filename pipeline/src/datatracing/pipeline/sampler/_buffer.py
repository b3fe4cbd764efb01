"""The undecided traces of one partition, and the three orderings that drive completion.

A buffered trace is its OTLP protobuf payloads (the original message bytes whenever a message held
only this trace) plus a few scalars; spans are decoded again only if a policy needs them at
decision time. That keeps the retained size near the payload size.

Completion timers need no heap: each deadline is a constant plus a time that only grows, so each
lives in an `OrderedDict` kept in deadline order and `due` reads the fronts:

- `traces`: first-seen order, which is also first-offset order (offsets only grow), so the front
  gives the committable offset and the `max_trace_age` deadline;
- `idle`: last-seen order (moved to the end on every chunk), for `decision_wait`;
- `rooted`: root-arrival order, for `wait_after_root`.
"""

from __future__ import annotations

from collections import OrderedDict

from datatracing.pipeline.sampler._results import REASON_IDLE, REASON_MAX_AGE, REASON_ROOT
from datatracing.pipeline.sampler.policies import Needs, TraceView
from datatracing.wire import TracePart

__all__ = ["Buffer", "TraceBuffer"]


class TraceBuffer:
    """One undecided trace: payloads (each with the offset of the message it came from), span count,
    time bounds, and when and where it was seen."""

    __slots__ = (
        "end_ns",
        "first_offset",
        "first_seen_ns",
        "has_root",
        "last_seen_ns",
        "nbytes",
        "offsets",
        "payloads",
        "root_seen_ns",
        "span_count",
        "start_ns",
        "tenant",
        "trace_id",
    )

    def __init__(self, chunk: TracePart, offset: int, now_ns: int, tenant: str) -> None:
        self.trace_id = chunk.trace_id
        self.payloads = [chunk.payload]
        self.offsets = [offset]
        self.nbytes = len(chunk.payload)
        self.span_count = chunk.span_count
        self.start_ns = chunk.start_ns
        self.end_ns = chunk.end_ns
        self.has_root = chunk.has_root
        self.first_offset = offset
        self.first_seen_ns = now_ns
        self.last_seen_ns = now_ns
        self.root_seen_ns = now_ns if chunk.has_root else -1
        self.tenant = tenant

    def view(self, needs: Needs) -> TraceView:
        """What the policies see of this trace (gathering what `needs` says they read)."""
        return TraceView(
            self.trace_id, self.payloads, self.span_count, self.start_ns, self.end_ns, self.has_root, needs
        )


class Buffer:
    """Undecided traces by id, with the totals that the memory bounds watch."""

    def __init__(self) -> None:
        self.traces: OrderedDict[str, TraceBuffer] = OrderedDict()
        self.idle: OrderedDict[str, TraceBuffer] = OrderedDict()
        self.rooted: OrderedDict[str, TraceBuffer] = OrderedDict()
        self.spans = 0
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self.traces)

    def add(self, chunk: TracePart, offset: int, now_ns: int, tenant: str) -> TraceBuffer:
        """Buffer `chunk` (from the message at `offset`), creating its trace if new."""
        trace_id = chunk.trace_id
        buf = self.traces.get(trace_id)
        if buf is None:
            buf = TraceBuffer(chunk, offset, now_ns, tenant)
            self.traces[trace_id] = buf
            self.idle[trace_id] = buf
            if buf.has_root:
                self.rooted[trace_id] = buf
        else:
            buf.payloads.append(chunk.payload)
            buf.offsets.append(offset)
            buf.nbytes += len(chunk.payload)
            buf.span_count += chunk.span_count
            buf.start_ns = min(buf.start_ns, chunk.start_ns)
            buf.end_ns = max(buf.end_ns, chunk.end_ns)
            buf.last_seen_ns = now_ns
            self.idle.move_to_end(trace_id)
            if chunk.has_root and not buf.has_root:
                buf.has_root = True
                buf.root_seen_ns = now_ns
                self.rooted[trace_id] = buf
        self.spans += chunk.span_count
        self.nbytes += len(chunk.payload)
        return buf

    def remove(self, trace_id: str) -> TraceBuffer:
        """Take a trace out of the buffer (to decide it)."""
        buf = self.traces.pop(trace_id)
        del self.idle[trace_id]
        if buf.has_root:
            del self.rooted[trace_id]
        self.spans -= buf.span_count
        self.nbytes -= buf.nbytes
        return buf

    def oldest(self) -> TraceBuffer | None:
        """The trace seen first (lowest first offset), if any."""
        return next(iter(self.traces.values()), None)

    def first_offset(self) -> int | None:
        """The lowest offset any buffered trace still needs, or None when empty."""
        oldest = self.oldest()
        return None if oldest is None else oldest.first_offset

    def due(
        self, now_ns: int, decision_wait_ns: int, wait_after_root_ns: int, max_trace_age_ns: int
    ) -> list[tuple[TraceBuffer, str]]:
        """Traces some completion rule has fired for, each once, with the first rule that fired
        (checked in the order root, idle, max age)."""
        due: dict[str, tuple[TraceBuffer, str]] = {}
        for trace_id, buf in self.rooted.items():
            if buf.root_seen_ns + wait_after_root_ns > now_ns:
                break
            due[trace_id] = (buf, REASON_ROOT)
        for trace_id, buf in self.idle.items():
            if buf.last_seen_ns + decision_wait_ns > now_ns:
                break
            due.setdefault(trace_id, (buf, REASON_IDLE))
        for trace_id, buf in self.traces.items():
            if buf.first_seen_ns + max_trace_age_ns > now_ns:
                break
            due.setdefault(trace_id, (buf, REASON_MAX_AGE))
        return list(due.values())
