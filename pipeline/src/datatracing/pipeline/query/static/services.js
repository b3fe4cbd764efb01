// Services page: the service map from /v1/dependencies, and the operations of the chosen service.

import { esc, getJson } from "./api.js";
import { graphSvg } from "./graph.js";

export async function renderServices(ctx) {
  const { root, params, signal } = ctx;
  const selected = params.get("service") || "";
  document.title = (selected ? selected + " · " : "") + "Services · DataTracing";
  root.innerHTML = `<div class="services-page">
      <section class="map-box"><h2>Service map <small class="muted">last 24 hours, calls between services</small></h2>
        <div id="service-map" class="graph-box"><p class="muted">Loading…</p></div></section>
      <section class="ops-box" id="ops"></section></div>`;
  const [services, deps] = await Promise.all([
    getJson("/v1/services", signal).then((b) => b.data),
    getJson("/v1/dependencies", signal).then((b) => b.data),
  ]);
  const names = [...new Set([...services, ...deps.flatMap((d) => [d.parent, d.child])])].sort();
  const calls = new Map();
  for (const d of deps) calls.set(d.child, (calls.get(d.child) || 0) + d.call_count);
  const nodes = names.map((id) => ({
    id,
    sub: calls.has(id) ? calls.get(id) + (calls.get(id) === 1 ? " call in" : " calls in") : "",
    href: "/services?service=" + encodeURIComponent(id),
    selected: id === selected,
  }));
  const edges = deps.map((d) => ({ from: d.parent, to: d.child, label: d.call_count + (d.call_count === 1 ? " call" : " calls") }));
  root.querySelector("#service-map").innerHTML = names.length
    ? graphSvg(nodes, edges, { label: "Service map" })
    : `<p class="muted">No services stored yet.</p>`;

  const ops = root.querySelector("#ops");
  if (!selected) {
    ops.innerHTML = `<h2>Services</h2><ul class="svc-list">${names
      .map((n) => `<li><a href="/services?service=${encodeURIComponent(n)}">${esc(n)}</a></li>`)
      .join("")}</ul><p class="muted">Pick a service to see its operations.</p>`;
    return;
  }
  const list = (await getJson(`/v1/services/${encodeURIComponent(selected)}/operations`, signal)).data;
  const searchUrl = (op) => "/search?" + new URLSearchParams(op ? { service: selected, operation: op } : { service: selected });
  ops.innerHTML = `<h2>${esc(selected)}</h2>
    <p><a href="${esc(searchUrl(""))}">Search traces of ${esc(selected)}</a></p>
    <table class="ops"><thead><tr><th>Operation</th><th>Kind</th></tr></thead><tbody>${list
      .map((o) => `<tr><td><a href="${esc(searchUrl(o.name))}">${esc(o.name)}</a></td><td>${esc(o.span_kind)}</td></tr>`)
      .join("") || `<tr><td colspan="2" class="muted">No operations.</td></tr>`}</tbody></table>`;
}
