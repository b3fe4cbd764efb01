"""The web UI with API keys on, in headless Chromium: the page loads, asks for a key when the API
answers 401, and once given one (kept in the tab's sessionStorage) lists and opens traces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from datatracing.pipeline.http_auth import ApiKey, Authenticator
from datatracing.pipeline.store import open_store
from tests.pipeline.query.ui_data import CHECKOUT
from tests.pipeline.query.ui_server import require_chromium, ui_service

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is a dev dependency (scripts/bootstrap)"
)

from datatracing.pipeline.bench._browser import launch_chromium  # noqa: E402

KEY = "ui-key-5b8e21"
TIMEOUT_MS = 30_000


require_chromium()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = "chdb://" + str(tmp_path_factory.mktemp("ui-auth-chdb").resolve())
    keeper = open_store(url)
    auth = Authenticator([ApiKey.from_plain("browser", "default", KEY)])
    try:
        with ui_service(url, auth) as served:
            yield served
    finally:
        keeper.close()


@pytest.fixture
def page(base_url: str) -> Iterator[Any]:
    """A fresh page; any console error but the expected 401s, or an uncaught exception, fails the test."""
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        problems: list[str] = []

        def on_console(message: Any) -> None:
            if message.type == "error" and "401" not in message.text:
                problems.append(f"console {message.type}: {message.text}")

        tab.on("console", on_console)
        tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        yield tab
        context.close()
        browser.close()
    assert not problems, "\n".join(problems)


def test_ui_auth_on_asks_for_key_then_lists_and_opens_traces(page: Any) -> None:
    page.goto("/")
    prompt = page.locator("#dt-key")
    prompt.wait_for()
    assert "API key" in prompt.inner_text()

    page.fill("#dt-key input[name=key]", "wrong-key")
    page.click("#dt-key button[type=submit]")
    page.locator("#dt-key", has_text="not valid").wait_for()  # asked again after a reload

    page.fill("#dt-key input[name=key]", KEY)
    page.click("#dt-key button[type=submit]")
    page.locator("a.hit").first.wait_for()
    assert page.locator("a.hit").count() == 4
    assert page.locator("#dt-key").count() == 0

    page.goto(f"/trace/{CHECKOUT}")  # the shell's early graph request carries the key too
    page.wait_for_function("() => window.__dtPainted !== undefined")
    assert page.locator(".wf-rows .row").count() == 8
    assert page.locator("#dt-key").count() == 0
