// The waterfall: one row per span in tree order, a time ruler, collapsible subtrees and the critical
// path drawn over the bars. Rows are virtualised (only the rows in view exist, absolutely placed in a
// tall spacer) and one delegated listener serves every row, so a 10,000-span trace stays responsive.

import { esc, fmtDuration, serviceColor } from "./api.js";

const ROW_H = 24;
const OVERSCAN = 12;
const MAX_INDENT = 40;

export class Waterfall {
  /**
   * model: {nodes (waterfall order, see the graph API), start_ns, duration_ns, critical: Map span_id →
   * [{start_ns, end_ns}], linkCount: Map span_id → n}. onSelect(index) is called when a row is chosen.
   */
  constructor(container, model, { onSelect }) {
    this.model = model;
    this.nodes = model.nodes;
    this.onSelect = onSelect;
    this.collapsed = new Set();
    this.selected = -1;
    this.matches = null; // Set of node indices matching the span search
    this.showCritical = true;
    const n = this.nodes.length;
    // End (exclusive) of each node's subtree in depth-first order.
    this.subtreeEnd = new Int32Array(n);
    const stack = [];
    for (let i = 0; i < n; i++) {
      while (stack.length && this.nodes[stack[stack.length - 1]].depth >= this.nodes[i].depth) this.subtreeEnd[stack.pop()] = i;
      stack.push(i);
    }
    while (stack.length) this.subtreeEnd[stack.pop()] = n;
    this.parentIndex = new Int32Array(n).fill(-1);
    const indexById = new Map();
    this.nodes.forEach((node, i) => indexById.set(node.span_id, i));
    this.indexById = indexById;
    this.nodes.forEach((node, i) => {
      if (node.parent_span_id && indexById.has(node.parent_span_id)) this.parentIndex[i] = indexById.get(node.parent_span_id);
    });

    container.innerHTML = `
      <div class="wf">
        <div class="wf-head"><div class="wf-name-h">Service · operation</div><div class="wf-ruler">${this.rulerHtml()}</div></div>
        <div class="wf-scroll" tabindex="0"><div class="wf-spacer"><div class="wf-rows"></div></div></div>
      </div>`;
    this.scroller = container.querySelector(".wf-scroll");
    this.spacer = container.querySelector(".wf-spacer");
    this.rowsBox = container.querySelector(".wf-rows");
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    this.rowsBox.addEventListener("click", (event) => this.onClick(event));
    this.scroller.addEventListener("keydown", (event) => this.onKey(event));
    this.recompute();
  }

  rulerHtml() {
    const parts = [];
    for (let k = 0; k <= 4; k++) {
      const label = fmtDuration(Math.round((this.model.duration_ns * k) / 4));
      parts.push(`<span class="tick" style="left:${k * 25}%">${k === 0 ? "0" : label}</span>`);
    }
    return parts.join("");
  }

  /** The visible rows after a collapse or expand. */
  recompute() {
    const out = [];
    for (let i = 0; i < this.nodes.length; ) {
      out.push(i);
      i = this.collapsed.has(i) ? this.subtreeEnd[i] : i + 1;
    }
    this.visible = out;
    this.rowOf = new Map(out.map((nodeIndex, row) => [nodeIndex, row]));
    this.spacer.style.height = out.length * ROW_H + "px";
    this.render();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  render() {
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(this.visible.length, first + Math.ceil(height / ROW_H) + 2 * OVERSCAN);
    const html = [];
    for (let row = first; row < last; row++) html.push(this.rowHtml(this.visible[row], row));
    this.rowsBox.innerHTML = html.join("");
  }

  rowHtml(i, row) {
    const node = this.nodes[i];
    const total = this.model.duration_ns || 1;
    const left = (100 * (node.start_ns - this.model.start_ns)) / total;
    const width = Math.max((100 * node.duration_ns) / total, 0.15);
    const color = serviceColor(node.service);
    const hasChildren = node.child_count > 0;
    const toggle = hasChildren ? (this.collapsed.has(i) ? "▸" : "▾") : "";
    const classes = ["row"];
    if (i === this.selected) classes.push("sel");
    if (node.is_error) classes.push("err");
    if (node.critical_ns > 0) classes.push("crit");
    if (this.matches && this.matches.has(i)) classes.push("match");
    const indent = Math.min(node.depth, MAX_INDENT) * 12 + 4;
    let critical = "";
    if (this.showCritical) {
      // A collapsed row also carries its hidden descendants' share of the critical path.
      const end = this.collapsed.has(i) ? this.subtreeEnd[i] : i + 1;
      const segments = [];
      for (let k = i; k < end; k++) {
        const own = this.model.critical.get(this.nodes[k].span_id);
        if (own) segments.push(...own);
      }
      for (const seg of segments) {
        const l = (100 * (seg.start_ns - this.model.start_ns)) / total;
        const w = Math.max((100 * (seg.end_ns - seg.start_ns)) / total, 0.1);
        critical += `<i class="cp" style="left:${l.toFixed(3)}%;width:${w.toFixed(3)}%"></i>`;
      }
    }
    const links = this.model.linkCount.get(node.span_id);
    // The duration goes after the bar, else before it, else (a bar across the whole ruler) inside it:
    // never out over the name column.
    const durPlace =
      left + width <= 80
        ? ["dur", `left:${(left + width).toFixed(3)}%`]
        : left >= 12
          ? ["dur", `right:${(100 - left).toFixed(3)}%`]
          : ["dur in", `left:${left.toFixed(3)}%`];
    const hidden = hasChildren && this.collapsed.has(i) ? ` <span class="hidden-n">+${this.subtreeEnd[i] - i - 1}</span>` : "";
    return `<div class="${classes.join(" ")}" data-i="${i}" style="top:${row * ROW_H}px">
      <div class="name" style="padding-left:${indent}px" title="${esc(node.service)}: ${esc(node.name)}"><span class="tg">${toggle}</span><span class="svc" style="--c:${color}">${esc(node.service)}</span> ${esc(node.name)}${hidden}${node.orphan ? ` <span class="badge">orphan</span>` : ""}${links ? ` <span class="lk" title="${links} link(s)">⇢${links}</span>` : ""}</div>
      <div class="tl"><i class="bar" style="left:${left.toFixed(3)}%;width:${width.toFixed(3)}%;--c:${color}"></i>${critical}<span class="${durPlace[0]}" style="${durPlace[1]}">${fmtDuration(node.duration_ns)}</span></div>
    </div>`;
  }

  onClick(event) {
    const rowEl = event.target.closest(".row");
    if (!rowEl) return;
    const i = Number(rowEl.dataset.i);
    if (event.target.closest(".tg") && this.nodes[i].child_count > 0) this.toggle(i);
    else this.select(i);
  }

  onKey(event) {
    if (this.selected < 0) return;
    const row = this.rowOf.get(this.selected);
    if (event.key === "ArrowDown" && row + 1 < this.visible.length) this.select(this.visible[row + 1], true);
    else if (event.key === "ArrowUp" && row > 0) this.select(this.visible[row - 1], true);
    else if (event.key === "ArrowLeft" && this.nodes[this.selected].child_count && !this.collapsed.has(this.selected)) this.toggle(this.selected);
    else if (event.key === "ArrowRight" && this.collapsed.has(this.selected)) this.toggle(this.selected);
    else return;
    event.preventDefault();
  }

  toggle(i) {
    if (this.collapsed.has(i)) this.collapsed.delete(i);
    else this.collapsed.add(i);
    this.recompute();
  }

  setCollapsedAll(collapse) {
    this.collapsed.clear();
    if (collapse) this.nodes.forEach((node, i) => { if (node.depth === 0 && node.child_count > 0) this.collapsed.add(i); });
    this.recompute();
  }

  /** Select a row: expand its collapsed ancestors, scroll it into view when asked. */
  select(i, scroll = false) {
    let changed = false;
    for (let p = this.parentIndex[i]; p >= 0; p = this.parentIndex[p]) {
      if (this.collapsed.delete(p)) changed = true;
    }
    this.selected = i;
    if (changed) this.recompute();
    if (scroll) {
      const top = this.rowOf.get(i) * ROW_H;
      const view = this.scroller;
      if (top < view.scrollTop || top + ROW_H > view.scrollTop + view.clientHeight) view.scrollTop = Math.max(0, top - view.clientHeight / 3);
    }
    this.render();
    this.onSelect(i);
  }

  setMatches(matches) {
    this.matches = matches;
    this.render();
  }

  setShowCritical(on) {
    this.showCritical = on;
    this.render();
  }
}
