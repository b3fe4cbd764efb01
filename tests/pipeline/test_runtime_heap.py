"""The workers' heap gauge (`datatracing_process_heap_bytes`)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from datatracing.pipeline.broker import make_faust_app
from datatracing.pipeline.config import Settings
from datatracing.pipeline.runtime import (
    HEAP_TRIM,
    HeapCollector,
    heap_bytes,
    trim_heap,
)
from datatracing.pipeline.runtime.workers import trim_heap_every

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc's mallinfo2")
def test_heap_bytes_sees_a_large_allocation_and_its_release() -> None:
    before = heap_bytes()
    # 64 blocks of 64 KiB: under glibc's mmap threshold, so they land in the arenas.
    blocks = [bytearray(64 * 1024) for _ in range(64)]
    during = heap_bytes()
    assert during["malloc_in_use"] - before["malloc_in_use"] >= 64 * 64 * 1024
    del blocks
    after = heap_bytes()
    assert after["malloc_in_use"] < during["malloc_in_use"]
    assert after["malloc_free"] >= 0
    assert after["malloc_mmapped"] >= 0


def test_heap_bytes_counts_arrows_pool() -> None:
    before = heap_bytes()["arrow_allocated"]
    array = pa.array(range(100_000), type=pa.int64())
    assert heap_bytes()["arrow_allocated"] - before >= 800_000
    del array


def test_the_collector_renders_every_kind_as_a_labelled_gauge() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeapCollector())

    text = generate_latest(registry).decode()

    assert "# TYPE datatracing_process_heap_bytes gauge" in text
    assert 'datatracing_process_heap_bytes{kind="arrow_allocated"}' in text
    if GLIBC:
        for kind in ("malloc_in_use", "malloc_free", "malloc_mmapped"):
            assert f'datatracing_process_heap_bytes{{kind="{kind}"}}' in text


# Run in a fresh interpreter: in the test process, earlier tests leave free holes in the heap that the
# blocks would reuse, so how much a trim returns depends on what ran before.
_FRAGMENT_AND_TRIM = """
import os
from datatracing.pipeline.runtime import proc_rss_anon_bytes, trim_heap
large = []
for _ in range(400):
    block = bytearray(64 * 1024)
    block[::4096] = b"x" * 16  # touch every page, with no temporary the size of the block
    large.append(block)
top = bytearray(64 * 1024)  # stays: the freed blocks are below a live one, not at the heap's top
del large, block
kept = proc_rss_anon_bytes(os.getpid())
trim_heap()
print(kept - proc_rss_anon_bytes(os.getpid()))
"""


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc_trim")
def test_trim_heap_returns_free_pages_between_live_blocks_to_the_os() -> None:
    # 400 blocks of 64 KiB (heap, not mmap) freed below a live block: 25 MB free inside the heap,
    # which glibc keeps resident until a trim (it returns only a free top of the heap by itself).
    command = [sys.executable, "-c", _FRAGMENT_AND_TRIM]
    done = subprocess.run(command, capture_output=True, text=True, check=True)

    assert int(done.stdout) >= 20 * 2**20


def test_trims_are_counted_on_metrics() -> None:
    trims = _trim_counts()

    trim_heap()

    if GLIBC:
        assert _trim_counts()[0] == trims[0] + 1
        assert _trim_counts()[1] > trims[1]


def _trim_counts() -> tuple[float, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeapCollector())
    values = {
        line.split()[0]: float(line.split()[1])
        for line in generate_latest(registry).decode().splitlines()
        if line and not line.startswith("#")
    }
    prefix = "datatracing_process_heap_trim"
    return values[f"{prefix}s_total"], values[f"{prefix}_seconds_total"]


def test_trim_heap_every_adds_a_timer_unless_turned_off(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": str(tmp_path)})
    app = make_faust_app(settings, "heap-trim-test", web_port=0)
    before = len(app._app_tasks)

    trim_heap_every(app, 0)
    assert len(app._app_tasks) == before

    trim_heap_every(app, 10.0)
    assert len(app._app_tasks) == before + (1 if HEAP_TRIM else 0)


_POOL_AFTER_SWITCH = """
import pyarrow as pa
from datatracing.pipeline.runtime import use_malloc_for_arrow
use_malloc_for_arrow()
print(pa.default_memory_pool().backend_name)
"""


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc_trim")
@pytest.mark.parametrize(("env_pool", "expected"), [(None, "system"), ("jemalloc", "jemalloc")])
def test_arrow_allocates_through_malloc_unless_the_environment_names_a_pool(
    env_pool: str | None, expected: str
) -> None:
    # A fresh interpreter: the switch changes Arrow's default pool for the whole process.
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    command = [sys.executable, "-c", _POOL_AFTER_SWITCH]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)

    assert done.stdout.strip() == expected
