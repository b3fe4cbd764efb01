"""`datatracing migrate` and `datatracing migrate --status` on an embedded store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from datatracing.pipeline.cli import app
from datatracing.pipeline.store._schema import load_migrations

ALL = [m.name for m in load_migrations()]


def test_migrate_status_lists_pending_then_applied_and_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"chdb://{tmp_path / 'ch'}"
    runner = CliRunner()
    before = runner.invoke(app, ["migrate", "--status", "--store-url", url])
    assert before.exit_code == 0, before.output
    assert f"0 applied, {len(ALL)} pending, 0 half-applied" in before.output
    assert all(f"pending       {name}" in before.output for name in ALL)

    applied = runner.invoke(app, ["migrate", "--store-url", url])
    assert applied.exit_code == 0, applied.output
    assert applied.output.startswith("applied: 0001_spans.sql")

    after = runner.invoke(app, ["migrate", "--status", "--store-url", url])
    assert f"{len(ALL)} applied, 0 pending" in after.output
    assert "retention     30 days" in after.output

    monkeypatch.setenv("DATATRACING_STORE__RETENTION_DAYS", "9")
    due = runner.invoke(app, ["migrate", "--status", "--store-url", url])
    assert "retention     30 days (settings ask for 9 days: pending)" in due.output
    changed = runner.invoke(app, ["migrate", "--store-url", url])
    assert changed.output.strip() == "applied: retention 9 days"


@pytest.mark.parametrize(
    "url",
    ["clickhouse://app:cli-S3CRET@127.0.0.1:1/db", "clickhouse://app:cli-S3CRET@127.0.0.1:1/bad-name"],
)
def test_migrate_server_error_output_has_no_password(url: str) -> None:
    result = CliRunner().invoke(app, ["migrate", "--status", "--store-url", url])
    assert result.exit_code == 1
    assert "cli-S3CRET" not in result.output
    if url.endswith("bad-name"):
        assert "app:***@127.0.0.1" in result.output
