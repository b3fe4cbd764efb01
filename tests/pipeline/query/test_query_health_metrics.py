"""`/readyz` follows the store (503 with the envelope while it is down, 200 again after) and
`/metrics` counts requests by route template, over a real chdb store behind `DownableStore`."""

from __future__ import annotations

import re
import time

import httpx

from tests.pipeline.query.query_data import DownableStore, Seeded


def _ready_status(client: httpx.Client, expected: int, timeout_s: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:  # the probe's result is reused for a couple of seconds: wait for the next one
        response = client.get("/readyz")
        if response.status_code == expected:
            return response
        assert time.monotonic() < deadline, response.text
        time.sleep(0.1)


def test_query_readyz_store_down_503_then_back_200(client: httpx.Client, downable: DownableStore) -> None:
    ready = _ready_status(client, 200)
    assert ready.json() == {"status": "ready", "checks": {"store": "ok"}}

    downable.down = True
    down = _ready_status(client, 503)
    assert down.headers["retry-after"] == "5"
    assert down.json()["error"]["code"] == "not_ready"
    assert down.json()["error"]["message"].startswith("not ready: store failing")
    assert client.get("/healthz").status_code == 200  # alive while not ready

    downable.down = False
    assert _ready_status(client, 200).json()["status"] == "ready"


def _samples(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}(\{{.*\}}) ([0-9.e+-]+)$", line)
        if match:
            out[match.group(1)] = float(match.group(2))
    return out


def test_query_metrics_requests_by_route_template_not_raw_path(client: httpx.Client, seeded: Seeded) -> None:
    for name in ("wide", "long", "short"):
        assert client.get(f"/v1/traces/{seeded[name]}").status_code == 200
    assert client.get("/v1/traces/" + "f" * 32).status_code == 404
    assert client.get("/no/such/route").status_code == 404

    text = client.get("/metrics").text
    requests = _samples(text, "datatracing_query_requests_total")
    assert requests['{method="GET",route="/v1/traces/{trace_id}",status="200"}'] == 3
    assert requests['{method="GET",route="/v1/traces/{trace_id}",status="404"}'] == 1
    assert requests['{method="GET",route="unmatched",status="404"}'] == 1
    assert not any(seeded["wide"] in labels for labels in requests)
    durations = _samples(text, "datatracing_query_request_duration_seconds_count")
    assert durations['{route="/v1/traces/{trace_id}"}'] == 4
