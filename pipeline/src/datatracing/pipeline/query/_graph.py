"""The graph of one trace and its analysis: span tree, links, critical path, services.

`trace_graph(trace)` is a pure function of the model and returns plain dicts and lists (the JSON of
`GET /v1/traces/{trace_id}/graph`). It reads each model span once into flat lists (one per field),
builds the child lists from them, and works on span positions from then on.

The tree. Nodes are spans; a span's parent is its `parent_span_id`. Roots are the spans without a
parent, by start. A span whose parent is not in the trace is an orphan: it is kept with its subtree,
flagged `orphan`, drawn at depth 0 after the roots, and treated as the root of its own subtree
everywhere below. A span whose ancestry loops back to itself (malformed input) would hang off no
root: the earliest such span is cut from its parent and made an orphan too, until every span is
placed. Span links are not tree edges (OTLP keeps the parent apart from the links); they are listed
in `links`, stubs for spans of other traces included, with whether their trace is stored.

The critical path is Jaeger UI's (see `_critical_path`), computed for each root and each orphan
subtree, and the sections of all of them are listed by start. So an orphan subtree has a path of its
own, inside the orphan's range, and the time it covers counts in `critical_ns` and the service
totals like any other. (Jaeger UI gives an orphan subtree no path at all: its clipping step drops a
span whose parent is missing.) Sections of different roots may overlap in time; those of one root
never do.

Self time is a span's duration less the union of its children's ranges clipped to it (every child,
blocking or not). The service graph has one node per service and one edge per (parent service,
child service, kind) with the number of child spans and their summed duration: `messaging` when a
PRODUCER parent has a CONSUMER child, or a span links to a span of this trace and one of the two is
a PRODUCER or CONSUMER (a batch consumer linked to its producers), else `call`. Edges within one
service are left out, as in `/v1/dependencies`.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import repeat

from datatracing.model import Resource, Status, StatusCode, Trace
from datatracing.pipeline.query._critical_path import CONSUMER, PRODUCER, critical_path
from datatracing.pipeline.query._graph_model import (
    GraphLink,
    GraphNode,
    ServiceGraph,
    ServiceSummary,
    TraceGraph,
)

__all__ = ["linked_trace_ids", "trace_graph"]

_KIND_NAMES = ("unspecified", "internal", "server", "client", "producer", "consumer")
_MESSAGING = (PRODUCER, CONSUMER)


def linked_trace_ids(trace: Trace) -> set[str]:
    """The ids of the other traces that spans of `trace` link to (for a store's "which are stored")."""
    return {link.trace_id for span in trace.spans for link in span.links if link.trace_id != trace.trace_id}


def _covered(lo: int, hi: int, kids: list[int], starts: list[int], ends: list[int]) -> int:
    """How much of [lo, hi] the union of the children (in start order) covers, each clipped to it."""
    covered = 0
    run_start = run_end = lo
    for c in kids:
        s = starts[c] if starts[c] > lo else lo
        e = ends[c] if ends[c] < hi else hi
        if e <= s:
            continue
        if s > run_end:
            covered += run_end - run_start
            run_start, run_end = s, e
        elif e > run_end:
            run_end = e
    return covered + run_end - run_start


def trace_graph(trace: Trace, stored_trace_ids: Collection[str] = ()) -> TraceGraph:
    """The graph and analysis of `trace`; `stored_trace_ids` says which linked traces are stored
    (the trace itself always counts as stored).

    Example:
        >>> graph = trace_graph(trace)  # doctest: +SKIP
        >>> [(s["span_id"], s["end_ns"] - s["start_ns"]) for s in graph["critical_path"]]  # doctest: +SKIP
    """
    spans = trace.spans
    n = len(spans)
    if n == 0:
        return _empty(trace.trace_id)
    # One pass over the spans (each model object is read while it is in cache), one list per field.
    ids: list[str] = []
    parent_ids: list[str | None] = []
    names: list[str] = []
    kinds: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    statuses: list[Status] = []
    resources: list[Resource] = []
    linking: list[int] = []  # positions of the spans with links
    for i, span in enumerate(spans):
        ids.append(span.span_id)
        parent_ids.append(span.parent_span_id)
        names.append(span.name)
        kinds.append(span.kind)
        starts.append(span.start_time_unix_nano)
        ends.append(span.end_time_unix_nano)
        statuses.append(span.status)
        resources.append(span.resource)
        if span.links:
            linking.append(i)
    errors = [status.code is StatusCode.ERROR for status in statuses]
    # A store shares one Resource between the spans of a service: name each distinct one once.
    service_of = {key: r.service_name for key, r in {id(r): r for r in resources}.items()}
    services = [service_of[id(r)] for r in resources]
    # Span id → position (the first of duplicate ids); None is no key, so a root looks up to -1 too.
    index: dict[str | None, int] = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))
    parents: list[int] = list(map(index.get, parent_ids, repeat(-1, n)))  # -1: no parent, or not here
    orphan = [False] * n
    children: list[list[int]] = [[] for _ in range(n)]
    roots: list[int] = []
    orphans: list[int] = []
    for i, p in enumerate(parents):
        if p >= 0:
            children[p].append(i)
        elif parent_ids[i] is None:
            roots.append(i)
        else:
            orphan[i] = True
            orphans.append(i)
    tops = roots + orphans  # the subtree tops, in waterfall order
    order, depth = _waterfall(tops, parents, children, orphan)

    critical = [0] * n
    segments = critical_path(tops, parents, children, starts, ends, kinds)
    for lo, hi, i in segments:
        critical[i] += hi - lo
    segments.sort()  # each top's sections come latest first: one descending run per top
    self_ns = [e - s for s, e in zip(starts, ends, strict=True)]
    for i, kids in enumerate(children):
        if kids:
            self_ns[i] -= _covered(starts[i], ends[i], kids, starts, ends)

    nodes: list[GraphNode] = [
        {
            "span_id": ids[i],
            "parent_span_id": parent_ids[i],
            "service": services[i],
            "name": names[i],
            "kind": _KIND_NAMES[kinds[i]],
            "start_ns": starts[i],
            "end_ns": ends[i],
            "duration_ns": ends[i] - starts[i],
            "self_ns": self_ns[i],
            "critical_ns": critical[i],
            "depth": depth[i],
            "is_error": errors[i],
            "orphan": orphan[i],
            "child_count": len(children[i]),
        }
        for i in order
    ]
    per_service: dict[str, list[int]] = {}  # spans, errors, self, critical
    for service, error, own, on_path in zip(services, errors, self_ns, critical, strict=True):
        totals = per_service.get(service)
        if totals is None:
            totals = per_service[service] = [0, 0, 0, 0]
        totals[0] += 1
        totals[1] += error
        totals[2] += own
        totals[3] += on_path
    summaries: list[ServiceSummary] = [
        {"service": s, "spans": t[0], "errors": t[1], "self_ns": t[2], "critical_ns": t[3]}
        for s, t in per_service.items()
    ]
    summaries.sort(key=lambda s: (-s["critical_ns"], -s["self_ns"], s["service"]))
    links, hops = _links(trace, linking, index, stored_trace_ids, parents, kinds)
    start_ns, end_ns = min(starts), max(ends)
    return {
        "trace_id": trace.trace_id,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "duration_ns": end_ns - start_ns,
        "span_count": n,
        "roots": [ids[i] for i in roots],
        "nodes": nodes,
        "links": links,
        "critical_path": [{"span_id": ids[i], "start_ns": lo, "end_ns": hi} for lo, hi, i in segments],
        "services": summaries,
        "service_graph": _service_graph(per_service, parents, hops, services, kinds, starts, ends),
    }


def _empty(trace_id: str) -> TraceGraph:
    return {
        "trace_id": trace_id,
        "start_ns": 0,
        "end_ns": 0,
        "duration_ns": 0,
        "span_count": 0,
        "roots": [],
        "nodes": [],
        "links": [],
        "critical_path": [],
        "services": [],
        "service_graph": {"nodes": [], "edges": []},
    }


def _waterfall(
    tops: list[int], parents: list[int], children: list[list[int]], orphan: list[bool]
) -> tuple[list[int], list[int]]:
    """Depth-first order from `tops` and each span's depth. Spans in a parent loop hang off no top:
    the first of them is cut from its parent and appended to `tops` as an orphan, until all are
    placed (`parents`, `children`, `orphan` and `tops` are updated in place)."""
    n = len(parents)
    order: list[int] = []
    depth = [0] * n
    placed = [False] * n
    pending = list(reversed(tops))
    unplaced = 0
    while True:
        while pending:
            i = pending.pop()
            placed[i] = True
            order.append(i)
            kids = children[i]
            if kids:
                d = depth[i] + 1
                for c in kids:
                    depth[c] = d
                pending.extend(reversed(kids))
        if len(order) == n:
            return order, depth
        while placed[unplaced]:
            unplaced += 1
        children[parents[unplaced]].remove(unplaced)
        parents[unplaced], orphan[unplaced] = -1, True
        depth[unplaced] = 0
        tops.append(unplaced)
        pending.append(unplaced)


def _links(
    trace: Trace,
    linking: list[int],
    index: dict[str | None, int],
    stored_trace_ids: Collection[str],
    parents: list[int],
    kinds: list[int],
) -> tuple[list[GraphLink], list[tuple[int, int]]]:
    """Every link of the spans at `linking` as a stub, and the (linked span, linking span) pairs
    that are messaging hops inside the trace."""
    links: list[GraphLink] = []
    hops: list[tuple[int, int]] = []
    own = trace.trace_id
    for i in linking:
        span = trace.spans[i]
        for link in span.links:
            target = index.get(link.span_id, -1) if link.trace_id == own else -1
            links.append(
                {
                    "span_id": span.span_id,
                    "linked_trace_id": link.trace_id,
                    "linked_span_id": link.span_id,
                    "in_trace": target >= 0,
                    "stored": link.trace_id == own or link.trace_id in stored_trace_ids,
                    "attributes": (
                        link.model_dump(mode="json", include={"attributes"})["attributes"]
                        if link.attributes
                        else {}
                    ),
                }
            )
            if (
                target >= 0
                and target != parents[i]
                and (kinds[target] in _MESSAGING or kinds[i] in _MESSAGING)
            ):
                hops.append((target, i))
    return links, hops


def _service_graph(
    per_service: dict[str, list[int]],
    parents: list[int],
    hops: list[tuple[int, int]],
    services: list[str],
    kinds: list[int],
    starts: list[int],
    ends: list[int],
) -> ServiceGraph:
    edges: dict[tuple[str, str, bool], list[int]] = {}  # (parent, child, messaging): calls, duration
    for parent, child_service, child_kind, start, end in zip(
        parents, services, kinds, starts, ends, strict=True
    ):
        if parent < 0:
            continue
        parent_service = services[parent]
        if parent_service == child_service:
            continue
        key = (parent_service, child_service, kinds[parent] == PRODUCER and child_kind == CONSUMER)
        edge = edges.get(key)
        if edge is None:
            edges[key] = [1, end - start]
        else:
            edge[0] += 1
            edge[1] += end - start
    for linked, child in hops:
        key = (services[linked], services[child], True)
        if key[0] != key[1]:
            edge = edges.setdefault(key, [0, 0])
            edge[0] += 1
            edge[1] += ends[child] - starts[child]
    return {
        "nodes": [{"service": s, "spans": t[0], "errors": t[1]} for s, t in sorted(per_service.items())],
        "edges": [
            {
                "parent": parent,
                "child": child,
                "calls": value[0],
                "duration_ns": value[1],
                "kind": "messaging" if messaging else "call",
            }
            for (parent, child, messaging), value in sorted(edges.items())
        ],
    }
