"""The embedded stack with API keys on: the key given to the supervisor (plain, from its settings)
reaches the store worker as a digest, and the query service it hosts accepts that key only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from datatracing.pipeline.config import AuthSettings
from datatracing.pipeline.runtime import Stack
from tests.e2e.stack_support import stack_settings

pytestmark = pytest.mark.slow

KEY = "stack-auth-key-0c4d"


def test_stack_auth_key_reaches_store_worker_as_digest_and_is_required(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = stack_settings(
        kafka_bootstrap, tmp_path, auth=AuthSettings(enabled=True, keys=[SecretStr(KEY)])
    )
    stack = Stack(settings, broker_port=None)
    try:
        state = stack.start(timeout_s=120)
        written = (tmp_path / "worker-settings.yaml").read_text()
        url = state.query_url + "/v1/services"
        without = httpx.get(url, timeout=30)
        masked = httpx.get(url, headers={"Authorization": "Bearer **********"}, timeout=30)
        right = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        ready = httpx.get(state.query_url + "/readyz", timeout=30)
    finally:
        stack.stop()
    assert KEY not in written
    assert (without.status_code, masked.status_code, right.status_code) == (401, 401, 200)
    assert ready.status_code == 200
