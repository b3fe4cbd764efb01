"""The machine a benchmark ran on, so figures from two machines can be compared.

Machines of the same kind differ in how fast they run the same plain Python loop. Every suite therefore
reports the CPU model, the core count, and `python_loop_s`, the time of a fixed pure-Python loop (ten
million additions) measured in the same run: divide a figure by it to compare Python-bound work across
machines.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

__all__ = ["calibrate_python_loop", "cpu_model", "machine_fingerprint"]

_LOOP = 10_000_000


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (`platform.processor()` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def calibrate_python_loop(repeats: int = 3) -> float:
    """Seconds for `x += i` over ten million integers: the best of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = 0
        for i in range(_LOOP):
            x += i
        best = min(best, time.perf_counter() - t0)
    return best


def machine_fingerprint() -> dict[str, str | float]:
    """`cpu_model`, `cores` (usable by this process) and `python_loop_s`, measured now."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return {"cpu_model": cpu_model(), "cores": float(cores), "python_loop_s": calibrate_python_loop()}
