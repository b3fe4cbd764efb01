// Search page: the form (its fields are a table, so a new API parameter is one line here), results with
// duration bars, and a duration-over-time scatter. The address holds the search, so it can be shared.

import { esc, fmtAge, fmtDuration, fmtTime, getJson, serviceColor } from "./api.js";

const LOOKBACKS = [
  ["5m", "Last 5 minutes", 300], ["15m", "Last 15 minutes", 900], ["1h", "Last hour", 3600],
  ["6h", "Last 6 hours", 21600], ["1d", "Last day", 86400], ["2d", "Last 2 days", 172800],
  ["7d", "Last 7 days", 604800], ["custom", "Custom range", 0],
];
const DEFAULT_LOOKBACK = "1h";

// Each field: its query parameter (sent to /v1/traces as is), label and input kind. `multi` fields are
// repeated parameters, typed one per line. `gated` fields show only when the service's OpenAPI document
// lists the parameter for GET /v1/traces, so the form follows the server it talks to.
const FIELDS = [
  { name: "service", label: "Service", kind: "select", options: [] },
  { name: "operation", label: "Operation", kind: "select", options: [] },
  { name: "status", label: "Status", kind: "select", options: [["", "any"], ["error", "error"], ["ok", "ok"], ["unset", "unset"]] },
  { name: "has_error", label: "Error anywhere in the trace", kind: "select", options: [["", "any"], ["true", "yes"], ["false", "no"]], gated: true },
  { name: "trace_service", label: "Trace has services", kind: "text", multi: true, placeholder: "one service per line", gated: true },
  { name: "lookback", label: "Time range", kind: "select", options: LOOKBACKS.map(([v, l]) => [v, l]) },
  { name: "start", label: "From", kind: "datetime", custom: true },
  { name: "end", label: "To", kind: "datetime", custom: true },
  { name: "duration_scope", label: "Duration of", kind: "select", options: [["", "default"], ["trace", "the whole trace"], ["span", "a matching span"]], gated: true },
  { name: "min_duration_ms", label: "Min duration (ms)", kind: "number" },
  { name: "max_duration_ms", label: "Max duration (ms)", kind: "number" },
  { name: "min_spans", label: "Min spans", kind: "number", gated: true },
  { name: "max_spans", label: "Max spans", kind: "number", gated: true },
  { name: "attr", label: "Span attributes", kind: "text", multi: true, placeholder: "key=value, one per line" },
  { name: "resource_attr", label: "Resource attributes", kind: "text", multi: true, placeholder: "key=value, one per line" },
  { name: "limit", label: "Limit", kind: "number", placeholder: "20" },
];

let supported = null; // promise of the Set of /v1/traces parameter names, asked once per page load

function searchParameters() {
  supported ||= fetch("/openapi.json", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((doc) => {
      const op = doc && doc.paths && doc.paths["/v1/traces"] && doc.paths["/v1/traces"].get;
      return new Set(((op && op.parameters) || []).map((p) => p.name));
    })
    .catch(() => new Set());
  return supported;
}

function fieldHtml(field) {
  const id = "f-" + field.name;
  let input;
  if (field.kind === "select") {
    input = `<select id="${id}" name="${field.name}"></select>`;
  } else if (field.multi) {
    input = `<textarea id="${id}" name="${field.name}" rows="2" placeholder="${esc(field.placeholder || "")}" spellcheck="false"></textarea>`;
  } else if (field.kind === "datetime") {
    input = `<input id="${id}" name="${field.name}" type="datetime-local" step="1">`;
  } else {
    input = `<input id="${id}" name="${field.name}" type="number" min="0" step="any" placeholder="${esc(field.placeholder || "")}">`;
  }
  return `<label class="field${field.custom ? " custom" : ""}${field.gated ? " gated" : ""}" for="${id}"><span>${esc(field.label)}</span>${input}</label>`;
}

function setOptions(select, options, value) {
  select.innerHTML = options.map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join("");
  if (value && !options.some(([v]) => v === value)) select.insertAdjacentHTML("beforeend", `<option value="${esc(value)}">${esc(value)}</option>`);
  select.value = value || "";
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (v) => String(v).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The form's values as the page's query string (empty fields left out). */
function formToParams(form) {
  const out = new URLSearchParams();
  const lookback = form.elements.lookback.value;
  for (const field of FIELDS) {
    if (field.custom && lookback !== "custom") continue;
    if (field.gated && !form.elements[field.name].closest(".field").classList.contains("on")) continue;
    const raw = form.elements[field.name].value.trim();
    if (!raw) continue;
    if (field.multi) {
      for (const line of raw.split("\n")) if (line.trim()) out.append(field.name, line.trim());
    } else if (field.kind === "datetime") {
      out.set(field.name, new Date(raw).toISOString());
    } else if (!(field.name === "lookback" && raw === DEFAULT_LOOKBACK)) {
      out.set(field.name, raw);
    }
  }
  return out;
}

/** The API query for the page's parameters: a lookback becomes a start time; other names pass through. */
function apiParams(params) {
  const out = new URLSearchParams();
  for (const [key, value] of params) if (key !== "lookback") out.append(key, value);
  const lookback = params.get("lookback") || (params.has("start") ? "custom" : DEFAULT_LOOKBACK);
  const seconds = (LOOKBACKS.find(([v]) => v === lookback) || [0, 0, 3600])[2];
  if (lookback !== "custom" && seconds) out.set("start", new Date(Date.now() - seconds * 1000).toISOString());
  return out;
}

export async function renderSearch(ctx) {
  const { root, params, signal } = ctx;
  document.title = "Search · DataTracing";
  root.innerHTML = `
    <div class="search-page">
      <form class="search-form" id="search-form" autocomplete="off">
        <h2>Find traces</h2>
        ${FIELDS.map(fieldHtml).join("")}
        <button type="submit" class="primary">Find traces</button>
      </form>
      <section class="results" id="results"><p class="muted">Searching…</p></section>
    </div>`;
  const form = root.querySelector("#search-form");
  const lookback = params.get("lookback") || (params.has("start") ? "custom" : DEFAULT_LOOKBACK);
  for (const field of FIELDS) {
    const el = form.elements[field.name];
    if (field.kind === "select") setOptions(el, field.options, field.name === "lookback" ? lookback : params.get(field.name));
    else if (field.multi) el.value = params.getAll(field.name).join("\n");
    else if (field.kind === "datetime") el.value = params.get(field.name) ? toLocalInput(params.get(field.name)) : "";
    else el.value = params.get(field.name) || "";
  }
  const showCustom = () => form.classList.toggle("show-custom", form.elements.lookback.value === "custom");
  showCustom();
  form.elements.lookback.addEventListener("change", showCustom);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = formToParams(form).toString();
    ctx.navigate("/search" + (query ? "?" + query : ""));
  });
  form.elements.service.addEventListener("change", () => loadOperations(form, "", signal).catch((err) => showFormError(form, err)));

  loadServices(form, params, signal);
  searchParameters().then((names) => {
    for (const field of FIELDS) {
      if (field.gated && names.has(field.name)) form.elements[field.name].closest(".field").classList.add("on");
    }
  });
  await runSearch(root.querySelector("#results"), params, signal);
}

async function loadServices(form, params, signal) {
  try {
    const services = (await getJson("/v1/services", signal)).data;
    setOptions(form.elements.service, [["", "all services"], ...services.map((s) => [s, s])], params.get("service"));
    await loadOperations(form, params.get("operation"), signal);
  } catch (err) {
    showFormError(form, err);
  }
}

function showFormError(form, err) {
  if (err.name !== "AbortError") form.insertAdjacentHTML("beforeend", `<p class="error">${esc(err.message)}</p>`);
}

async function loadOperations(form, selected, signal) {
  const service = form.elements.service.value;
  let ops = [];
  if (service) ops = (await getJson(`/v1/services/${encodeURIComponent(service)}/operations`, signal)).data;
  const names = [...new Set(ops.map((o) => o.name))].sort();
  setOptions(form.elements.operation, [["", "all operations"], ...names.map((n) => [n, n])], selected);
}

async function runSearch(box, params, signal) {
  const query = apiParams(params);
  let body;
  try {
    body = await getJson("/v1/traces?" + query.toString(), signal);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    box.innerHTML = `<p class="error">${esc(err.message)}</p>`;
    return;
  }
  const hits = body.data;
  box.innerHTML = `
    <div class="results-head"><h2><span id="hit-count">${hits.length}</span> <span id="hit-noun">traces</span></h2></div>
    <div class="scatter" id="scatter"></div>
    <ol class="hits" id="hits"></ol>
    <div class="more"></div>`;
  showHits(box, hits, body.next_cursor, query, signal);
}

function showHits(box, hits, cursor, query, signal) {
  box.querySelector("#hit-count").textContent = hits.length + (cursor ? "+" : "");
  box.querySelector("#hit-noun").textContent = hits.length === 1 && !cursor ? "trace" : "traces";
  if (!hits.length) {
    box.querySelector("#hits").innerHTML = `<li class="muted">No traces match. Widen the time range or remove a filter.</li>`;
    box.querySelector("#scatter").innerHTML = "";
    return;
  }
  const maxDuration = Math.max(...hits.map((h) => h.duration_ns), 1);
  box.querySelector("#hits").innerHTML = hits.map((h) => hitHtml(h, maxDuration)).join("");
  box.querySelector("#scatter").innerHTML = scatterSvg(hits);
  const more = box.querySelector(".more");
  more.innerHTML = cursor ? `<button type="button">More results</button>` : "";
  if (cursor) {
    more.querySelector("button").addEventListener("click", async () => {
      const next = new URLSearchParams(query);
      next.set("cursor", cursor);
      let body;
      try {
        body = await getJson("/v1/traces?" + next.toString(), signal);
      } catch (err) {
        if (err.name !== "AbortError") more.innerHTML = `<p class="error">${esc(err.message)}</p>`;
        return;
      }
      showHits(box, hits.concat(body.data), body.next_cursor, query, signal);
    });
  }
}

function hitHtml(h, maxDuration) {
  const width = Math.max(0.5, (100 * h.duration_ns) / maxDuration);
  const chips = h.services
    .map((s) => `<span class="chip" style="--c:${serviceColor(s)}">${esc(s)}</span>`)
    .join("");
  return `<li><a class="hit${h.has_error ? " has-error" : ""}" href="/trace/${esc(h.trace_id)}">
    <div class="hit-title"><span><b>${esc(h.root_service)}</b>: ${esc(h.root_name)}</span>
      ${h.has_error ? `<span class="badge err">error</span>` : ""}
      <span class="hit-id mono">${esc(h.trace_id.slice(0, 12))}</span></div>
    <div class="hit-bar"><span style="width:${width.toFixed(2)}%"></span><em>${fmtDuration(h.duration_ns)}</em></div>
    <div class="hit-meta"><span>${h.span_count} spans</span>${chips}
      <span class="hit-time" title="${esc(fmtTime(h.start_ns))}">${fmtTime(h.start_ns)} · ${fmtAge(h.start_ns)}</span></div>
  </a></li>`;
}

function scatterSvg(hits) {
  const W = 800, H = 160, L = 56, R = 12, T = 10, B = 24;
  const xs = hits.map((h) => h.start_ns), ys = hits.map((h) => h.duration_ns);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x1 === x0) { x0 -= 1e9; x1 += 1e9; }
  const y1 = Math.max(...ys) * 1.1 || 1;
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - (y / y1) * (H - T - B);
  const ticks = [0, 0.5, 1].map((f) => `
    <line x1="${L}" x2="${W - R}" y1="${py(y1 * f)}" y2="${py(y1 * f)}" class="grid"/>
    <text x="${L - 6}" y="${py(y1 * f) + 4}" text-anchor="end">${fmtDuration(Math.round(y1 * f))}</text>`).join("");
  const xl = [x0, x1].map((x, i) => `<text x="${px(x)}" y="${H - 6}" text-anchor="${i ? "end" : "start"}">${fmtTime(x).slice(11, x1 - x0 < 60e9 ? 23 : 19)}</text>`).join("");
  const dots = hits.map((h) => `<a href="/trace/${esc(h.trace_id)}"><circle cx="${px(h.start_ns).toFixed(1)}" cy="${py(h.duration_ns).toFixed(1)}" r="5"
      class="${h.has_error ? "dot err" : "dot"}"><title>${esc(h.root_service)}: ${esc(h.root_name)} · ${fmtDuration(h.duration_ns)}</title></circle></a>`).join("");
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Duration over time">${ticks}${xl}${dots}</svg>`;
}
