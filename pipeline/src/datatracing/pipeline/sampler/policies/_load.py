"""Reading policy files (YAML or JSON) with errors that name the file and the bad field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from datatracing.pipeline.errors import PolicyConfigError
from datatracing.pipeline.sampler.policies._compile import CompiledPolicy
from datatracing.pipeline.sampler.policies._config import PolicyFile

__all__ = ["DEFAULT_POLICY_NAME", "default_policy", "format_loc", "load_policy", "load_policy_file"]

#: The name recorded on decisions when no policy file is configured.
DEFAULT_POLICY_NAME = "keep-all"


def format_loc(loc: tuple[int | str, ...]) -> str:
    """`("policies", 2, "latency", "upper_ms")` → `policies[2].latency.upper_ms`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{format_loc(tuple(first['loc']))}: {message}{more}"


def _check_names(policy_file: PolicyFile, source: str) -> None:
    seen: set[str] = set()
    for i, policy in enumerate(policy_file.policies):
        if policy.name is None:
            raise PolicyConfigError(f"{source}: policies[{i}].name: a top-level policy needs a name")
        if policy.name in seen:
            raise PolicyConfigError(f"{source}: policies[{i}].name: duplicate policy name {policy.name!r}")
        seen.add(policy.name)


def load_policy(data: Any, source: str = "<policy>") -> CompiledPolicy:
    """Validate and compile a policy document already parsed into Python values.

    Raises `PolicyConfigError` naming `source` and the path of the bad field.

    Example:
        >>> load_policy({"policies": [{"name": "errors", "type": "status_code"}]}).names
        ['errors']
    """
    if not isinstance(data, dict):
        raise PolicyConfigError(f"{source}: a policy file must be a mapping with a `policies` list")
    try:
        policy_file = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyConfigError(f"{source}: {_describe(exc)}") from exc
    _check_names(policy_file, source)
    return CompiledPolicy(policy_file, source)


def load_policy_file(path: str | os.PathLike[str]) -> CompiledPolicy:
    """Load a YAML (`.yaml`, `.yml`) or JSON (`.json`) policy file; other suffixes are read as YAML.

    Raises `PolicyConfigError`, e.g.
    `policies.json: policies[2].latency.upper_ms: Input should be greater than 0`.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyConfigError(f"{source}: cannot read policy file: {exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyConfigError(f"{source}: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise PolicyConfigError(f"{source}: {where}{problem}") from exc
    return load_policy(data, source)


def default_policy() -> CompiledPolicy:
    """Keep every trace (recorded as policy `keep-all`, rate 1): the policy when none is configured."""
    return load_policy({"policies": [{"name": DEFAULT_POLICY_NAME, "type": "always"}]}, "<default>")
