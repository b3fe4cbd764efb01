"""What every `datatracing` command shares: the Typer app, the common options, and the error policy.

Exit codes, the same for every command:

- 0: done.
- 1: a runtime failure: the store, the broker or the query service is unreachable or failing, a
  trace is not found, a file cannot be read, nothing could be imported.
- 2: a usage error: a bad argument, option, setting or config file, a malformed id, SQL the store
  refuses.

An expected failure (any `datatracing.errors` exception, a settings validation error, an `OSError`)
prints one line on stderr, `error: ...`, and no traceback; passwords in URLs are masked. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from datatracing.errors import DataTracingError, UsageError
from datatracing.pipeline.config import Settings, load_settings
from datatracing.pipeline.errors import PipelineError

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "ConfigOpt",
    "DataDirOpt",
    "GuardedGroup",
    "QueryServiceError",
    "api_key_headers",
    "exit_code_for",
    "fail",
    "one_line",
    "query_url_for",
    "redact",
    "settings_from",
    "setup_logging",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2
#: The sentence every command's help ends with.
EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 runtime failure (store, broker or query service unreachable or failing, "
    "not found); 2 usage error (bad argument, option, setting or id). Errors are one line on stderr."
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file.", envvar="DATATRACING_CONFIG")
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded stack keeps its data.")
]


class QueryServiceError(PipelineError):
    """The query service is unreachable or answered with a server error."""


# `scheme://user:password@host`: the password is never printed.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]*@")


def redact(text: str) -> str:
    """`text` with the password of every `scheme://user:password@host` replaced by `***`."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


def one_line(exc: BaseException) -> str:
    """The exception's message as one line (its first non-empty line), or its type name."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return redact(lines[0]) if lines else type(exc).__name__


def _describe_validation(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return one_line(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or exc.title
    return redact(f"{where}: {first['msg']}")


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an expected failure, or None for an exception that is a bug."""
    if isinstance(exc, (UsageError, ValidationError)):
        return EXIT_USAGE
    if isinstance(exc, (DataTracingError, OSError)):
        return EXIT_FAILURE
    return None


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print `error: message` on stderr and exit with `code`."""
    typer.echo(f"error: {redact(message)}", err=True)
    raise typer.Exit(code)


class GuardedGroup(TyperGroup):
    """The command group that turns expected failures into one line and an exit code (module doc)."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except Exception as exc:  # typer's Exit and usage errors map to None: re-raised as they are
            code = exit_code_for(exc)
            if code is None:
                raise
            message = _describe_validation(exc) if isinstance(exc, ValidationError) else one_line(exc)
            fail(message, code)


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    """Settings from the environment, `config` and `overrides`; a bad value exits 2 with one line."""
    try:
        return load_settings(config, **overrides)
    except UsageError as exc:
        fail(one_line(exc))


def setup_logging(level: str) -> None:
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def query_url_for(settings: Settings, explicit: str | None) -> str:
    """The query service URL: `explicit`, else the running embedded stack's, else the settings'."""
    from datatracing.pipeline.runtime import read_state

    if explicit:
        return explicit.rstrip("/")
    state = read_state(settings.data_dir)
    if state is not None:
        return state.query_url
    return f"http://{settings.query.host}:{settings.query.port}"


def api_key_headers() -> dict[str, str]:
    """The `Authorization` header for a query service with API keys on: the key comes from the
    `DATATRACING_API_KEY` environment variable (never from an option, so it stays out of shell
    history and process lists); no header without it."""
    key = os.environ.get("DATATRACING_API_KEY", "").strip()
    return {"Authorization": f"Bearer {key}"} if key else {}
