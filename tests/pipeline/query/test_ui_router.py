"""The UI routes without a browser: the page shell at each view's address, the shipped static files,
and clear 404s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources

import httpx
import pytest
from fastapi import FastAPI

from datatracing.pipeline.bench._serve import serve_in_thread
from datatracing.pipeline.http_errors import install_error_handlers
from datatracing.pipeline.query import ui_router


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(ui_router())
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as http:
        yield http


@pytest.mark.parametrize("path", ["/", "/search?service=web&lookback=6h", "/services", "/trace/4bf92f35"])
def test_ui_page_route_any_view_serves_the_shell(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in response.text


def test_ui_shell_every_referenced_file_is_served_with_its_type(client: httpx.Client) -> None:
    shell = client.get("/").text
    names = re.findall(r'href="/static/([^"]+)"|src="/static/([^"]+)"', shell)
    files = {a or b for a, b in names}
    assert {"app.js", "app.css", "trace.js", "waterfall.js"} <= files
    for name in files:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        expected = "text/css" if name.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(expected)


def test_ui_modules_every_import_is_a_shipped_file(client: httpx.Client) -> None:
    static = resources.files("datatracing.pipeline.query").joinpath("static")
    shipped = {entry.name for entry in static.iterdir()}
    for name in sorted(n for n in shipped if n.endswith(".js")):
        source = static.joinpath(name).read_text()
        for target in re.findall(r'from "\./([^"]+)"', source):
            assert target in shipped, f"{name} imports missing {target}"


def test_ui_static_unchanged_file_answers_not_modified(client: httpx.Client) -> None:
    first = client.get("/static/app.js")
    again = client.get("/static/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("name", ["nope.js", "..%2F_ui.py", "..%2F..%2Fquery%2F_app.py"])
def test_ui_static_unknown_or_outside_file_answers_404_envelope(client: httpx.Client, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
