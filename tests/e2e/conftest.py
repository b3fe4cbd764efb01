"""A running pipeline (sampler worker + store worker with the query API) on the session broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datatracing.pipeline.runtime._stack import Stack
from datatracing.pipeline.sampler import SamplerSettings
from tests.e2e.stack_support import stack_settings


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = stack_settings(
        kafka_bootstrap,
        Path(tmp_path_factory.mktemp("stack")),
        sampler=SamplerSettings(decision_wait=1.0, wait_after_root=0.3),
    )
    running = Stack(settings, broker_port=None)
    try:
        running.start(timeout_s=120)
        yield running
    finally:
        running.stop()
        for log in sorted((settings.data_dir / "logs").glob("*.log")):
            tail = log.read_text(errors="replace")[-3000:]
            print(f"--- {log.name} (tail)\n{tail}")
