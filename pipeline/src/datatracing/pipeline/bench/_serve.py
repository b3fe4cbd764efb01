"""Serve an ASGI app with uvicorn on a loopback port, in a thread, for the length of a block."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from datatracing.errors import TransientError
from datatracing.pipeline.broker import free_port

if TYPE_CHECKING:
    import uvicorn

__all__ = ["serve_config_in_thread", "serve_in_thread"]


@contextlib.contextmanager
def serve_config_in_thread(config: uvicorn.Config, timeout_s: float = 15) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:PORT`) while uvicorn serves `config`; stop it after,
    waiting up to `timeout_s` for the start and for the shutdown (which runs the app's lifespan)."""
    import uvicorn

    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise TransientError("the bench's HTTP server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)


@contextlib.contextmanager
def serve_in_thread(app: Any, timeout_s: float = 15) -> Iterator[str]:
    """`serve_config_in_thread` with a plain configuration on a free loopback port."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", access_log=False)
    with serve_config_in_thread(config, timeout_s) as url:
        yield url
