"""How much memory the embedded broker holds, and when the supervisor says so.

tansu's memory storage keeps every record it receives (it has no retention), so an embedded stack
under steady load grows the broker's memory without bound, and the CPU of each fetch with it
(README, "A caveat of the embedded broker"). The supervisor cannot free it without losing records;
it logs a warning each time the broker passes another step of the machine's memory, naming the way
out (restart the stack, or run against Kafka).

Figures are read from `/proc` (Linux); elsewhere they read 0 and nothing is logged.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BrokerMemoryWatch",
    "meminfo_bytes",
    "memory_limit_bytes",
    "proc_rss_anon_bytes",
    "proc_rss_bytes",
]

#: A cgroup v2 memory limit (a container's), when there is one.
_CGROUP_MAX = Path("/sys/fs/cgroup/memory.max")


def _kb_field(path: str, key: str) -> int:
    """The `key:` line of a `/proc` file given in kB (`VmRSS`, `MemTotal`), in bytes; 0 when unknown."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def meminfo_bytes(key: str) -> int:
    """A field of `/proc/meminfo` (`MemTotal`, `MemAvailable`) in bytes; 0 when unknown."""
    return _kb_field("/proc/meminfo", key)


def memory_limit_bytes() -> int:
    """The memory this process's machine or container may use: `MemTotal`, or the cgroup's
    `memory.max` when that is lower (a container's limit); 0 when unknown."""
    total = meminfo_bytes("MemTotal")
    try:
        text = _CGROUP_MAX.read_text().strip()
    except OSError:
        return total
    if not text.isdigit():
        return total  # "max": no limit
    return min(total, int(text)) if total else int(text)


def proc_rss_bytes(pid: int) -> int:
    """Resident set size of process `pid` in bytes; 0 when unknown."""
    return _kb_field(f"/proc/{pid}/status", "VmRSS")


def proc_rss_anon_bytes(pid: int) -> int:
    """The anonymous part of process `pid`'s RSS (`RssAnon`: heaps, not pages of mapped files such as
    a library's) in bytes; 0 when unknown."""
    return _kb_field(f"/proc/{pid}/status", "RssAnon")


class BrokerMemoryWatch:
    """Warns once per step (`first_share`, then every `step` more) of the memory available to the
    machine or container (`memory_limit_bytes`) that the broker process `pid` holds."""

    def __init__(
        self, pid: int, *, total_bytes: int | None = None, first_share: float = 0.2, step: float = 0.1
    ) -> None:
        self.pid = pid
        self.total_bytes = memory_limit_bytes() if total_bytes is None else total_bytes
        self.first_share = first_share
        self.step = step
        #: The highest step warned about (0 is `first_share`), -1 before the first warning.
        self._warned = -1

    def check(self, rss_bytes: int | None = None) -> str | None:
        """A warning when the broker's RSS (read now unless given) passed a new step, else None."""
        rss = proc_rss_bytes(self.pid) if rss_bytes is None else rss_bytes
        if self.total_bytes <= 0 or rss <= 0:
            return None
        share = rss / self.total_bytes
        # Counted in whole steps (the small epsilon keeps an exact step boundary from rounding down).
        level = int((share - self.first_share) / self.step + 1e-9) if share >= self.first_share else -1
        if level <= self._warned:
            return None
        self._warned = level
        return (
            f"the embedded broker holds {rss / 2**30:.1f} GiB ({share:.0%} of this machine's memory): "
            "its memory storage keeps every record it received. Once the workers have caught up "
            "(consumer lag 0), restart the stack to free it; for sustained load, run the workers "
            "against Kafka"
        )
