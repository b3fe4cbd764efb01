"""Shared helpers of the deployment tests: where the deploy files are, and a Dockerfile reader."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"


@dataclass
class Stage:
    """One `FROM` stage of a Dockerfile: what it copies from the build context, runs and sets."""

    name: str | None
    base: str
    copies: list[tuple[str, str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((current + stripped).strip())
        current = ""
    if current:
        lines.append(current.strip())
    return lines


def _env_pairs(args: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for token in shlex.split(args):
        key, _, value = token.partition("=")
        pairs[key] = value
    return pairs


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """The stages of `path`, in order (only the instructions these tests read are interpreted)."""
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        args = args.strip()
        if instruction == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", args, re.IGNORECASE)
            assert match, f"cannot read FROM {args!r}"
            stages.append(Stage(name=match.group(2), base=match.group(1)))
            continue
        assert stages, f"{instruction} before FROM"
        stage = stages[-1]
        stage.instructions.append((instruction, args))
        if instruction == "COPY" and not args.startswith("--from"):
            *sources, dest = shlex.split(args)
            stage.copies.extend((source, dest) for source in sources)
        elif instruction == "RUN":
            stage.runs.append(args)
        elif instruction == "ENV":
            stage.env.update(_env_pairs(args))
        elif instruction == "WORKDIR":
            stage.workdir = args
    return stages


def settings_env_problems(env: dict[str, str]) -> list[str]:
    """What is wrong with these `DATATRACING_*` variables: names that are no `Settings` field, and
    values `Settings` rejects (an empty list when all are fine)."""
    from pydantic import BaseModel

    from datatracing.pipeline.config import Settings

    problems: list[str] = []
    nested: dict[str, Any] = {}
    for name, value in sorted(env.items()):
        path = name.removeprefix("DATATRACING_").lower().split("__")
        dotted = ".".join(path)
        model: type[BaseModel] | None = Settings
        for i, part in enumerate(path):
            if model is None or part not in model.model_fields:
                problems.append(f"{name}: no setting {dotted}")
                break
            annotation = model.model_fields[part].annotation
            last = i == len(path) - 1
            model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
            if last:
                if model is not None:
                    problems.append(f"{name}: {dotted} is a section, not a field")
                else:
                    target = nested
                    for key in path[:-1]:
                        target = target.setdefault(key, {})
                    target[path[-1]] = value
    if not problems:
        try:
            Settings.model_validate(nested)
        except ValueError as exc:
            problems.append(f"invalid values: {exc}")
    return problems
