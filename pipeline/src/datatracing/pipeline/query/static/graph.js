// A directed graph of services drawn as SVG: layers from left to right by longest path from the
// sources, nodes ordered in each layer by their parents' positions. Used for the service map and for
// a trace's service graph.

import { esc, serviceColor } from "./api.js";

const NODE_W = 170, NODE_H = 44, GAP_X = 130, GAP_Y = 26, PAD = 16;

/**
 * nodes: [{id, sub, error, href, selected}], edges: [{from, to, label, kind}] (kind "messaging" is dashed).
 * Returns the SVG markup.
 */
export function graphSvg(nodes, edges, { label = "Service graph" } = {}) {
  if (!nodes.length) return `<p class="muted">No services.</p>`;
  const ids = nodes.map((n) => n.id);
  const layer = new Map(ids.map((id) => [id, 0]));
  // Longest path layering; a cycle stops growing after |nodes| rounds.
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const e of edges) {
      if (e.from === e.to || !layer.has(e.from) || !layer.has(e.to)) continue;
      if (layer.get(e.to) < layer.get(e.from) + 1 && layer.get(e.from) + 1 < ids.length) {
        layer.set(e.to, layer.get(e.from) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const layers = [];
  for (const id of ids) (layers[layer.get(id)] ||= []).push(id);
  const pos = new Map();
  layers.forEach((col, li) => {
    if (!col) return;
    const key = (id) => {
      const ys = edges.filter((e) => e.to === id && pos.has(e.from)).map((e) => pos.get(e.from).y);
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0;
    };
    col.sort((a, b) => key(a) - key(b) || a.localeCompare(b));
    col.forEach((id, i) => pos.set(id, { x: PAD + li * (NODE_W + GAP_X), y: PAD + i * (NODE_H + GAP_Y) }));
  });
  const width = PAD * 2 + layers.length * (NODE_W + GAP_X) - GAP_X;
  const loops = edges.some((e) => pos.has(e.from) && pos.has(e.to) && pos.get(e.to).x <= pos.get(e.from).x);
  const height = PAD * 2 + Math.max(...layers.map((c) => (c ? c.length : 0))) * (NODE_H + GAP_Y) - GAP_Y + (loops ? 40 : 0);

  // Ports: the edges leaving (entering) a node spread over its right (left) side, ordered by the other
  // end's height, so edges and their labels do not sit on top of each other.
  const drawn = edges.filter((e) => pos.has(e.from) && pos.has(e.to));
  const outPort = new Map(), inPort = new Map();
  const spread = (list, end, other, ports) => {
    const byNode = new Map();
    for (const e of list) (byNode.get(e[end]) || byNode.set(e[end], []).get(e[end])).push(e);
    for (const group of byNode.values()) {
      group.sort((x, y) => pos.get(x[other]).y - pos.get(y[other]).y);
      group.forEach((e, k) => ports.set(e, (NODE_H * (k + 1)) / (group.length + 1)));
    }
  };
  const forward = drawn.filter((e) => e.from !== e.to && pos.get(e.to).x > pos.get(e.from).x);
  spread(forward, "from", "to", outPort);
  spread(forward, "to", "from", inPort);
  const edgeSvg = drawn
    .map((e) => {
      const a = pos.get(e.from), b = pos.get(e.to);
      let d, lx, ly;
      if (e.from === e.to) {
        d = `M${a.x + NODE_W - 30},${a.y + NODE_H} c0,28 40,28 30,-${NODE_H / 2}`;
        lx = a.x + NODE_W; ly = a.y + NODE_H + 18;
      } else if (b.x > a.x) {
        const x1 = a.x + NODE_W, y1 = a.y + outPort.get(e), x2 = b.x - 4, y2 = b.y + inPort.get(e), m = (x1 + x2) / 2;
        d = `M${x1},${y1} C${m},${y1} ${m},${y2} ${x2},${y2}`;
        lx = x2 - 40; ly = y2 - 3; // by the target, where the ports keep labels apart
      } else {
        const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y + NODE_H + 4;
        const low = Math.max(y1, y2) + 26;
        d = `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`;
        lx = (x1 + x2) / 2; ly = low;
      }
      const cls = e.kind === "messaging" ? "edge messaging" : "edge";
      return `<g class="${cls}"><path d="${d}" marker-end="url(#arrow)"/>
        <text x="${lx}" y="${ly}" text-anchor="middle">${esc(e.label || "")}</text></g>`;
    })
    .join("");
  const nodeSvg = nodes
    .map((n) => {
      const p = pos.get(n.id);
      const body = `<g class="node${n.error ? " has-error" : ""}${n.selected ? " selected" : ""}" data-service="${esc(n.id)}">
        <rect x="${p.x}" y="${p.y}" width="${NODE_W}" height="${NODE_H}" rx="6" style="--c:${serviceColor(n.id)}"/>
        <text x="${p.x + 10}" y="${p.y + 18}" class="name">${esc(n.id.length > 22 ? n.id.slice(0, 21) + "…" : n.id)}</text>
        <text x="${p.x + 10}" y="${p.y + 34}" class="sub">${esc(n.sub || "")}</text>
        <title>${esc(n.id)}</title></g>`;
      return n.href ? `<a href="${esc(n.href)}">${body}</a>` : body;
    })
    .join("");
  return `<svg class="graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(label)}">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z"/></marker></defs>${edgeSvg}${nodeSvg}</svg>`;
}
