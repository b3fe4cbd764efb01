"""`datatracing auth hash-key`: a keys-file line the services load, the key itself never printed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from datatracing.pipeline.cli import app
from datatracing.pipeline.http_auth import Authenticator, Principal, load_keys_file


def test_cli_auth_hash_key_from_stdin_prints_a_loadable_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["auth", "hash-key", "--name", "ci", "--tenant", "t1"], input="k-123\n")

    assert result.exit_code == 0, result.output
    path = tmp_path / "keys"
    path.write_text(result.output)
    assert Authenticator(load_keys_file(path)).authenticate({"x-api-key": "k-123"}) == Principal("ci", "t1")
    assert "k-123" not in result.output


def test_cli_auth_hash_key_empty_key_exit_2() -> None:
    result = CliRunner().invoke(app, ["auth", "hash-key"], input="\n")

    assert result.exit_code == 2
    assert "key: empty" in result.output
