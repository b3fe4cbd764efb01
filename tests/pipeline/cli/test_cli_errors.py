"""Every command's error policy: one line on stderr, exit 1 for a runtime failure, 2 for a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

import datatracing.errors as root_errors
import datatracing.pipeline.errors as pipeline_errors
from datatracing.pipeline.broker import free_port
from datatracing.pipeline.cli import app
from datatracing.pipeline.cli._base import exit_code_for, redact
from datatracing.pipeline.store import SqlLimitError, SqlReadOnlyError, StoreQueryError, StoreSchemaError


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# --- the mapping ------------------------------------------------------------------------------------


def _exported_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for module in (root_errors, pipeline_errors):
        found += [getattr(module, name) for name in module.__all__]
    return [*found, StoreQueryError, StoreSchemaError, SqlReadOnlyError, SqlLimitError]


@pytest.mark.parametrize("cls", _exported_exceptions(), ids=lambda cls: cls.__name__)
def test_exit_code_for_every_exported_exception_is_1_or_2(cls: type[BaseException]) -> None:
    exc = cls("x", "max_result_rows") if cls is SqlLimitError else cls("x")
    expected = 2 if isinstance(exc, root_errors.UsageError) else 1

    assert exit_code_for(exc) == expected


def test_exit_code_for_validation_error_2_os_error_1_bug_none() -> None:
    class Model(BaseModel):
        n: int

    with pytest.raises(ValidationError) as caught:
        Model.model_validate({"n": "x"})

    assert exit_code_for(caught.value) == 2
    assert exit_code_for(FileNotFoundError(2, "No such file", "x")) == 1
    assert exit_code_for(ValueError("a bug")) is None
    assert exit_code_for(KeyError("a bug")) is None


@given(
    st.text(
        alphabet=st.characters(
            blacklist_characters="@/ \t\n\r:", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")
        ),
        min_size=1,
    ),
)
def test_redact_masks_any_url_password(password: str) -> None:
    # Any password a URL can hold unescaped (no separator, no whitespace).
    text = f"cannot open clickhouses://analyst:{password}@db.example:8443/traces (refused)"

    assert redact(text) == "cannot open clickhouses://analyst:***@db.example:8443/traces (refused)"


def test_redact_leaves_urls_without_password_alone() -> None:
    text = "query service at http://127.0.0.1:16686 and chdb:///var/lib/x, kafka broker:9092"

    assert redact(text) == text


# --- through the commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [("demo",), ("trace", "abc"), ("export", "abc"), ("import", "x.jsonl"), ("sql", "SELECT 1"), ("down",)],
)
def test_command_bad_environment_setting_exits_2_naming_it(command: tuple[str, ...]) -> None:
    code, out, err = _run(*command, env={"DATATRACING_QUERY__PORT": "99999"})

    assert code == 2
    assert out == ""
    assert _one_line(err) == "error: environment: query.port: Input should be less than or equal to 65535"


def test_command_missing_config_file_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    code, _, err = _run("sql", "SELECT 1", "--config", str(missing))

    assert code == 2
    assert _one_line(err).startswith(f"error: {missing}: cannot read settings: ")


def test_command_bad_config_value_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("store:\n  retention_days: 0\n")
    code, _, err = _run("trace", "abc", "--config", str(config))

    assert code == 2
    assert _one_line(err) == (
        f"error: {config}: store.retention_days: Input should be greater than or equal to 1"
    )


def test_export_query_service_unreachable_exits_1_one_line(tmp_path: Path) -> None:
    code, _, err = _run(
        "export",
        "ab" * 16,
        "--out",
        str(tmp_path / "x.jsonl"),
        "--query-url",
        f"http://127.0.0.1:{free_port()}",
    )

    assert code == 1
    assert _one_line(err).startswith("error: query service at http://127.0.0.1:")


def test_export_unwritable_out_file_exits_1_one_line(tmp_path: Path) -> None:
    code, _, err = _run("export", "ab" * 16, "--out", str(tmp_path / "no" / "such" / "dir.jsonl"))

    assert code == 1
    assert "No such file or directory" in _one_line(err)


def test_import_missing_file_exits_2_naming_path(tmp_path: Path) -> None:
    code, _, err = _run("import", str(tmp_path / "none.jsonl"))

    assert code == 2
    assert _one_line(err) == f"error: path: {tmp_path / 'none.jsonl'} is not a file"


def test_import_no_valid_line_exits_1_with_the_first_reason(tmp_path: Path, kafka_bootstrap: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('garbage\n{"name": "no ids"}\n')
    code, out, err = _run(
        "import",
        str(path),
        "--data-dir",
        str(tmp_path / "data"),
        env={"DATATRACING_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap},
    )

    assert code == 1
    assert out == ""
    assert _one_line(err).startswith(f"error: {path}: no valid span; line 1: ")


def test_import_empty_file_exits_1(tmp_path: Path, kafka_bootstrap: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    code, _, err = _run(
        "import",
        str(path),
        "--data-dir",
        str(tmp_path / "data"),
        env={"DATATRACING_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap},
    )

    assert code == 1
    assert _one_line(err) == f"error: {path}: no span in the file"


def test_import_kafka_unreachable_exits_1_naming_bootstrap(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("garbage\n")
    bootstrap = f"127.0.0.1:{free_port()}"
    code, _, err = _run(
        "import",
        str(path),
        "--data-dir",
        str(tmp_path / "data"),
        env={"DATATRACING_KAFKA__BOOTSTRAP_SERVERS": bootstrap},
    )

    assert code == 1
    assert _one_line(err) == f"error: cannot reach Kafka at {bootstrap}: Connection refused"


def test_every_command_help_documents_the_exit_codes() -> None:
    for command in ("up", "down", "worker", "query", "ingest", "migrate", "trace", "demo", "bench", "export"):
        code, out, _ = _run(command, "--help")
        assert code == 0
        assert "Exit codes: 0 done; 1 runtime failure" in " ".join(out.split()), command
    for command in (("import",), ("sql",), ("sampler", "replay")):
        code, out, _ = _run(*command, "--help")
        assert "Exit codes: 0 done" in " ".join(out.split()), command


def test_bench_kafka_outside_the_e2e_suite_is_a_usage_error() -> None:
    code, _, err = _run("bench", "sampler", "--kafka", "127.0.0.1:9")

    assert code == 2
    assert _one_line(err) == "error: kafka: applies to the e2e suite only, not 'sampler'"


def test_bench_e2e_on_an_unreachable_cluster_fails_in_one_line_before_any_setup() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"

    code, _, err = _run("bench", "e2e", "--quick", "--kafka", bootstrap)

    assert code == 1
    assert _one_line(err) == f"error: cannot reach Kafka at {bootstrap}: Connection refused"


def test_bench_kafka_without_a_port_is_a_usage_error() -> None:
    code, _, err = _run("bench", "e2e", "--kafka", "kafka")

    assert code == 2
    assert _one_line(err) == "error: kafka: expected host:port[,host:port...], got 'kafka'"


def test_bench_rate_outside_the_e2e_suite_is_a_usage_error() -> None:
    code, _, err = _run("bench", "store", "--rate", "5000")

    assert code == 2
    assert _one_line(err) == "error: rate: applies to the e2e suite only, not 'store'"
