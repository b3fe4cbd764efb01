"""The supervisor's watch on the embedded broker's memory."""

from __future__ import annotations

import os

from datatracing.pipeline.runtime import (
    BrokerMemoryWatch,
    meminfo_bytes,
    memory_limit_bytes,
    proc_rss_anon_bytes,
    proc_rss_bytes,
)

GIB = 2**30


def test_the_watch_warns_once_per_step_of_the_machines_memory() -> None:
    watch = BrokerMemoryWatch(pid=1, total_bytes=10 * GIB, first_share=0.2, step=0.1)

    assert watch.check(1 * GIB) is None
    first = watch.check(2 * GIB)
    assert first is not None
    assert first.startswith("the embedded broker holds 2.0 GiB (20% of this machine's memory)")
    assert "consumer lag 0), restart the stack" in first
    assert "Kafka" in first
    assert watch.check(int(2.5 * GIB)) is None
    # A jump over several steps warns once, at the level reached.
    jumped = watch.check(int(5.5 * GIB))
    assert jumped is not None
    assert "(55% of" in jumped
    assert watch.check(int(5.9 * GIB)) is None
    assert watch.check(6 * GIB) is not None


def test_the_watch_says_nothing_without_figures() -> None:
    assert BrokerMemoryWatch(pid=1, total_bytes=0).check(5 * GIB) is None
    assert BrokerMemoryWatch(pid=1, total_bytes=10 * GIB).check(0) is None


def test_memory_figures_come_from_proc() -> None:
    assert proc_rss_bytes(os.getpid()) > 0
    assert meminfo_bytes("MemTotal") >= proc_rss_bytes(os.getpid())
    assert proc_rss_bytes(2**22 + 7) == 0  # no such process
    assert meminfo_bytes("NoSuchField") == 0
    assert 0 < memory_limit_bytes() <= meminfo_bytes("MemTotal")


def test_the_anonymous_rss_of_a_live_process_is_part_of_its_rss() -> None:
    assert 0 < proc_rss_anon_bytes(os.getpid()) <= proc_rss_bytes(os.getpid())
    assert proc_rss_anon_bytes(2**22 + 7) == 0  # no such process
