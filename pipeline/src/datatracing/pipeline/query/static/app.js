// The router: picks a view from the address, keeps links inside the app (history API) so every view
// has its own shareable URL and the back button works.

import { renderSearch } from "./search.js";
import { renderServices } from "./services.js";
import { renderTrace } from "./trace.js";
import { esc } from "./api.js";

const root = document.getElementById("app");
let current = null; // AbortController of the view on screen

/** Go to an in-app address, adding a history entry (or replacing the current one). */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

function route() {
  if (current) current.abort();
  current = new AbortController();
  const ctx = { root, signal: current.signal, navigate, params: new URLSearchParams(location.search) };
  const path = location.pathname;
  const traceMatch = path.match(/^\/trace\/([^/]+)\/?$/);
  let view = "search";
  let done;
  if (traceMatch) {
    view = "trace";
    done = renderTrace(ctx, decodeURIComponent(traceMatch[1]));
  } else if (path === "/services" || path === "/services/") {
    view = "services";
    done = renderServices(ctx);
  } else if (path === "/" || path === "/search" || path === "/search/") {
    done = renderSearch(ctx);
  } else {
    document.title = "Not found · DataTracing";
    root.innerHTML = `<p class="error">No page at ${esc(path)}.</p>`;
  }
  for (const a of document.querySelectorAll("header nav a")) {
    a.classList.toggle("active", a.dataset.view === view);
  }
  if (done && done.catch) {
    done.catch((err) => {
      if (err && err.name === "AbortError") return;
      console.error(err); // a failed view is a bug: the UI tests fail on console errors
      root.innerHTML = `<p class="error">${esc(err && err.message ? err.message : err)}</p>`;
    });
  }
}

// One listener for every in-app link: plain clicks stay in the page, modified clicks open a tab.
document.addEventListener("click", (event) => {
  const a = event.target.closest("a[href]");
  if (!a || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || a.target) return;
  const url = new URL(a.getAttribute("href"), location.href); // SVG links have no string .href
  if (url.origin !== location.origin || url.pathname.startsWith("/v1/") || url.pathname.startsWith("/static/")) return;
  event.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search + url.hash);
});

document.getElementById("jump").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = event.target.elements.trace_id.value.trim();
  if (id) navigate("/trace/" + encodeURIComponent(id));
});

window.addEventListener("popstate", route);
route();
