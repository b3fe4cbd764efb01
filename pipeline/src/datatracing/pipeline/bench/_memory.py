"""Memory of the e2e bench's processes over a run: whose memory grows in a soak.

Each sample reads every process's RSS and its anonymous part (`RssAnon`: heaps, as opposed to pages
of mapped files such as chdb's 550 MB library, which count in RSS as they are touched), and the store
worker's embedded engine memory by kind from its `/metrics` (`store._engine_memory`: what the engine
tracks, its caches, its allocator's resident bytes), and each worker's heap allocators
(`runtime._heap`: glibc malloc in use and kept free, Arrow's pool).
"""

from __future__ import annotations

import statistics

import httpx

from datatracing.pipeline.bench._observe import family_samples
from datatracing.pipeline.runtime import proc_rss_anon_bytes, proc_rss_bytes

__all__ = ["MemorySamples", "rss_figures", "worker_memory"]

#: (seconds into the run, bytes) samples by series name.
Series = dict[str, list[tuple[float, int]]]


_ENGINE = "datatracing_store_engine_memory_bytes"
_HEAP = "datatracing_process_heap_bytes"


def worker_memory(metrics_url: str) -> dict[str, int]:
    """A worker's memory gauges by `engine_<kind>` (the store worker's embedded engine,
    `datatracing_store_engine_memory_bytes`) and `heap_<kind>` (its heap allocators,
    `datatracing_process_heap_bytes`), from one scrape; empty when its `/metrics` does not answer."""
    try:
        found = family_samples(metrics_url, _ENGINE, _HEAP)
    except httpx.HTTPError:
        return {}
    return {
        f"{prefix}_{sample.labels['kind']}": int(sample.value)
        for prefix, family in (("engine", _ENGINE), ("heap", _HEAP))
        for sample in found[family]
    }


#: The soak's memory goal compares the end of a run with minute 5 (`GROWTH_FROM_S`), each as the
#: median of a minute of samples: one sample lands anywhere on the store worker's ups and downs
#: (its allocators keep and return memory as batches and merges come and go: ±50 MB in a soak).
GROWTH_FROM_S = 300.0
GROWTH_WINDOW_S = 60.0


def rss_figures(series: Series, what: str = "rss") -> dict[str, float]:
    """`{name}_{what}_mb_start`, `_min5` (the first sample at or past minute 5), `_end` and `_peak`
    of each series; and, for a run past minute 6, `{name}_{what}_growth`: the median of the last
    minute's samples over the median of minute 5's (`GROWTH_FROM_S`)."""
    figures: dict[str, float] = {}
    for name, samples in series.items():
        if not samples:
            continue
        mb = [(t, b / 2**20) for t, b in samples]
        figures[f"{name}_{what}_mb_start"] = round(mb[0][1], 1)
        figures[f"{name}_{what}_mb_end"] = round(mb[-1][1], 1)
        figures[f"{name}_{what}_mb_peak"] = round(max(v for _, v in mb), 1)
        at5 = [v for t, v in mb if t >= GROWTH_FROM_S]
        if at5:
            figures[f"{name}_{what}_mb_min5"] = round(at5[0], 1)
        minute5 = [v for t, v in mb if GROWTH_FROM_S <= t < GROWTH_FROM_S + GROWTH_WINDOW_S]
        last = [v for t, v in mb if t >= mb[-1][0] - GROWTH_WINDOW_S]
        if minute5 and mb[-1][0] >= GROWTH_FROM_S + 2 * GROWTH_WINDOW_S and statistics.median(minute5) > 0:
            figures[f"{name}_{what}_growth"] = round(statistics.median(last) / statistics.median(minute5), 3)
    return figures


class MemorySamples:
    """RSS and anonymous RSS of each process in `pids` (the caller's mapping, read at each sample, so
    a process added to it later is sampled from then on), and the memory gauges (`worker_memory`) of
    the workers in `metrics_urls` (process name -> its `/metrics`)."""

    def __init__(self, pids: dict[str, int], metrics_urls: dict[str, str]) -> None:
        self.pids = pids
        self.metrics_urls = metrics_urls
        self.rss: Series = {}
        self.anon: Series = {}
        #: `{process}_engine_<kind>` and `{process}_heap_<kind>` -> samples.
        self.gauges: Series = {}

    def sample(self, at: float) -> None:
        for name, pid in self.pids.items():
            self.rss.setdefault(name, []).append((at, proc_rss_bytes(pid)))
            self.anon.setdefault(name, []).append((at, proc_rss_anon_bytes(pid)))
        for name, url in self.metrics_urls.items():
            for kind, value in worker_memory(url).items():
                self.gauges.setdefault(f"{name}_{kind}", []).append((at, value))

    def figures(self) -> dict[str, float]:
        """`rss_figures` of the RSS, its anonymous part (`*_rss_anon_mb_*`) and the workers' gauges
        (`store_engine_<kind>_memory_mb_*`, `{process}_heap_<kind>_memory_mb_*`)."""
        return {
            **rss_figures(self.rss),
            **rss_figures(self.anon, "rss_anon"),
            **rss_figures(self.gauges, "memory"),
        }

    def store_line(self) -> str:
        """The store worker's last samples in MB, for a progress line."""

        def mb(samples: list[tuple[float, int]] | None) -> str:
            return f"{samples[-1][1] / 2**20:.0f}" if samples else "?"

        def kinds(prefix: str) -> str:
            return " ".join(
                f"{name[len(prefix) :]} {mb(samples)}"
                for name, samples in sorted(self.gauges.items())
                if name.startswith(prefix)
            )

        return (
            f"store MB: rss {mb(self.rss.get('store'))} anon {mb(self.anon.get('store'))}; "
            f"engine {kinds('store_engine_')}; heap {kinds('store_heap_')}"
        )
