"""Settings: defaults < YAML file < environment < keyword overrides, and the one-line errors users see.

`load_settings` is what every command calls; a bad value in any source is a `ConfigError` whose
message is one line naming the source and the field (the CLI prints it after `error: `).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from datatracing.errors import UsageError
from datatracing.pipeline.config import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Settings,
    load_settings,
    wire_max_bytes,
)
from datatracing.pipeline.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `DATATRACING_*` variable of the machine running the tests leaks into these."""
    import os

    for name in list(os.environ):
        if name.startswith("DATATRACING_"):
            monkeypatch.delenv(name)


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return path


def _message(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- precedence -------------------------------------------------------------------------------------


def test_load_settings_no_source_gives_defaults() -> None:
    settings = load_settings()

    assert settings == Settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.query.port == 16686


def test_load_settings_yaml_overrides_defaults(tmp_path: Path) -> None:
    config = _yaml(tmp_path, "query:\n  port: 17000\nkafka:\n  bootstrap_servers: yaml:9092\n")

    settings = load_settings(config)

    assert settings.query.port == 17000
    assert settings.kafka.bootstrap_servers == "yaml:9092"
    assert settings.query.host == "127.0.0.1"  # a section's other fields keep their defaults


def test_load_settings_environment_overrides_yaml_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _yaml(tmp_path, "query:\n  port: 17000\n  host: 0.0.0.0\n")
    monkeypatch.setenv("DATATRACING_QUERY__PORT", "18000")

    settings = load_settings(config)

    assert settings.query.port == 18000  # from the environment
    assert settings.query.host == "0.0.0.0"  # the file's, in the same section


def test_load_settings_keyword_overrides_environment_and_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _yaml(tmp_path, "data_dir: from-yaml\nstore:\n  retention_days: 7\n  url: chdb:///yaml\n")
    monkeypatch.setenv("DATATRACING_DATA_DIR", "from-env")
    monkeypatch.setenv("DATATRACING_STORE__RETENTION_DAYS", "9")

    settings = load_settings(config, data_dir=Path("from-keyword"), store={"retention_days": 11})

    assert settings.data_dir == Path("from-keyword")
    assert settings.store.retention_days == 11
    assert settings.store.url == "chdb:///yaml"  # a nested override replaces only its own fields


def test_load_settings_none_keyword_leaves_lower_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATATRACING_DATA_DIR", "from-env")

    assert load_settings(data_dir=None).data_dir == Path("from-env")


def test_load_settings_nested_environment_variables_reach_every_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATATRACING_KAFKA__BOOTSTRAP_SERVERS", "a:1,b:2")
    monkeypatch.setenv("DATATRACING_TOPICS__SPANS", "spans-in")
    monkeypatch.setenv("DATATRACING_SAMPLER__DECISION_WAIT", "PT5S")
    monkeypatch.setenv("DATATRACING_INGEST__PORT", "14318")
    monkeypatch.setenv("DATATRACING_WORKER__LOG_LEVEL", "debug")
    monkeypatch.setenv("DATATRACING_KAFKA__PRODUCER", '{"compression.type": "lz4"}')

    settings = load_settings()

    assert settings.kafka.bootstrap_servers == "a:1,b:2"
    assert settings.topics.spans == "spans-in"
    assert settings.sampler.decision_wait_ns == 5 * 10**9
    assert settings.ingest.port == 14318
    assert settings.worker.log_level == "debug"
    assert settings.kafka.producer == {"compression.type": "lz4"}


def test_load_settings_unknown_top_level_variable_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Variables the CLI reads itself (`DATATRACING_CONFIG`, `DATATRACING_STARTUP_WAIT_S`) share the prefix.
    monkeypatch.setenv("DATATRACING_STARTUP_WAIT_S", "3")
    monkeypatch.setenv("DATATRACING_CONFIG", "elsewhere.yaml")

    assert load_settings() == Settings()


def test_store_url_defaults_to_chdb_under_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)

    assert settings.store_url == f"chdb://{(tmp_path / 'clickhouse').resolve()}"


# --- one-line errors, by source ---------------------------------------------------------------------


def test_bad_environment_value_one_line_naming_source_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATATRACING_QUERY__PORT", "not-a-port")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert _message(caught).startswith("environment: query.port: Input should be a valid integer")


def test_unknown_nested_environment_variable_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATATRACING_KAFKA__BOOTSTRAP", "typo:9092")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert _message(caught) == "environment: kafka.bootstrap: Extra inputs are not permitted"


def test_bad_yaml_value_one_line_naming_file_and_field(tmp_path: Path) -> None:
    config = _yaml(tmp_path, "sink:\n  batch_max_bytes: 0\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(config)

    assert _message(caught) == f"{config}: sink.batch_max_bytes: Input should be greater than or equal to 1"


def test_unknown_yaml_field_one_line_naming_it(tmp_path: Path) -> None:
    config = _yaml(tmp_path, "query:\n  prot: 1\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(config)

    assert _message(caught) == f"{config}: query.prot: Extra inputs are not permitted"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a\n- b\n", "settings must be a mapping"), ("query: [unclosed\n", "cannot read settings: ")],
)
def test_yaml_not_a_mapping_or_unparsable_one_line_naming_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = _yaml(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_settings(config)

    assert str(caught.value).startswith(f"{config}: ")
    assert expected in str(caught.value)


def test_missing_yaml_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read settings"):
        load_settings(tmp_path / "absent.yaml")


def test_bad_keyword_override_one_line_naming_field() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(query={"port": 70000})

    assert _message(caught) == "query.port: Input should be less than or equal to 65535"


def test_config_error_is_a_usage_error() -> None:
    # The CLI's exit code 2 rests on this.
    assert issubclass(ConfigError, UsageError)


# --- the size contract ------------------------------------------------------------------------------


def test_size_contract_producer_limit_below_contract_one_line_naming_setting(tmp_path: Path) -> None:
    config = _yaml(tmp_path, "kafka:\n  producer:\n    message.max.bytes: 1000000\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(config)

    message = _message(caught)
    assert message.startswith(
        f"{config}: settings: Value error, kafka.producer['message.max.bytes'] = 1000000"
    )
    assert str(wire_max_bytes(DEFAULT_MAX_MESSAGE_BYTES)) in message


def test_size_contract_consumer_fetch_below_contract_from_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATATRACING_KAFKA__CONSUMER", '{"fetch.max.bytes": 1024}')

    with pytest.raises(ConfigError, match=r"kafka\.consumer\['fetch\.max\.bytes'\] = 1024 is below"):
        load_settings()


def test_size_contract_smaller_contract_lowers_derived_limits() -> None:
    settings = load_settings(kafka={"max_message_bytes": 256 * 1024})

    assert settings.sampler.max_message_bytes == 256 * 1024
    assert settings.ingest.max_message_bytes == 256 * 1024


def test_size_contract_producer_limit_at_wire_size_accepted() -> None:
    wire = wire_max_bytes(DEFAULT_MAX_MESSAGE_BYTES)

    settings = load_settings(kafka={"producer": {"message.max.bytes": wire}})

    assert settings.kafka.producer["message.max.bytes"] == wire


def test_size_contract_ingest_cut_above_contract_refused() -> None:
    with pytest.raises(ConfigError, match=r"ingest\.max_message_bytes \(5000000\) is above"):
        load_settings(ingest={"max_message_bytes": 5_000_000})
