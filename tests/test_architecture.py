"""The layering of docs/architecture.md, enforced.

- The sdk distribution stays light: it imports nothing from the pipeline or its heavy dependencies.
- Every package imports only the packages its row of `ALLOWED` names (all of them lower in `LAYERS`),
  checked over every `import` and `from ... import` of every module, inside functions too.
- No product module imports another package's `_private` module or `_private` name: what a package
  offers is its `__all__` (or a public module of it).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDK_SRC = ROOT / "sdk" / "src"
PIPELINE_SRC = ROOT / "pipeline" / "src"
FORBIDDEN = ("datatracing.pipeline", "faust", "clickhouse_connect", "chdb", "aiokafka", "fastapi", "pyarrow")

# The packages in the data's order, bottom first: a package may import only packages listed before it.
LAYERS = (
    # sdk distribution
    "datatracing.errors",
    "datatracing.model",
    "datatracing.wire",
    "datatracing.sdk",
    # pipeline distribution: shared bottom
    "datatracing.pipeline",
    "datatracing.pipeline.errors",
    "datatracing.pipeline.proto",
    "datatracing.pipeline.config",
    "datatracing.pipeline.broker",
    "datatracing.pipeline.audit",
    "datatracing.pipeline.http_errors",
    "datatracing.pipeline.http_auth",
    "datatracing.pipeline.http_health",
    # the stages, in the order a span passes them (the sink writes through the store's port)
    "datatracing.pipeline.ingest",
    "datatracing.pipeline.sampler",
    "datatracing.pipeline.store",
    "datatracing.pipeline.sink",
    "datatracing.pipeline.query",
    # processes and tools on top
    "datatracing.pipeline.runtime",
    "datatracing.pipeline.bench",
    "datatracing.pipeline.cli",
)

_SDK = {"datatracing.errors", "datatracing.model", "datatracing.wire", "datatracing.sdk"}
_STAGES = {f"datatracing.pipeline.{p}" for p in ("ingest", "sampler", "store", "sink", "query")}
_BOTTOM = {
    f"datatracing.pipeline.{p}"
    for p in ("errors", "config", "broker", "audit", "http_errors", "http_auth", "http_health")
}

# What each package may import (of ours). The same table is in docs/architecture.md.
ALLOWED: dict[str, set[str]] = {
    "datatracing.errors": set(),
    "datatracing.model": set(),
    "datatracing.wire": {"datatracing.errors", "datatracing.model"},
    "datatracing.sdk": {"datatracing.errors", "datatracing.model", "datatracing.wire"},
    "datatracing.pipeline": set(),
    "datatracing.pipeline.errors": {"datatracing.errors"},
    "datatracing.pipeline.proto": set(),
    "datatracing.pipeline.config": {"datatracing.pipeline.errors"},
    "datatracing.pipeline.broker": {
        "datatracing.wire",
        "datatracing.pipeline.errors",
        "datatracing.pipeline.config",
    },
    "datatracing.pipeline.audit": {"datatracing.pipeline.config", "datatracing.pipeline.broker"},
    "datatracing.pipeline.http_errors": {"datatracing.errors", "datatracing.pipeline.errors"},
    "datatracing.pipeline.http_auth": {
        "datatracing.pipeline.errors",
        "datatracing.pipeline.config",
        "datatracing.pipeline.http_errors",
    },
    "datatracing.pipeline.http_health": {"datatracing.pipeline.errors", "datatracing.pipeline.http_errors"},
    "datatracing.pipeline.ingest": {
        "datatracing.errors",
        "datatracing.wire",
        "datatracing.pipeline.errors",
        "datatracing.pipeline.config",
        "datatracing.pipeline.broker",
        "datatracing.pipeline.http_errors",
        "datatracing.pipeline.http_auth",
        "datatracing.pipeline.http_health",
    },
    "datatracing.pipeline.sampler": {
        "datatracing.errors",
        "datatracing.model",
        "datatracing.wire",
        "datatracing.pipeline.errors",
        "datatracing.pipeline.proto",
        "datatracing.pipeline.config",
        "datatracing.pipeline.broker",
        "datatracing.pipeline.audit",
        "datatracing.pipeline.http_health",
    },
    "datatracing.pipeline.store": {
        "datatracing.errors",
        "datatracing.model",
        "datatracing.wire",
        "datatracing.pipeline.errors",
        "datatracing.pipeline.audit",
    },
    "datatracing.pipeline.sink": {
        "datatracing.model",
        "datatracing.pipeline.errors",
        "datatracing.pipeline.config",
        "datatracing.pipeline.broker",
        "datatracing.pipeline.audit",
        "datatracing.pipeline.store",
    },
    "datatracing.pipeline.query": {
        "datatracing.errors",
        "datatracing.model",
        "datatracing.wire",
        "datatracing.pipeline.errors",
        "datatracing.pipeline.http_errors",
        "datatracing.pipeline.http_auth",
        "datatracing.pipeline.http_health",
        "datatracing.pipeline.store",
    },
    "datatracing.pipeline.runtime": {
        "datatracing.pipeline.errors",
        "datatracing.pipeline.config",
        "datatracing.pipeline.broker",
        "datatracing.pipeline.http_auth",
        "datatracing.pipeline.http_health",
        "datatracing.pipeline.sampler",
        "datatracing.pipeline.store",
        "datatracing.pipeline.sink",
        "datatracing.pipeline.query",
    },
    # Benchmarks drive every stage, as the CLI does.
    "datatracing.pipeline.bench": _SDK | _BOTTOM | _STAGES | {"datatracing.pipeline.runtime"},
    "datatracing.pipeline.cli": _SDK
    | _BOTTOM
    | _STAGES
    | {"datatracing.pipeline.runtime", "datatracing.pipeline.bench"},
}

# Imports of another package's private module left on purpose: (importer, imported) -> why.
EXCEPTIONS: dict[tuple[str, str], str] = {}


class Import(NamedTuple):
    importer: str  # module doing the import
    target: str  # module imported (for `from m import n`: m, and m.n when that is a module)
    name: str  # the name imported from `target` by `from ... import`, else ""
    line: int


class Source(NamedTuple):
    module: str
    is_package: bool
    text: str


def package_of(module: str) -> str | None:
    """The row of `LAYERS` a module belongs to (the longest prefix), or None for a foreign module."""
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def sources(*roots: Path) -> list[Source]:
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            module = ".".join(parts[:-1] if is_package else parts)
            found.append(Source(module, is_package, path.read_text()))
    return found


def imports(source: Source, known: set[str]) -> list[Import]:
    """Every import of `source` in line order, relative ones resolved, at any depth of the module."""
    return sorted(_walk(source, known), key=lambda i: i.line)


def _walk(source: Source, known: set[str]) -> Iterator[Import]:
    base = source.module.split(".") if source.is_package else source.module.split(".")[:-1]
    for node in ast.walk(ast.parse(source.text, source.module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source.module, alias.name, "", node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - node.level + 1]
                module = ".".join([*parent, node.module] if node.module else parent)
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield Import(source.module, sub if sub in known else module, alias.name, node.lineno)


def _is_private(module: str, package: str) -> bool:
    rest = module[len(package) :].split(".")
    return any(p.startswith("_") and not p.startswith("__") for p in rest)


def check(all_sources: Iterable[Source]) -> tuple[list[str], list[str], set[tuple[str, str]]]:
    """(wrong-direction imports, private imports, exceptions used) over `all_sources`."""
    all_sources = list(all_sources)
    known = {s.module for s in all_sources}
    wrong, private, used = [], [], set()
    for source in all_sources:
        home = package_of(source.module)
        for imp in imports(source, known):
            there = package_of(imp.target)
            if home is None or there is None or there == home:
                continue
            where = f"{imp.importer}:{imp.line} imports {imp.target}"
            if there not in ALLOWED[home]:
                wrong.append(f"{where} ({home} may import only {sorted(ALLOWED[home])})")
            private_name = imp.name.startswith("_") and not imp.name.startswith("__")
            if _is_private(imp.target, there) or private_name:
                if (imp.importer, imp.target) in EXCEPTIONS:
                    used.add((imp.importer, imp.target))
                else:
                    private.append(f"{where} {imp.name}: a private module or name of {there}")
    return wrong, private, used


@pytest.fixture(scope="module")
def product() -> list[Source]:
    return sources(SDK_SRC, PIPELINE_SRC)


def test_layers_table_points_downward_only() -> None:
    assert set(ALLOWED) == set(LAYERS)
    for package, allowed in ALLOWED.items():
        below = set(LAYERS[: LAYERS.index(package)])
        assert allowed <= below, f"{package} may import {sorted(allowed - below)}, which are not below it"


def test_layers_every_package_has_a_row(product: list[Source]) -> None:
    packages = {package_of(s.module) for s in product if s.module != "datatracing"}
    assert None not in packages
    assert packages == set(LAYERS)


def test_layers_imports_follow_the_table(product: list[Source]) -> None:
    wrong, _, _ = check(product)
    assert wrong == []


def test_layers_no_private_module_of_another_package(product: list[Source]) -> None:
    _, private, _ = check(product)
    assert private == []


def test_layers_every_exception_still_needed(product: list[Source]) -> None:
    _, _, used = check(product)
    assert set(EXCEPTIONS) - used == set(), "remove exceptions that no import needs any more"


def test_layers_doc_table_matches(product: list[Source]) -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `([\w.]+)` \| (.*) \|$", text, flags=re.MULTILINE)
    documented = {f"datatracing.{name}": set(re.findall(r"`([\w.]+)`", cell)) for name, cell in rows}
    expected = {p: {a.removeprefix("datatracing.") for a in allowed} for p, allowed in ALLOWED.items()}
    assert documented == expected


# A test of the test: a planted wrong-direction import and planted private imports are reported.
_PLANTED = Source(
    "datatracing.pipeline.store._planted",
    False,
    "from __future__ import annotations\n"
    "def later() -> None:\n"
    "    from datatracing.pipeline.query import create_app\n"
    "from datatracing.pipeline.sampler._engine import PartitionEngine\n"
    "from ..sampler import _engine\n",
)


def test_check_planted_wrong_direction_and_private_reported(product: list[Source]) -> None:
    wrong, private, _ = check([*product, _PLANTED])
    wrong, private = [w for w in wrong if "_planted" in w], [p for p in private if "_planted" in p]
    assert [w.split(" (")[0] for w in wrong] == [
        "datatracing.pipeline.store._planted:3 imports datatracing.pipeline.query",
        "datatracing.pipeline.store._planted:4 imports datatracing.pipeline.sampler._engine",
        "datatracing.pipeline.store._planted:5 imports datatracing.pipeline.sampler._engine",
    ]
    assert [p.split(" ")[0] for p in private] == [
        "datatracing.pipeline.store._planted:4",
        "datatracing.pipeline.store._planted:5",
    ]


def test_check_planted_file_reported(tmp_path: Path) -> None:
    planted = tmp_path / "datatracing" / "pipeline" / "config.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from datatracing.pipeline.sampler import SamplerSettings\n")
    wrong, private, _ = check(sources(tmp_path))
    assert len(wrong) == 1
    assert wrong[0].startswith("datatracing.pipeline.config:1 imports datatracing.pipeline.sampler")
    assert private == []


def test_check_planted_private_name_reported() -> None:
    planted = Source(
        "datatracing.pipeline.cli._planted", False, "from datatracing.pipeline.config import _merge\n"
    )
    _, private, _ = check([planted])
    assert private == [
        "datatracing.pipeline.cli._planted:1 imports datatracing.pipeline.config _merge: "
        "a private module or name of datatracing.pipeline.config"
    ]


# The sdk distribution stays light.


def _third_party(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("path", sorted(SDK_SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SDK_SRC)))
def test_sdk_module_imports_nothing_forbidden(path: Path) -> None:
    assert [n for n in _third_party(path) if _forbidden(n)] == []


def test_sdk_import_loads_no_forbidden_module() -> None:
    code = (
        "import sys, datatracing.model, datatracing.wire, datatracing.sdk;"
        f"print([m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r})])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_sdk_declares_no_pipeline_dependency() -> None:
    text = (ROOT / "sdk" / "pyproject.toml").read_text()
    assert "datatracing-pipeline" not in text
    for heavy in ("faust", "clickhouse", "chdb"):
        assert heavy not in text


def test_sdk_ships_no_benchmark_module() -> None:
    # Benchmarks are tools: they live in `datatracing.pipeline.bench`, never in the light SDK wheel.
    shipped = [p.relative_to(SDK_SRC) for p in SDK_SRC.rglob("*") if "bench" in p.name.lower()]
    assert shipped == []
