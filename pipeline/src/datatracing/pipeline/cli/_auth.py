"""`datatracing auth`: API keys of the HTTP services.

`datatracing auth hash-key [KEY] [--name N] [--tenant T]` prints the keys-file line
(`name:tenant:sha256hex`) for KEY, or for the first line of stdin when KEY is omitted (so the key
stays out of the shell history): append it to the file named by `DATATRACING_AUTH__KEYS_FILE`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from datatracing.pipeline.config import DEFAULT_TENANT
from datatracing.pipeline.errors import ConfigError
from datatracing.pipeline.http_auth import keys_file_line

__all__ = ["auth_app"]

auth_app = typer.Typer(no_args_is_help=True, help="API keys of the HTTP services (query API, UI, ingest).")


@auth_app.command("hash-key")
def hash_key(
    key: Annotated[str | None, typer.Argument(help="The API key; read from stdin when omitted.")] = None,
    name: Annotated[str, typer.Option(help="The key's name (the principal the services see).")] = "default",
    tenant: Annotated[str, typer.Option(help="The key's tenant.")] = DEFAULT_TENANT,
) -> None:
    """Print the keys-file line for KEY: `name:tenant:sha256hex` (the key itself is not stored)."""
    if key is None:
        key = sys.stdin.readline().rstrip("\r\n")
    if not key.strip():
        typer.echo("error: key: empty (pass KEY or write it on stdin)", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(keys_file_line(name, tenant, key.strip()))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
