"""`trace_graph`: tree, orphans, links, self time, services and the service graph (pure, no store)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from datatracing.model import Span, SpanKind, Trace
from datatracing.pipeline.query import linked_trace_ids, trace_graph
from tests.pipeline.query.graph_data import OTHER_TRACE_ID, TRACE_ID, make_span, make_trace, sid

S, CL, P, C = SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER


def _nodes(graph: Any) -> dict[str, dict[str, Any]]:
    return {n["span_id"]: n for n in graph["nodes"]}


def test_trace_graph_pipeline_trace_matches_the_contract_shape() -> None:
    trace = make_trace(
        make_span("req", 0, 100, kind=S, service="api"),
        make_span("send", 10, 20, parent="req", kind=P, service="api"),
        make_span("proc", 30, 90, parent="send", kind=C, service="enricher", error=True),
        make_span("db", 40, 60, parent="proc", kind=CL, service="enricher"),
    )

    graph = trace_graph(trace)

    assert json.loads(json.dumps(graph)) == graph  # plain JSON types only
    assert (graph["trace_id"], graph["start_ns"], graph["end_ns"], graph["duration_ns"]) == (
        TRACE_ID,
        0,
        100,
        100,
    )
    assert graph["span_count"] == 4
    assert graph["roots"] == [sid("req")]
    proc = _nodes(graph)[sid("proc")]
    assert proc == {
        "span_id": sid("proc"),
        "parent_span_id": sid("send"),
        "service": "enricher",
        "name": "op proc",
        "kind": "consumer",
        "start_ns": 30,
        "end_ns": 90,
        "duration_ns": 60,
        "self_ns": 40,
        "critical_ns": 0,  # a consumer under a producer does not block it
        "depth": 2,
        "is_error": True,
        "orphan": False,
        "child_count": 1,
    }
    assert graph["critical_path"] == [
        {"span_id": sid("req"), "start_ns": 0, "end_ns": 10},
        {"span_id": sid("send"), "start_ns": 10, "end_ns": 20},
        {"span_id": sid("req"), "start_ns": 20, "end_ns": 100},
    ]
    assert graph["services"] == [
        {"service": "api", "spans": 2, "errors": 0, "self_ns": 100, "critical_ns": 100},
        {"service": "enricher", "spans": 2, "errors": 1, "self_ns": 60, "critical_ns": 0},
    ]
    assert graph["service_graph"] == {
        "nodes": [
            {"service": "api", "spans": 2, "errors": 0},
            {"service": "enricher", "spans": 2, "errors": 1},
        ],
        "edges": [{"parent": "api", "child": "enricher", "calls": 1, "duration_ns": 60, "kind": "messaging"}],
    }


def test_trace_graph_orphans_follow_the_roots_flagged_with_their_subtrees() -> None:
    trace = make_trace(
        make_span("lost", 0, 50, parent="gone"),  # earliest, but its parent never arrived
        make_span("lost-kid", 10, 20, parent="lost"),
        make_span("root", 5, 100),
        make_span("kid", 30, 40, parent="root"),
    )

    graph = trace_graph(trace)

    assert graph["roots"] == [sid("root")]
    assert [(n["span_id"], n["depth"], n["orphan"]) for n in graph["nodes"]] == [
        (sid("root"), 0, False),
        (sid("kid"), 1, False),
        (sid("lost"), 0, True),
        (sid("lost-kid"), 1, False),
    ]
    assert _nodes(graph)[sid("lost")]["parent_span_id"] == sid("gone")
    # the orphan subtree has its own path: the whole of the orphan's range
    orphan_path = [s for s in graph["critical_path"] if s["span_id"] in (sid("lost"), sid("lost-kid"))]
    assert sum(s["end_ns"] - s["start_ns"] for s in orphan_path) == 50


def test_trace_graph_parent_loop_is_cut_into_an_orphan_not_dropped() -> None:
    trace = make_trace(
        make_span("a", 0, 10, parent="b"), make_span("b", 1, 5, parent="a"), make_span("r", 0, 3)
    )

    graph = trace_graph(trace)

    assert {n["span_id"] for n in graph["nodes"]} == {sid("a"), sid("b"), sid("r")}
    assert [(n["span_id"], n["depth"], n["orphan"]) for n in graph["nodes"]] == [
        (sid("r"), 0, False),
        (sid("a"), 0, True),
        (sid("b"), 1, False),
    ]


def test_trace_graph_span_its_own_parent_is_an_orphan_with_a_path() -> None:
    graph = trace_graph(make_trace(make_span("self", 0, 10, parent="self")))

    assert [(n["depth"], n["orphan"], n["child_count"], n["critical_ns"]) for n in graph["nodes"]] == [
        (0, True, 0, 10)
    ]
    assert graph["roots"] == []


def test_trace_graph_self_time_subtracts_the_union_of_clipped_children() -> None:
    trace = make_trace(
        make_span("p", 0, 100),
        make_span("c1", 10, 30, parent="p"),
        make_span("c2", 20, 50, parent="p"),
        make_span("c3", 80, 120, parent="p"),  # runs past the parent: counted up to 100
    )

    nodes = _nodes(trace_graph(trace))

    assert nodes[sid("p")]["self_ns"] == 100 - (50 - 10) - (100 - 80)
    assert nodes[sid("c3")]["self_ns"] == 40


def test_trace_graph_batch_consumer_links_give_stubs_and_messaging_edges() -> None:
    other = "1" * 32
    trace = make_trace(
        make_span("root", 0, 100, kind=S, service="api"),
        make_span("produce", 5, 10, parent="root", kind=P, service="api"),
        make_span(
            "batch",
            20,
            90,
            kind=C,
            service="loader",
            links=((TRACE_ID, "produce"), (OTHER_TRACE_ID, "x"), (other, "y"), (TRACE_ID, "missing")),
        ),
    )

    graph = trace_graph(trace, stored_trace_ids={OTHER_TRACE_ID})

    assert graph["links"] == [
        {
            "span_id": sid("batch"),
            "linked_trace_id": linked,
            "linked_span_id": sid(span),
            "in_trace": in_trace,
            "stored": stored,
            "attributes": {},
        }
        for linked, span, in_trace, stored in (
            (TRACE_ID, "produce", True, True),
            (OTHER_TRACE_ID, "x", False, True),
            (other, "y", False, False),
            (TRACE_ID, "missing", False, True),
        )
    ]
    assert linked_trace_ids(trace) == {OTHER_TRACE_ID, other}
    assert graph["roots"] == [sid("root"), sid("batch")]
    assert graph["service_graph"]["edges"] == [
        {"parent": "api", "child": "loader", "calls": 1, "duration_ns": 70, "kind": "messaging"}
    ]


def test_trace_graph_calls_within_a_service_make_no_edge_and_calls_across_add_up() -> None:
    trace = make_trace(
        make_span("root", 0, 100, kind=S, service="api"),
        make_span("inner", 1, 99, parent="root", service="api"),
        make_span("db1", 10, 20, parent="inner", kind=CL, service="db"),
        make_span("db2", 30, 45, parent="inner", kind=CL, service="db"),
    )

    edges = trace_graph(trace)["service_graph"]["edges"]

    assert edges == [{"parent": "api", "child": "db", "calls": 2, "duration_ns": 25, "kind": "call"}]


def test_trace_graph_empty_trace_is_an_empty_graph() -> None:
    graph = trace_graph(Trace(trace_id=TRACE_ID, spans=()))

    assert graph["span_count"] == 0
    assert graph["nodes"] == []
    assert graph["critical_path"] == []


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    """Random traces: roots, children (nested or not), orphans, random kinds and services."""
    n = draw(st.integers(min_value=1, max_value=30))
    spans: list[Span] = []
    for i in range(n):
        parent: str | int | None = None
        choice = draw(st.integers(0, 9))
        if i and choice >= 2:
            parent = draw(st.integers(0, i - 1))
        elif choice == 1:
            parent = f"missing-{i}"
        start = draw(st.integers(0, 1000))
        spans.append(
            make_span(
                i,
                start,
                start + draw(st.integers(0, 500)),
                parent=parent,
                kind=draw(st.sampled_from(list(SpanKind))),
                service=draw(st.sampled_from(["a", "b", "c"])),
                error=draw(st.booleans()),
            )
        )
    return make_trace(*spans)


@settings(max_examples=200, deadline=None)
@given(traces())
def test_trace_graph_random_trace_keeps_every_span_and_paths_cover_each_top(trace: Trace) -> None:
    graph = trace_graph(trace)
    nodes = graph["nodes"]

    assert sorted(n["span_id"] for n in nodes) == sorted(s.span_id for s in trace.spans)
    position = {n["span_id"]: i for i, n in enumerate(nodes)}
    tops = [n for n in nodes if n["depth"] == 0]
    assert [n["span_id"] for n in tops if not n["orphan"]] == graph["roots"]
    for n in nodes:
        if n["depth"] > 0:  # a parent comes before its children, one level up
            parent = nodes[position[n["parent_span_id"]]]
            assert position[parent["span_id"]] < position[n["span_id"]]
            assert parent["depth"] == n["depth"] - 1
        assert 0 <= n["self_ns"] <= n["duration_ns"]
    assert sum(n["critical_ns"] for n in nodes) == sum(t["duration_ns"] for t in tops)
    assert sum(s["end_ns"] - s["start_ns"] for s in graph["critical_path"]) == sum(
        t["duration_ns"] for t in tops
    )
    assert all(a["start_ns"] <= b["start_ns"] for a, b in itertools.pairwise(graph["critical_path"]))
    for field in ("spans", "errors", "self_ns", "critical_ns"):
        by_node = {
            "spans": len(nodes),
            "errors": sum(n["is_error"] for n in nodes),
            "self_ns": sum(n["self_ns"] for n in nodes),
            "critical_ns": sum(n["critical_ns"] for n in nodes),
        }
        assert sum(s[field] for s in graph["services"]) == by_node[field]
