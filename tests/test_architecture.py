"""The sdk distribution stays light: it imports nothing from the pipeline or its heavy dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDK_SRC = ROOT / "sdk" / "src"
FORBIDDEN = ("datatracing.pipeline", "faust", "clickhouse_connect", "chdb", "aiokafka", "fastapi", "pyarrow")


def _imports(path: Path) -> list[str]:
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
    assert [n for n in _imports(path) if _forbidden(n)] == []


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
