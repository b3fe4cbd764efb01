// Calls to the query service's JSON API, and the formatting every view shares.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const KEY_ITEM = "dt-api-key"; // sessionStorage: the key lives as long as the tab

/** Request headers with the API key the user typed, when the service asked for one. */
export function authHeaders(headers = { Accept: "application/json" }) {
  const key = sessionStorage.getItem(KEY_ITEM);
  return key ? { ...headers, Authorization: "Bearer " + key } : headers;
}

/** GET a JSON route; throws ApiError with the service's error envelope message. */
export async function getJson(path, signal) {
  return readJson(await fetch(path, { signal, headers: authHeaders() }));
}

/** A small form asking for the API key (the service answered 401); the page reloads with it. */
function askForKey(message) {
  if (document.getElementById("dt-key")) return;
  const form = document.createElement("form");
  form.id = "dt-key";
  form.className = "key-prompt";
  form.autocomplete = "off";
  form.innerHTML =
    `<p>${esc(message)}</p>` +
    '<label>API key <input name="key" type="password" aria-label="API key" required></label> ' +
    '<button type="submit">Use key</button>';
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_ITEM, form.elements.key.value.trim());
    location.reload();
  });
  document.body.prepend(form);
  form.elements.key.focus();
}

/** The JSON body of a response, or an ApiError from its error envelope. */
export async function readJson(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    if (err.name === "AbortError") throw err; // the view was left while the body was read
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error ? body.error : { code: "http_" + response.status, message: response.statusText };
    if (response.status === 401) askForKey(error.message);
    throw new ApiError(response.status, error.code, error.message);
  }
  if (body === null) throw new ApiError(response.status, "bad_response", "the service answered no JSON");
  return body;
}

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escape text for innerHTML. */
export function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** A duration in nanoseconds as a short human string (1.23 ms, 4.5 s). */
export function fmtDuration(ns) {
  const n = Number(ns);
  if (n < 1e3) return n + " ns";
  if (n < 1e6) return trim(n / 1e3) + " µs";
  if (n < 1e9) return trim(n / 1e6) + " ms";
  if (n < 60e9) return trim(n / 1e9) + " s";
  const minutes = Math.floor(n / 60e9);
  return minutes + " min " + Math.round((n - minutes * 60e9) / 1e9) + " s";
}

function trim(x) {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Epoch nanoseconds as a local date and time with milliseconds. */
export function fmtTime(ns) {
  const d = new Date(Number(ns) / 1e6);
  const pad = (v, w = 2) => String(v).padStart(w, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** "3 min ago" style age of an epoch-nanosecond time. */
export function fmtAge(ns) {
  const s = (Date.now() - Number(ns) / 1e6) / 1000;
  if (s < 60) return Math.max(0, Math.round(s)) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

/** An attribute value (OTLP AnyValue as JSON) as display text. */
export function fmtValue(value) {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];

/** A span kind (number from the trace JSON, or a name) as a lowercase name. */
export function kindName(kind) {
  return typeof kind === "number" ? KINDS[kind] || String(kind) : String(kind).toLowerCase();
}

const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
  "#9c755f", "#ff9da7", "#86bcb6", "#a0cbe8", "#8cd17d", "#d4a6c8",
];

/** A stable colour per service name. */
export function serviceColor(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length];
}

/** The service name of a span from its resource. */
export function spanService(span) {
  const attrs = (span.resource && span.resource.attributes) || {};
  return attrs["service.name"] != null ? String(attrs["service.name"]) : "unknown_service";
}
