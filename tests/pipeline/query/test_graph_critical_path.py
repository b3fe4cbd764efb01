"""The critical path against Jaeger UI's own test cases, a literal port of its recursion, and properties.

Golden cases: jaegertracing/jaeger-ui,
`packages/jaeger-ui/src/components/TracePage/CriticalPath/testCases/test1.js` ... `test9.js` (the trace
each case builds and the `criticalPathSections` it expects), and `utils/findLastFinishingChildSpan.test.js`.
Times are Jaeger's microsecond numbers, used here as nanoseconds. test3 reads its trace from
`TracePage/TraceStatistics/tableValuesTestTrace/traceWithSingleChildLongerThanParentAndStartsAfterParent.json`:
a root at 100 for 40 and a child at 200 for 300. test5's FOLLOWS_FROM reference becomes a parent with
PRODUCER → CONSUMER kinds (as Jaeger UI's `isBlockingSpan` reads it).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datatracing.model import SpanKind
from datatracing.pipeline.query import trace_graph
from datatracing.pipeline.query._critical_path import CONSUMER, PRODUCER, critical_path
from tests.pipeline.query.graph_data import make_span, make_trace, sid

P, C, IN = SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL

# name: (spans as (span, start, duration, parent, kind), expected sections as (span, start, end))
JAEGER_CASES: dict[
    str, tuple[list[tuple[str, int, int, str | None, SpanKind]], list[tuple[str, int, int]]]
] = {
    "test1": (
        [("span-E", 50, 10, "span-C", IN), ("span-C", 1, 100, None, IN), ("span-D", 20, 20, "span-C", IN)],
        [("span-C", 60, 101), ("span-E", 50, 60), ("span-C", 40, 50), ("span-D", 20, 40), ("span-C", 1, 20)],
    ),
    "test2": (
        [("span-X", 1, 100, None, IN), ("span-A", 10, 40, "span-X", IN), ("span-C", 20, 40, "span-X", IN)],
        [("span-X", 60, 101), ("span-C", 20, 60), ("span-X", 1, 20)],
    ),
    "test3": (
        [("006c3cf93508f205", 100, 40, None, IN), ("2dc4b796e2127e32", 200, 300, "006c3cf93508f205", IN)],
        [("006c3cf93508f205", 100, 140)],
    ),
    "test4": (
        [("span-A", 1, 30, None, IN), ("span-B", 40, 40, "span-A", IN), ("span-c", 50, 10, "span-B", IN)],
        [("span-A", 1, 31)],
    ),
    "test5": (
        [("span-A", 1, 30, None, P), ("span-B", 10, 10, "span-A", C), ("span-C", 12, 2, "span-B", IN)],
        [("span-A", 1, 31)],
    ),
    "test6": (
        [("span-A", 1, 29, None, IN), ("span-B", 15, 20, "span-A", IN), ("span-C", 10, 15, "span-B", IN)],
        [("span-B", 25, 30), ("span-C", 15, 25), ("span-A", 1, 15)],
    ),
    "test7": (
        [("span-A", 1, 29, None, IN), ("span-B", 15, 20, "span-A", IN), ("span-C", 20, 20, "span-B", IN)],
        [("span-C", 20, 30), ("span-B", 15, 20), ("span-A", 1, 15)],
    ),
    "test8": (
        [("span-A", 10, 20, None, IN), ("span-B", 5, 30, "span-A", IN)],
        [("span-B", 10, 30)],
    ),
    "test9": (
        [("span-A", 10, 20, None, IN), ("span-B", 1, 4, "span-A", IN)],
        [("span-A", 10, 30)],
    ),
}


def _arrays(spans: list[tuple[str, int, int, str | None, SpanKind]]) -> dict[str, Any]:
    """Positions in start order (as `trace_graph` sees them) and the arrays `critical_path` takes."""
    ordered = sorted(spans, key=lambda s: (s[1], sid(s[0])))
    at = {name: i for i, (name, *_) in enumerate(ordered)}
    parents = [at[p] if p is not None else -1 for *_, p, _ in ordered]
    children: list[list[int]] = [[] for _ in ordered]
    for i, p in enumerate(parents):
        if p >= 0:
            children[p].append(i)
    return {
        "names": [s[0] for s in ordered],
        "tops": [i for i, p in enumerate(parents) if p < 0],
        "parents": parents,
        "children": children,
        "starts": [s[1] for s in ordered],
        "ends": [s[1] + s[2] for s in ordered],
        "kinds": [int(s[4]) for s in ordered],
    }


@pytest.mark.parametrize("case", sorted(JAEGER_CASES))
def test_critical_path_jaeger_ui_case_emits_jaegers_sections_in_order(case: str) -> None:
    spans, expected = JAEGER_CASES[case]
    a = _arrays(spans)

    sections = critical_path(a["tops"], a["parents"], a["children"], a["starts"], a["ends"], a["kinds"])

    assert [(a["names"][i], lo, hi) for lo, hi, i in sections] == expected


@pytest.mark.parametrize("case", sorted(JAEGER_CASES))
def test_trace_graph_jaeger_ui_case_lists_the_sections_by_start(case: str) -> None:
    spans, expected = JAEGER_CASES[case]
    trace = make_trace(
        *(
            make_span(name, start, start + length, parent=parent, kind=kind)
            for name, start, length, parent, kind in spans
        )
    )

    graph = trace_graph(trace)

    assert [(s["span_id"], s["start_ns"], s["end_ns"]) for s in graph["critical_path"]] == sorted(
        ((sid(name), lo, hi) for name, lo, hi in expected), key=lambda s: (s[1], s[2])
    )
    on_path = {sid(name): 0 for name, *_ in spans}
    for name, lo, hi in expected:
        on_path[sid(name)] += hi - lo
    assert {n["span_id"]: n["critical_ns"] for n in graph["nodes"]} == on_path


# --- a literal port of the TypeScript, to check the loop and its cursors against --------------------


def _jaeger_reference(
    top: int,
    parents: list[int],
    children: list[list[int]],
    starts: list[int],
    ends: list[int],
    kinds: list[int],
) -> list[tuple[int, int, int]]:
    """`createCPSpanMap` + `sanitizeOverFlowingChildren` + recursive `computeCriticalPath`, with
    `findLastFinishingChildSpan` scanning every child on every visit."""
    span_map: dict[int, dict[str, Any]] = {}

    def traverse(i: int) -> None:
        cp = {
            "id": i,
            "parent": parents[i] if i != top else None,
            "start": starts[i],
            "end": ends[i],
            "kids": [],
        }
        span_map[i] = cp
        for c in children[i]:
            if not (kinds[i] == PRODUCER and kinds[c] == CONSUMER):
                cp["kids"].append(c)
                traverse(c)

    traverse(top)
    for i in list(span_map):
        span = span_map[i]
        if span["parent"] is None:
            continue
        parent = span_map.get(span["parent"])
        if parent is None:
            del span_map[i]
            continue
        if span["start"] >= parent["start"]:
            if span["start"] >= parent["end"]:
                del span_map[i]
                parent["kids"] = [k for k in parent["kids"] if k != i]
            elif span["end"] > parent["end"]:
                span["end"] = parent["end"]
        elif span["end"] <= parent["start"]:
            del span_map[i]
            parent["kids"] = [k for k in parent["kids"] if k != i]
        else:
            span["start"], span["end"] = parent["start"], min(span["end"], parent["end"])

    def lfc(span: dict[str, Any], returning: int | None) -> dict[str, Any] | None:
        best, best_end = None, -1
        for k in span["kids"]:
            child = span_map.get(k)
            if child is None:
                continue
            if (returning is None or child["end"] < returning) and child["end"] > best_end:
                best, best_end = child, child["end"]
        return best

    out: list[tuple[int, int, int]] = []

    def compute(i: int, returning: int | None = None) -> None:
        span = span_map.get(i)
        if span is None:
            return
        last = lfc(span, returning)
        end = span["end"] if returning is None else returning
        if last is not None:
            if last["end"] != end:
                out.append((last["end"], end, i))
            compute(last["id"], None)
        else:
            if span["start"] != end:
                out.append((span["start"], end, i))
            if span["parent"] is not None:
                compute(span["parent"], span["start"])

    compute(top)
    return out


@st.composite
def span_trees(draw: st.DrawFn, nested: bool = False) -> dict[str, Any]:
    """Random trees in start order: any overlap (or, `nested`, children inside their parents)."""
    n = draw(st.integers(min_value=1, max_value=40))
    parents, starts, ends = [-1], [draw(st.integers(0, 50))], []
    ends.append(starts[0] + draw(st.integers(0, 200)))
    for i in range(1, n):
        p = draw(st.integers(0, i - 1))
        if nested:
            s = draw(st.integers(starts[p], ends[p]))
            e = draw(st.integers(s, ends[p]))
        else:
            s = draw(st.integers(0, 300))
            e = s + draw(st.integers(0, 120))
        parents.append(p)
        starts.append(s)
        ends.append(e)
    kinds = draw(st.lists(st.sampled_from([1, 2, 3, 4, 5]), min_size=n, max_size=n))
    children: list[list[int]] = [[] for _ in range(n)]
    for i in sorted(range(1, n), key=lambda i: starts[i]):  # children in start order
        children[parents[i]].append(i)
    return {"parents": parents, "children": children, "starts": starts, "ends": ends, "kinds": kinds}


@settings(max_examples=300, deadline=None)
@given(span_trees())
def test_critical_path_random_tree_matches_the_literal_port(tree: dict[str, Any]) -> None:
    args = (tree["parents"], tree["children"], tree["starts"], tree["ends"], tree["kinds"])
    assert critical_path([0], *args) == _jaeger_reference(0, *args)


@settings(max_examples=300, deadline=None)
@given(span_trees())
def test_critical_path_any_tree_is_contiguous_inside_the_root_and_never_overlaps(
    tree: dict[str, Any],
) -> None:
    root_start, root_end = tree["starts"][0], tree["ends"][0]
    args = (tree["parents"], tree["children"], tree["starts"], tree["ends"], tree["kinds"])

    sections = critical_path([0], *args)

    ordered = sorted((lo, hi) for lo, hi, _ in sections)
    assert all(root_start <= lo < hi <= root_end for lo, hi in ordered)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered))  # no overlap
    assert sum(hi - lo for lo, hi in ordered) == root_end - root_start


@settings(max_examples=300, deadline=None)
@given(span_trees(nested=True))
def test_critical_path_nested_tree_covers_the_root_with_sections_inside_their_spans(
    tree: dict[str, Any],
) -> None:
    args = (tree["parents"], tree["children"], tree["starts"], tree["ends"], tree["kinds"])

    sections = critical_path([0], *args)

    assert sum(hi - lo for lo, hi, _ in sections) == tree["ends"][0] - tree["starts"][0]
    assert all(tree["starts"][i] <= lo < hi <= tree["ends"][i] for lo, hi, i in sections)


def test_critical_path_chain_of_ten_thousand_spans_needs_no_recursion() -> None:
    n = 10_000
    parents = [i - 1 for i in range(n)]
    children = [[i + 1] for i in range(n - 1)] + [[]]
    starts = list(range(n))
    ends = [2 * n - i for i in range(n)]

    sections = critical_path([0], parents, children, starts, ends, [1] * n)

    assert sum(hi - lo for lo, hi, _ in sections) == ends[0] - starts[0]
    assert len(sections) == 2 * n - 1


def test_critical_path_returning_child_at_time_zero_still_walks_back() -> None:
    # root [0, 10], children [0, 4] and [5, 10]: returning from the child at 0 is not "no child"
    sections = critical_path([0], [-1, 0, 0], [[1, 2], [], []], [0, 0, 5], [10, 4, 10], [1, 1, 1])

    assert sections == [(5, 10, 2), (4, 5, 0), (0, 4, 1)]
