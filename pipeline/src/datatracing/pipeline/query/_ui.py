"""The web UI: a single page app (plain ES modules, SVG) served by the query service.

`ui_router()` answers the page routes (`/`, `/search`, `/services`, `/trace/{trace_id}`) with the same
HTML shell; the browser's router picks the view from the address, so every view can be shared as a link
and the back button works. `/static/{name}` serves the files shipped in this package's `static/` folder
(read once, so a request never touches the disk and no path from the client reaches the file system).

Example:
    >>> app = create_app(store)  # doctest: +SKIP
    >>> app.include_router(ui_router())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from datatracing.pipeline.http_errors import ApiError

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


def _load_assets() -> dict[str, _Asset]:
    assets: dict[str, _Asset] = {}
    for entry in resources.files("datatracing.pipeline.query").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if not entry.is_file() or suffix not in _TYPES:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        assets[entry.name] = _Asset(body, _TYPES[suffix], etag)
    return assets


def ui_router() -> APIRouter:
    """Routes of the web UI: the page shell at each view's address and its static files."""
    assets = _load_assets()
    shell = assets["index.html"].body.decode()
    router = APIRouter(include_in_schema=False)

    def page() -> HTMLResponse:
        # The shell names its modules by path; `no-cache` makes browsers revalidate after an upgrade.
        return HTMLResponse(shell, headers={"Cache-Control": "no-cache"})

    for path in ("/", "/search", "/services", "/trace/{trace_id}"):
        router.add_api_route(path, page, methods=["GET"], response_class=HTMLResponse)

    @router.get("/static/{name}")
    def static(name: str, request: Request) -> Response:
        asset = assets.get(name)
        if asset is None:
            raise ApiError(404, "not_found", f"static file {name[:100]!r} not found")
        headers = {"ETag": asset.etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return router
