"""Headless Chromium for the web UI: launch the system browser through Playwright, and time a trace
page from navigation start to the first painted waterfall.

The trace page sets `window.__dtPainted = performance.now()` in a task queued from the frame that drew
the waterfall, so the value is milliseconds since navigation start, after paint. Playwright is a
development dependency: it is imported when a function here runs, with the install hint when missing.

Example:
    >>> waterfall_paint_ms("http://127.0.0.1:8080/trace/4bf92f3577b34da6a3ce929d0e0e4736")  # doctest: +SKIP
    412.3
"""

from __future__ import annotations

import os
import shutil
import statistics
from typing import Any

from datatracing.pipeline.errors import ConfigError

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_PAINTED = "() => window.__dtPainted !== undefined"


def chromium_path() -> str:
    """The Chromium to drive: `DATATRACING_CHROMIUM`, else `chromium` on the PATH (Debian's package)."""
    path = (
        os.environ.get("DATATRACING_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        raise ConfigError(
            "chromium: no browser found; install Debian's `chromium` package (scripts/bootstrap does "
            "as root) or set DATATRACING_CHROMIUM to its executable"
        )
    return path


def launch_chromium(playwright: Any) -> Any:
    """Launch headless Chromium from a started `sync_playwright()` with the system executable."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ConfigError("playwright: not installed; `pip install playwright` (a dev dependency)") from exc
    return sync_playwright()


def paint_ms(url: str, *, timeout_s: float = 60.0) -> float:
    """One cold load of the trace page at `url`: milliseconds from navigation start to the painted
    waterfall (a browser of its own, so the figure includes no warm cache)."""
    return waterfall_paint_ms(url, runs=1, timeout_s=timeout_s)


def waterfall_paint_ms(url: str, *, runs: int = 3, timeout_s: float = 60.0) -> float:
    """Median over `runs` cold page loads (a fresh browser context each) of the milliseconds from
    navigation start to the painted waterfall of the trace page at `url`."""
    if runs < 1:
        raise ConfigError(f"runs: must be at least 1, got {runs}")
    timings: list[float] = []
    with _sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                try:
                    page = context.new_page()
                    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
                    page.wait_for_function(_PAINTED, timeout=timeout_s * 1000)
                    timings.append(float(page.evaluate("window.__dtPainted")))
                finally:
                    context.close()
        finally:
            browser.close()
    return statistics.median(timings)
