"""The web UI in a real headless Chromium (the system browser driven by Playwright) over the query
service on 127.0.0.1 and a chdb store. Any console error or uncaught exception in the page fails the
test. Screenshots go to `$DATATRACING_TEST_ARTIFACTS/ui/` (default `test-artifacts/ui/` at the repository
root) so a person can look at each page."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from datatracing.pipeline.store import open_store
from tests.pipeline.query.ui_data import BATCH, CHECKOUT, FAILED, MISSING, WIDE
from tests.pipeline.query.ui_server import require_chromium, ui_service

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is a dev dependency (scripts/bootstrap)"
)

from datatracing.pipeline.bench._browser import launch_chromium, waterfall_paint_ms  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_MS = 30_000


require_chromium()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    base = os.environ.get("DATATRACING_TEST_ARTIFACTS")
    path = (Path(base) if base else ROOT / "test-artifacts") / "ui"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = "chdb://" + str(tmp_path_factory.mktemp("ui-chdb").resolve())
    keeper = open_store(url)
    try:
        with ui_service(url) as served:
            yield served
    finally:
        keeper.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def allow_console() -> list[str]:
    """Console error texts a test expects (a 404 it asked for); any other console error fails it."""
    return []


@pytest.fixture
def page(browser: Any, base_url: str, allow_console: list[str]) -> Iterator[Any]:
    """A fresh page; the test fails if the page logs a console error or throws."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not any(text in message.text for text in allow_console):
            problems.append(f"console {message.type}: {message.text}")

    tab.on("console", on_console)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def _painted(page: Any) -> None:
    page.wait_for_function("() => window.__dtPainted !== undefined")


def test_ui_search_page_lists_traces_then_filters_by_service_in_url(page: Any, artifacts: Path) -> None:
    page.goto("/")
    page.locator("a.hit").first.wait_for()
    assert page.locator("a.hit").count() == 4
    assert page.locator(".scatter circle").count() == 4
    assert page.locator("a.hit.has-error").count() == 1
    page.screenshot(path=str(artifacts / "search.png"), full_page=True)

    page.wait_for_function("() => document.querySelectorAll('#f-service option').length > 1")
    page.select_option("#f-service", "web")
    page.select_option("#f-status", "error")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?.*service=web.*status=error"))
    page.wait_for_function("() => document.querySelectorAll('a.hit').length === 1")
    assert FAILED in page.locator("a.hit").first.get_attribute("href")

    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('a.hit').length === 4")
    page.go_forward()
    page.wait_for_function("() => document.querySelectorAll('a.hit').length === 1")
    assert page.input_value("#f-service") == "web"

    page.locator(".scatter a circle").first.click()  # a dot of the scatter opens its trace
    page.wait_for_url(f"**/trace/{FAILED}")
    page.locator(".wf-rows .row").first.wait_for()


def test_ui_search_custom_time_range_goes_to_the_url_and_back_to_the_form(page: Any) -> None:
    page.goto("/search")
    page.select_option("#f-lookback", "custom")
    page.fill("#f-start", "2020-01-01T00:00:00")
    page.fill("#f-end", "2020-01-02T00:00:00")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?lookback=custom&start=2020-01-0.T.*&end=2020-01-0"))
    page.locator("#results", has_text="No traces match").wait_for()
    assert page.input_value("#f-start").startswith("2020-01-01T00:00")


def test_ui_trace_page_collapses_subtree_and_shows_critical_path(page: Any, artifacts: Path) -> None:
    page.goto("/search?service=payments")
    page.locator(f"a.hit[href='/trace/{CHECKOUT}']").click()
    page.wait_for_url(f"**/trace/{CHECKOUT}")
    _painted(page)
    rows = page.locator(".wf-rows .row")
    assert rows.count() == 8
    assert page.locator(".row .cp").count() >= 1  # critical path segments over the bars
    assert page.locator(".row.crit").count() >= 1
    page.locator("#trace-graph svg.graph .node").first.wait_for()
    assert page.locator("#trace-graph .edge.messaging").count() >= 1  # producer → consumer hop
    page.screenshot(path=str(artifacts / "trace.png"), full_page=True)

    post = page.locator(".row", has_text="POST /payments")
    post.locator(".tg").click()
    page.wait_for_function("() => document.querySelectorAll('.wf-rows .row').length === 6")
    assert page.locator(".row", has_text="charge card").count() == 0
    page.screenshot(path=str(artifacts / "trace-collapsed.png"))
    page.locator(".row", has_text="POST /payments").locator(".tg").click()
    page.wait_for_function("() => document.querySelectorAll('.wf-rows .row').length === 8")

    page.locator(".row", has_text="INSERT payments").click()
    detail = page.locator("#detail")
    page.wait_for_function("() => document.body.dataset.spans === 'loaded'")
    assert "postgresql" in detail.inner_text()
    assert "payments-1" in detail.inner_text()  # resource attribute host.name
    assert "span=0000000000000005" in page.url


def test_ui_trace_link_opens_linked_trace_and_back_returns(page: Any, artifacts: Path, base_url: str) -> None:
    # The sampling audit is in the trace response once the search branch adds it; before, none shows.
    stamped = "sampling" in httpx.get(f"{base_url}/v1/traces/{BATCH}").json()
    page.goto(f"/trace/{BATCH}")
    _painted(page)
    page.locator(".row", has_text="process orders batch").click()
    page.wait_for_function("() => document.body.dataset.spans === 'loaded'")
    detail = page.locator("#detail")
    sampling = page.locator("#sampling").inner_text()
    if stamped:
        assert "errors-and-slow" in sampling
        assert "1 in 10" in sampling
    else:
        assert "not recorded" in sampling
    assert detail.locator("a.trace-link").count() == 2
    assert "not stored" in detail.locator("li", has_text=MISSING[:16]).inner_text()
    page.screenshot(path=str(artifacts / "trace-links.png"))

    detail.locator(f"a.trace-link[href^='/trace/{CHECKOUT}']").click()
    page.wait_for_url(f"**/trace/{CHECKOUT}?span=0000000000000006")
    _painted(page)
    assert page.locator(".row.sel", has_text="send orders").count() == 1
    page.go_back()
    page.wait_for_url(f"**/trace/{BATCH}**")
    page.locator(".row", has_text="INSERT warehouse.orders").wait_for()


def test_ui_error_trace_shows_status_and_exception_event(page: Any) -> None:
    page.goto(f"/trace/{FAILED}?span=0000000000000002")
    _painted(page)
    page.wait_for_function("() => document.body.dataset.spans === 'loaded'")
    assert page.locator(".row.err").count() == 2
    text = page.locator("#detail").inner_text()
    assert "inventory timed out" in text
    assert "TimeoutError" in text


def test_ui_span_search_box_highlights_and_selects_matches(page: Any) -> None:
    page.goto(f"/trace/{CHECKOUT}")
    _painted(page)
    page.wait_for_function("() => document.body.dataset.spans === 'loaded'")
    page.fill("#span-search", "orders")
    page.wait_for_function("() => document.querySelectorAll('.row.match').length === 2")
    assert page.locator("#match-info").inner_text() == "1 of 2"
    page.press("#span-search", "Enter")
    assert page.locator(".row.sel.match", has_text="process orders").count() == 1


def test_ui_large_trace_renders_only_visible_rows_and_scrolls_to_the_end(page: Any, artifacts: Path) -> None:
    page.goto(f"/trace/{WIDE}")
    _painted(page)
    assert page.locator(".wf-rows .row").count() < 200
    page.screenshot(path=str(artifacts / "trace-10k.png"))
    page.locator(".wf-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.locator(".row", has_text="record 97").last.wait_for()
    page.wait_for_function("() => document.body.dataset.spans === 'loaded'")
    page.fill("#span-search", "k-100-97")  # an attribute value of the very last span
    page.wait_for_function("() => document.getElementById('match-info').textContent === '1 of 1'")
    assert page.locator(".row.sel.match", has_text="record 97").is_visible()
    page.fill("#span-search", "")
    page.locator(".wf-scroll").evaluate("el => { el.scrollTop = 0; }")
    page.locator(".row", has_text="run pipeline").locator(".tg").click()
    page.wait_for_function("() => document.querySelectorAll('.wf-rows .row').length === 1")


def test_ui_services_page_draws_service_map_and_lists_operations(page: Any, artifacts: Path) -> None:
    page.goto("/")
    page.click("header nav a[data-view=services]")
    page.wait_for_url("**/services")
    page.locator("#service-map svg.graph").wait_for()
    assert page.locator("#service-map .node").count() == 6
    assert page.locator("#service-map .edge").count() >= 3
    page.screenshot(path=str(artifacts / "services.png"), full_page=True)
    page.locator("#service-map .node[data-service=payments]").click()
    page.wait_for_url("**/services?service=payments")
    page.locator("table.ops", has_text="charge card").wait_for()
    page.screenshot(path=str(artifacts / "services-payments.png"), full_page=True)


def test_ui_unknown_trace_says_not_found(page: Any, allow_console: list[str]) -> None:
    allow_console.append("404 (Not Found)")  # the browser logs the API's answer for the missing trace
    page.goto("/trace/" + "f" * 32)
    page.locator("p.error", has_text="not found").wait_for()


def test_waterfall_paint_ms_of_large_trace_is_a_positive_time(base_url: str) -> None:
    # Its own Playwright instance: a thread, since the module's browser holds this thread's loop.
    result: list[float] = []
    worker = threading.Thread(
        target=lambda: result.append(waterfall_paint_ms(f"{base_url}/trace/{WIDE}", runs=1))
    )
    worker.start()
    worker.join(120)
    assert result
    assert result[0] > 0
