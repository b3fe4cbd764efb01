// Trace page: header with the sampling decision, the trace's service graph, a span search box, the
// waterfall and the detail of the chosen span. The tree, critical path and service graph come from
// /v1/traces/{id}/graph; the full spans from /v1/traces/{id}.

import { ApiError, authHeaders, esc, fmtDuration, fmtTime, getJson, kindName, readJson, serviceColor, spanService } from "./api.js";
import { detailHtml, samplingHtml } from "./detail.js";
import { graphSvg } from "./graph.js";
import { Waterfall } from "./waterfall.js";

/** The waterfall's model without the graph API: tree order and depth only, no critical path. */
function localGraph(trace) {
  const spans = trace.spans;
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  const tops = [];
  for (const s of spans) {
    if (s.parent_span_id && ids.has(s.parent_span_id)) {
      if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
      children.get(s.parent_span_id).push(s);
    } else tops.push(s);
  }
  const byStart = (a, b) => a.start_time_unix_nano - b.start_time_unix_nano;
  tops.sort((a, b) => (a.parent_span_id ? 1 : 0) - (b.parent_span_id ? 1 : 0) || byStart(a, b));
  const nodes = [];
  const stack = tops.slice().reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [s, depth] = stack.pop();
    const kids = (children.get(s.span_id) || []).sort(byStart);
    nodes.push({
      span_id: s.span_id, parent_span_id: s.parent_span_id, service: spanService(s), name: s.name,
      kind: kindName(s.kind), start_ns: s.start_time_unix_nano, end_ns: s.end_time_unix_nano,
      duration_ns: s.end_time_unix_nano - s.start_time_unix_nano, self_ns: null, critical_ns: 0, depth,
      is_error: (s.status || {}).code === 2, orphan: depth === 0 && !!s.parent_span_id, child_count: kids.length,
    });
    for (let k = kids.length - 1; k >= 0; k--) stack.push([kids[k], depth + 1]);
  }
  const start = Math.min(...spans.map((s) => s.start_time_unix_nano));
  const end = Math.max(...spans.map((s) => s.end_time_unix_nano));
  const links = spans.flatMap((s) => (s.links || []).map((l) => ({
    span_id: s.span_id, linked_trace_id: l.trace_id, linked_span_id: l.span_id,
    in_trace: l.trace_id === trace.trace_id && ids.has(l.span_id), stored: null, attributes: l.attributes || {},
  })));
  return { trace_id: trace.trace_id, start_ns: start, end_ns: end, duration_ns: end - start, span_count: spans.length,
    nodes, links, critical_path: [], services: [], service_graph: null, local: true };
}

function markPainted() {
  // After the next frame is painted: rAF runs before paint, a task queued from it runs after.
  requestAnimationFrame(() => setTimeout(() => {
    window.__dtPainted = performance.now();
    document.body.dataset.painted = "1";
  }, 0));
}

/** The graph of `traceId`, from the request the page shell started when it matches, else a new one. */
async function loadGraph(traceId, signal) {
  const pre = window.__dtPrefetch;
  window.__dtPrefetch = null; // one use: a later visit asks again
  const response = pre && pre.id === traceId ? await pre.graph : await fetch(`/v1/traces/${encodeURIComponent(traceId)}/graph`, {
    signal, headers: authHeaders() });
  return (await readJson(response)).data;
}

/** What the detail panel shows of a span before the full trace has arrived. */
function spanFromNode(node) {
  return {
    span_id: node.span_id, parent_span_id: node.parent_span_id, name: node.name, kind: node.kind,
    start_time_unix_nano: node.start_ns, end_time_unix_nano: node.end_ns, status: { code: node.is_error ? 2 : 0 },
    attributes: {}, events: [], resource: { attributes: { "service.name": node.service } }, loading: true,
  };
}

export async function renderTrace(ctx, traceId) {
  const { root, signal, params } = ctx;
  document.title = "Trace " + traceId.slice(0, 12) + " · DataTracing";
  // Readiness marks (read by tests and the paint benchmark) belong to the trace on screen.
  window.__dtPainted = undefined;
  delete document.body.dataset.painted;
  delete document.body.dataset.spans;
  root.innerHTML = `<p class="muted">Loading trace ${esc(traceId)}…</p>`;
  const enc = encodeURIComponent(traceId);
  // The waterfall is drawn from the graph alone; the full spans (attributes, events, resource) follow.
  const state = { body: null, spanById: new Map(), selected: -1 };
  let graph;
  try {
    graph = await loadGraph(traceId, signal);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    graph = null;
  }
  // Awaited below with no await in between, so a failure is always handled.
  const traceLoaded = getJson(`/v1/traces/${enc}`, signal);
  if (!graph) {
    try {
      state.body = await traceLoaded;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      root.innerHTML = `<p class="error">${err.status === 404 ? "Trace not found: " : ""}${esc(err.message)}</p>
        <p><a href="/search">Back to search</a></p>`;
      return;
    }
    graph = localGraph(state.body.data);
  }
  const critical = new Map();
  for (const seg of graph.critical_path) {
    if (!critical.has(seg.span_id)) critical.set(seg.span_id, []);
    critical.get(seg.span_id).push(seg);
  }
  const linksOut = new Map(), linksIn = new Map();
  for (const l of graph.links) {
    if (!linksOut.has(l.span_id)) linksOut.set(l.span_id, []);
    linksOut.get(l.span_id).push(l);
    if (l.in_trace) {
      if (!linksIn.has(l.linked_span_id)) linksIn.set(l.linked_span_id, []);
      linksIn.get(l.linked_span_id).push(l);
    }
  }
  const linkCount = new Map([...linksOut].map(([k, v]) => [k, v.length]));
  const rootNode = graph.nodes[0];
  const errors = graph.nodes.filter((n) => n.is_error).length;
  const services = [...new Set(graph.nodes.map((n) => n.service))];

  root.innerHTML = `
    <div class="trace-page">
      <section class="trace-head">
        <h2><span class="svc" style="--c:${serviceColor(rootNode.service)}">${esc(rootNode.service)}</span> ${esc(rootNode.name)}
          ${errors ? `<span class="badge err">${errors} error${errors > 1 ? "s" : ""}</span>` : ""}</h2>
        <div class="facts-line">
          <span>trace <b class="mono">${esc(graph.trace_id)}</b></span>
          <span>start <b>${esc(fmtTime(graph.start_ns))}</b></span>
          <span>duration <b>${fmtDuration(graph.duration_ns)}</b></span>
          <span><b>${graph.span_count}</b> spans</span>
          <span><b>${services.length}</b> services</span>
          <span class="sampling" id="sampling">sampled: <span class="muted">…</span></span>
        </div>
      </section>
      <details class="trace-graph" open><summary>Service graph${graph.local ? " (graph API unavailable)" : ""}</summary>
        <div class="trace-graph-body"><div class="graph-box" id="trace-graph"></div><div id="svc-table"></div></div></details>
      <div class="wf-toolbar">
        <input type="search" id="span-search" placeholder="Find spans: name, service, id, attribute" aria-label="Find spans" spellcheck="false">
        <span id="match-info" class="muted"></span>
        <button type="button" id="prev-match" title="Previous match">↑</button><button type="button" id="next-match" title="Next match">↓</button>
        <button type="button" id="collapse-all">Collapse all</button><button type="button" id="expand-all">Expand all</button>
        <label class="cp-toggle"><input type="checkbox" id="show-critical" checked ${graph.critical_path.length ? "" : "disabled"}>
          <i class="cp-legend"></i> critical path</label>
      </div>
      <div class="trace-body">
        <div id="waterfall"></div>
        <aside class="detail" id="detail"><p class="muted">Select a span to see its attributes, events and links.</p></aside>
      </div>
    </div>`;

  const detail = root.querySelector("#detail");
  const showDetail = (i) => {
    state.selected = i;
    const node = graph.nodes[i];
    const span = state.spanById.get(node.span_id) || spanFromNode(node);
    detail.innerHTML = detailHtml({
      span, node, traceId: graph.trace_id, traceStart: graph.start_ns,
      links: linksOut.get(node.span_id) || [], inbound: linksIn.get(node.span_id) || [],
      sampling: state.body ? state.body.sampling ?? null : undefined,
    });
    const url = new URL(location.href);
    url.searchParams.set("span", node.span_id);
    history.replaceState(null, "", url.pathname + url.search);
  };
  const waterfall = new Waterfall(root.querySelector("#waterfall"), {
    nodes: graph.nodes, start_ns: graph.start_ns, duration_ns: graph.duration_ns, critical, linkCount,
  }, { onSelect: showDetail });
  markPainted();
  detail.addEventListener("click", (event) => {
    const goto = event.target.closest("[data-goto]");
    if (goto && waterfall.indexById.has(goto.dataset.goto)) waterfall.select(waterfall.indexById.get(goto.dataset.goto), true);
  });
  const wanted = params.get("span");
  if (wanted && waterfall.indexById.has(wanted)) waterfall.select(waterfall.indexById.get(wanted), true);

  root.querySelector("#show-critical").addEventListener("change", (e) => waterfall.setShowCritical(e.target.checked));
  root.querySelector("#collapse-all").addEventListener("click", () => waterfall.setCollapsedAll(true));
  root.querySelector("#expand-all").addEventListener("click", () => waterfall.setCollapsedAll(false));
  wireSpanSearch(root, waterfall, graph, state);
  // The graph is below the fold of a big trace's first paint: draw it after the waterfall.
  setTimeout(() => drawTraceGraph(root, graph), 0);

  try {
    state.body = state.body || (await traceLoaded);
    if (signal.aborted) return; // another view is on screen now
  } catch (err) {
    if (err.name === "AbortError") throw err;
    root.querySelector("#sampling").innerHTML = `<span class="error">spans not loaded: ${esc(err.message)}</span>`;
    return;
  }
  state.spanById = new Map(state.body.data.spans.map((s) => [s.span_id, s]));
  root.querySelector("#sampling").innerHTML = "sampled: " + samplingHtml(state.body.sampling ?? null);
  if (state.selected >= 0) showDetail(state.selected);
  document.body.dataset.spans = "loaded";
}

function wireSpanSearch(root, waterfall, graph, state) {
  const input = root.querySelector("#span-search");
  const info = root.querySelector("#match-info");
  let list = [], at = -1, timer = 0;
  const spanText = (node) => {
    const span = state.spanById.get(node.span_id) || {};
    const attrs = Object.entries(span.attributes || {}).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v));
    return [node.service, node.name, node.span_id, ...attrs].join("\n").toLowerCase();
  };
  const run = () => {
    const q = input.value.trim().toLowerCase();
    list = q ? graph.nodes.flatMap((node, i) => (spanText(node).includes(q) ? [i] : [])) : [];
    at = -1;
    waterfall.setMatches(q ? new Set(list) : null);
    info.textContent = q ? `${list.length} match${list.length === 1 ? "" : "es"}` : "";
    if (list.length) step(1);
  };
  const step = (dir) => {
    if (!list.length) return;
    at = (at + dir + list.length) % list.length;
    waterfall.select(list[at], true);
    info.textContent = `${at + 1} of ${list.length}`;
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 150); });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); clearTimeout(timer); if (at < 0) run(); else step(e.shiftKey ? -1 : 1); } });
  root.querySelector("#next-match").addEventListener("click", () => step(1));
  root.querySelector("#prev-match").addEventListener("click", () => step(-1));
}

function drawTraceGraph(root, graph) {
  const box = root.querySelector("#trace-graph");
  if (!box) return;
  const sg = graph.service_graph;
  if (!sg) {
    box.innerHTML = `<p class="muted">The graph API is not available on this server.</p>`;
    return;
  }
  box.innerHTML = graphSvg(
    sg.nodes.map((n) => ({ id: n.service, sub: `${n.spans} span${n.spans === 1 ? "" : "s"}${n.errors ? `, ${n.errors} errors` : ""}`, error: n.errors > 0 })),
    sg.edges.map((e) => ({ from: e.parent, to: e.child, kind: e.kind, label: `${e.calls} ${e.kind === "messaging" ? "msg" : "call"}${e.calls > 1 ? "s" : ""}` })),
    { label: "Trace service graph" },
  );
  root.querySelector("#svc-table").innerHTML = `<table class="svc-table"><thead><tr><th>service</th><th>spans</th><th>errors</th><th>self time</th><th>critical path</th></tr></thead><tbody>${graph.services
    .map((s) => `<tr><td><span class="svc" style="--c:${serviceColor(s.service)}">${esc(s.service)}</span></td><td>${s.spans}</td><td>${s.errors || ""}</td><td>${fmtDuration(s.self_ns)}</td><td>${s.critical_ns ? fmtDuration(s.critical_ns) : ""}</td></tr>`)
    .join("")}</tbody></table>`;
}
