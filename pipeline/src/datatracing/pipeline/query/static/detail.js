// The span detail panel: timing, status, attributes, resource, events, links (outgoing and inbound,
// a link to another trace opens it) and the sampling decision that kept the trace.

import { esc, fmtDuration, fmtTime, fmtValue, kindName, serviceColor, spanService } from "./api.js";

const STATUS = ["unset", "ok", "error"];

function table(attrs) {
  const keys = Object.keys(attrs || {}).sort();
  if (!keys.length) return `<p class="muted">none</p>`;
  return `<table class="kv">${keys
    .map((k) => `<tr><th>${esc(k)}</th><td>${esc(fmtValue(attrs[k]))}</td></tr>`)
    .join("")}</table>`;
}

export function samplingHtml(sampling) {
  if (sampling === undefined) return `<span class="muted">…</span>`; // the trace is still loading
  if (!sampling) return `<span class="muted">not recorded</span>`;
  // The sampler's rate is "1 in N": 1 keeps everything, 10 kept one trace in ten.
  const rate = typeof sampling.sample_rate === "number" ? sampling.sample_rate : null;
  const rateText = rate === null ? "" : rate >= 1 ? `1 in ${rate % 1 ? rate.toFixed(2) : rate}` : String(rate);
  return `policy <b>${esc(sampling.policy || "?")}</b>${sampling.policy_version ? ` (version ${esc(sampling.policy_version)})` : ""}${
    rateText ? `, rate <b>${esc(rateText)}</b>` : ""}`;
}

function linkHtml(traceId, link, direction) {
  const other = direction === "out" ? { trace: link.linked_trace_id, span: link.linked_span_id } : { trace: traceId, span: link.span_id };
  const inTrace = direction === "in" || link.in_trace;
  const target = inTrace
    ? `<button type="button" class="linkish" data-goto="${esc(other.span)}">span ${esc(other.span)} (this trace)</button>`
    : `<a class="trace-link" href="/trace/${esc(other.trace)}?span=${esc(other.span)}">trace ${esc(other.trace.slice(0, 16))}… span ${esc(other.span)}</a>${
        link.stored === false ? ` <span class="muted">(not stored)</span>` : ""}`;
  const attrs = link.attributes && Object.keys(link.attributes).length ? table(link.attributes) : "";
  return `<li>${direction === "out" ? "→" : "←"} ${target}${attrs}</li>`;
}

/** The panel for one span: {span (full), node (graph), traceId, traceStart, links, inbound, sampling}. */
export function detailHtml({ span, node, traceId, traceStart, links, inbound, sampling }) {
  const service = node ? node.service : spanService(span);
  const status = span.status || {};
  const statusName = STATUS[status.code] || String(status.code);
  const events = (span.events || [])
    .map((e) => `<li><span class="mono">+${fmtDuration(e.time_unix_nano - traceStart)}</span> <b>${esc(e.name)}</b>${
      Object.keys(e.attributes || {}).length ? table(e.attributes) : ""}</li>`)
    .join("");
  const resource = (span.resource && span.resource.attributes) || {};
  const scope = span.scope || {};
  return `
    <h3><span class="svc" style="--c:${serviceColor(service)}">${esc(service)}</span> ${esc(span.name)}</h3>
    <table class="kv facts">
      <tr><th>span id</th><td class="mono">${esc(span.span_id)}</td></tr>
      <tr><th>parent</th><td class="mono">${span.parent_span_id ? `<button type="button" class="linkish" data-goto="${esc(span.parent_span_id)}">${esc(span.parent_span_id)}</button>` : "root"}</td></tr>
      <tr><th>kind</th><td>${esc(kindName(span.kind))}</td></tr>
      <tr><th>start</th><td>${esc(fmtTime(span.start_time_unix_nano))} (+${fmtDuration(span.start_time_unix_nano - traceStart)})</td></tr>
      <tr><th>duration</th><td>${fmtDuration(span.end_time_unix_nano - span.start_time_unix_nano)}</td></tr>
      ${node && node.self_ns != null ? `<tr><th>self time</th><td>${fmtDuration(node.self_ns)}</td></tr>` : ""}
      ${node && node.critical_ns ? `<tr><th>critical path</th><td class="crit-text">${fmtDuration(node.critical_ns)}</td></tr>` : ""}
      <tr><th>status</th><td class="${statusName === "error" ? "err-text" : ""}">${esc(statusName)}${status.message ? ": " + esc(status.message) : ""}</td></tr>
      <tr><th>sampling</th><td>${samplingHtml(sampling)}</td></tr>
    </table>
    ${span.loading ? `<p class="muted">Loading attributes, events and resource…</p>` : ""}
    <h4>Attributes</h4>${table(span.attributes)}
    <h4>Links${links.length ? ` (${links.length})` : ""}</h4>
    ${links.length ? `<ul class="links">${links.map((l) => linkHtml(traceId, l, "out")).join("")}</ul>` : `<p class="muted">none</p>`}
    ${inbound.length ? `<h4>Linked from (${inbound.length})</h4><ul class="links">${inbound.map((l) => linkHtml(traceId, l, "in")).join("")}</ul>` : ""}
    <h4>Events${span.events && span.events.length ? ` (${span.events.length})` : ""}</h4>
    ${events ? `<ul class="events">${events}</ul>` : `<p class="muted">none</p>`}
    <h4>Resource</h4>${table(resource)}
    ${scope.name ? `<h4>Scope</h4><p>${esc(scope.name)} ${esc(scope.version || "")}</p>` : ""}`;
}
