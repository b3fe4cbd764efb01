"""`datatracing bench SUITE`: figures printed as a table, and as one JSON object with `--json`.

Each suite measures a raw baseline in the same run where one exists, so ratios hold across machines,
and every suite reports the machine it ran on (`_machine.machine_fingerprint`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from datatracing.pipeline.bench._machine import machine_fingerprint
from datatracing.pipeline.errors import ConfigError

__all__ = ["SUITES", "check_kafka_option", "run_suite"]

SUITES = ("e2e", "sink", "sampler", "store", "query", "sdk")


def _suite(
    name: str,
    quick: bool,
    size: int | None,
    duration: float | None,
    kafka: str | None,
    rate: float | None,
) -> dict[str, float]:
    if name == "e2e":
        from datatracing.pipeline.bench._e2e import run_e2e

        return run_e2e(quick, duration, kafka, rate)
    if name == "sink":
        from datatracing.pipeline.bench._sink import run_sink_bench

        return run_sink_bench(quick)
    if name == "sampler":
        from datatracing.pipeline.bench._sampler import run_sampler_bench

        return run_sampler_bench(quick, size)
    if name == "store":
        from datatracing.pipeline.bench._store import run_store_bench

        with tempfile.TemporaryDirectory() as tmp:
            return run_store_bench(size or (200_000 if quick else 1_000_000), quick, Path(tmp))
    if name == "query":
        from datatracing.pipeline.bench._query import run_query_bench

        with tempfile.TemporaryDirectory() as tmp:
            return run_query_bench(size or (200_000 if quick else 1_000_000), quick, Path(tmp))
    if name == "sdk":
        from datatracing.pipeline.bench._sdk import run_sdk_suite

        return run_sdk_suite(quick)
    raise ConfigError(f"suite: expected one of {', '.join(SUITES)}, got {name!r}")


def check_kafka_option(suite: str, kafka: str) -> None:
    """`ConfigError` unless `kafka` is a list of host:port for the e2e suite."""
    if suite != "e2e":
        raise ConfigError(f"kafka: applies to the e2e suite only, not {suite!r}")
    entries = [entry.strip() for entry in kafka.split(",")]
    if not all(host and port.isdigit() for host, _, port in (e.rpartition(":") for e in entries)):
        raise ConfigError(f"kafka: expected host:port[,host:port...], got {kafka!r}")


def run_suite(
    name: str,
    *,
    quick: bool = False,
    json_out: bool = False,
    size: int | None = None,
    duration: float | None = None,
    kafka: str | None = None,
    rate: float | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, float]:
    """Run one suite, print a table (and a JSON line), return the figures.

    `duration` (seconds), `kafka` (bootstrap servers of a cluster to use instead of the embedded
    broker) and `rate` (spans/s: one fixed step instead of the ladder) apply to `e2e` only.
    """
    if name not in SUITES:
        raise ConfigError(f"suite: expected one of {', '.join(SUITES)}, got {name!r}")
    if kafka is not None:
        check_kafka_option(name, kafka)
    if rate is not None and name != "e2e":
        raise ConfigError(f"rate: applies to the e2e suite only, not {name!r}")
    figures = _suite(name, quick, size, duration, kafka, rate)
    machine = machine_fingerprint()
    table = Table(title=f"datatracing bench {name}{' (quick)' if quick else ''}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value:,.3f}" if isinstance(value, float) and value < 100 else f"{value:,.0f}")
    table.add_section()
    table.add_row("cpu_model", str(machine["cpu_model"]))
    table.add_row("cores", f"{machine['cores']:.0f}")
    table.add_row("python_loop_s", f"{machine['python_loop_s']:.3f}")
    Console().print(table)
    if json_out:
        echo(json.dumps({"suite": name, "quick": quick, **figures, **machine}, sort_keys=True))
    return figures
