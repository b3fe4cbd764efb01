"""The critical path of a span tree, computed as Jaeger UI computes it.

A port of jaegertracing/jaeger-ui `packages/jaeger-ui/src/components/TracePage/CriticalPath/`
(`index.ts`, `utils/cpspan.ts`, `utils/sanitizeOverFlowingChildren.ts`,
`utils/findLastFinishingChildSpan.ts`), over plain arrays indexed by span position:

1. From the root, build the tree of blocking children: a CONSUMER child of a PRODUCER parent is not
   blocking and is left out with its whole subtree (`createCPSpanMap`).
2. Top-down, drop each child that lies wholly outside its parent's (already clipped) range, with its
   subtree, and clip the others to that range (`sanitizeOverFlowingChildren`).
3. Walk (`computeCriticalPath`): at a span, take its last-finishing child (the first in start order
   among equal ends), emit the span's section from that child's end to the span's end, and go down
   into the child. A span without such a child emits its section from its own start, and the walk
   climbs back to its parent, where it takes the last child finishing strictly before the start of
   the child it came from, and emits the parent's section up to that start. Empty sections are not
   emitted. The walk ends when it climbs out of the root.

Two differences from the TypeScript, neither visible on real traces: the walk is a loop, not a
recursion (a 10,000-span chain must not exhaust Python's stack), and a returning child that starts at
time 0 is honoured (Jaeger tests the start for truthiness, so 0 would restart the walk). Each parent
keeps its children sorted by end, newest first, and a cursor into them: the starts it returns with
only decrease, so the cursor only moves forward and a parent of k children costs O(k log k), not
O(k²) as a scan per return would.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CONSUMER", "PRODUCER", "critical_path"]

#: `SpanKind` values as integers (the arrays hold ints, not enum members).
PRODUCER = 4
CONSUMER = 5


def critical_path(
    tops: Sequence[int],
    parents: Sequence[int],
    children: Sequence[Sequence[int]],
    starts: Sequence[int],
    ends: Sequence[int],
    kinds: Sequence[int],
) -> list[tuple[int, int, int]]:
    """The critical path of the tree under each of `tops`, as `(section_start, section_end, span)`
    triples (span by position): each top's sections in the order the walk emits them, latest first.

    `parents[i]` is the position of span i's parent; `children[i]` the positions of its children in
    start order; `kinds[i]` its `SpanKind` as an int. Sections are in the clipped times: those of one
    top never overlap and together cover the top exactly.

    Example:
        >>> # a root [0, 100] with children [10, 50] and [20, 60]: the later-finishing child blocks
        >>> critical_path([0], [-1, 0, 0], [[1, 2], [], []], [0, 10, 20], [100, 50, 60], [2, 3, 3])
        [(60, 100, 0), (20, 60, 2), (0, 20, 0)]
    """
    clipped_start = list(starts)
    clipped_end = list(ends)
    by_end: list[list[int] | None] = [None] * len(starts)
    cursor = [0] * len(starts)
    sections: list[tuple[int, int, int]] = []
    for top in tops:
        blocking = _clip(top, children, clipped_start, clipped_end, kinds)
        _walk(top, parents, blocking, clipped_start, clipped_end, by_end, cursor, sections)
    return sections


def _clip(
    top: int,
    children: Sequence[Sequence[int]],
    clipped_start: list[int],
    clipped_end: list[int],
    kinds: Sequence[int],
) -> dict[int, list[int]]:
    """Clip the tree under `top` in place (pre-order: each parent before its children are clipped
    to it); return each span's kept blocking children, in start order."""
    blocking: dict[int, list[int]] = {}
    stack = [top]
    while stack:
        parent = stack.pop()
        parent_start, parent_end = clipped_start[parent], clipped_end[parent]
        producer = kinds[parent] == PRODUCER
        kept: list[int] = []
        for child in children[parent]:
            if producer and kinds[child] == CONSUMER:
                continue
            start, end = clipped_start[child], clipped_end[child]
            if start >= parent_start:
                if start >= parent_end:
                    continue  # starts at or after the parent's end
                if end > parent_end:  # noqa: PLR1730 - a branch is cheaper than a call to min
                    end = parent_end
            else:
                if end <= parent_start:
                    continue  # ends at or before the parent's start
                start = parent_start
                if end > parent_end:  # noqa: PLR1730
                    end = parent_end
            clipped_start[child], clipped_end[child] = start, end
            kept.append(child)
        if kept:
            blocking[parent] = kept
            stack.extend(kept)
    return blocking


def _walk(
    top: int,
    parents: Sequence[int],
    blocking: dict[int, list[int]],
    clipped_start: list[int],
    clipped_end: list[int],
    by_end: list[list[int] | None],
    cursor: list[int],
    sections: list[tuple[int, int, int]],
) -> None:
    """Jaeger's `computeCriticalPath` as a loop, appending the sections of the tree under `top`.
    `by_end[i]` caches span i's blocking children by end, newest first; `cursor[i]` is the first
    of them not yet passed."""
    span, returning_start = top, -1  # -1: entering the span from its parent, not returning to it
    while True:
        section_end = clipped_end[span] if returning_start < 0 else returning_start
        last = -1
        ordered = by_end[span]
        if ordered is None:
            kids = blocking.get(span)
            if kids is not None:
                # `sorted` keeps equal ends in start order (with reverse too), so the first child in
                # start order wins a tie, as with Jaeger's strict `>` scan over the children.
                ordered = kids if len(kids) == 1 else sorted(kids, key=clipped_end.__getitem__, reverse=True)
                by_end[span] = ordered
        if ordered is not None:
            at = cursor[span]
            if returning_start >= 0:
                while at < len(ordered) and clipped_end[ordered[at]] >= returning_start:
                    at += 1
                cursor[span] = at
            if at < len(ordered):
                last = ordered[at]
        if last >= 0:
            if clipped_end[last] != section_end:
                sections.append((clipped_end[last], section_end, span))
            span, returning_start = last, -1
            continue
        if clipped_start[span] != section_end:
            sections.append((clipped_start[span], section_end, span))
        if span == top:
            return
        span, returning_start = parents[span], clipped_start[span]
