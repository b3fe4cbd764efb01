"""Loading policy files: YAML and JSON, errors naming the file and the field, versions, defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datatracing.pipeline.errors import ConfigError, PolicyConfigError
from datatracing.pipeline.sampler.policies import (
    DEFAULT_POLICY_NAME,
    default_policy,
    load_policy,
    load_policy_file,
)
from tests.pipeline.sampler.sampler_data import fixture_view

GOOD: dict[str, Any] = {
    "version": "7",
    "policies": [
        {"name": "errors", "type": "status_code"},
        {"name": "slow", "type": "latency", "lower_ms": 1000},
        {"name": "rest", "type": "probabilistic", "sample_one_in": 10},
    ],
}

YAML = """\
version: "7"
policies:
  - name: errors
    type: status_code
  - {name: slow, type: latency, lower_ms: 1000}
  - name: rest
    type: probabilistic
    sample_one_in: 10
"""


def _write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_load_policy_file_yaml_and_json_same_version(tmp_path: Path) -> None:
    from_json = load_policy_file(_write(tmp_path, "policies.json", GOOD))
    from_yaml = load_policy_file(_write(tmp_path, "policies.yaml", YAML))
    assert from_json.names == from_yaml.names == ["errors", "slow", "rest"]
    assert from_json.version == from_yaml.version
    assert len(from_json.version) == 16


def test_load_policy_version_ignores_defaults_and_key_order() -> None:
    explicit = {"policies": [{"type": "status_code", "name": "e", "codes": ["ERROR"], "spans": "any"}]}
    implicit = {"policies": [{"name": "e", "type": "status_code"}]}
    assert load_policy(explicit).version == load_policy(implicit).version


def test_load_policy_version_changes_with_config() -> None:
    changed = json.loads(json.dumps(GOOD))
    changed["policies"][1]["lower_ms"] = 1001
    assert load_policy(changed).version != load_policy(GOOD).version


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        (
            [
                {"name": "a", "type": "always"},
                {"name": "b", "type": "never"},
                {"name": "c", "type": "latency", "upper_ms": 0},
            ],
            "policies[2].latency.upper_ms: Input should be greater than 0",
        ),
        ([{"name": "a", "type": "latency"}], "policies[0].latency: give lower_ms, upper_ms or both"),
        ([{"name": "a", "type": "bogus"}], "policies[0]: Input tag 'bogus' found using 'type'"),
        (
            [{"name": "a", "type": "latency", "lower": 5}],
            "policies[0].latency.lower: Extra inputs are not permitted",
        ),
        (
            [{"name": "a", "type": "operation", "values": ["("], "match": "regex"}],
            "policies[0].operation.values: invalid regex '('",
        ),
        (
            [{"name": "a", "type": "and", "policies": [{"type": "probabilistic", "rate": 2}]}],
            "policies[0].and.policies[0].probabilistic.rate: Input should be less than or equal to 1",
        ),
        (
            [{"name": "a", "type": "not", "policy": {"type": "drop", "policy": {"type": "always"}}}],
            "policies[0].not.policy: Input tag 'drop' found",
        ),
        ([{"name": "a", "type": "probabilistic"}], "policies[0].probabilistic: give exactly one of rate and"),
        (
            [{"name": "r", "type": "rules", "rules": [{"sample_rate": 0.5}]}],
            "policies[0].rules.rules[0].sample_rate: Input should be greater than or equal to 1",
        ),
        ([{"type": "always"}], "policies[0].name: a top-level policy needs a name"),
        ([{"name": "a", "type": "always"}, {"name": "a", "type": "never"}], "policies[1].name: duplicate"),
        ([], "policies: List should have at least 1 item"),
    ],
)
def test_load_policy_file_invalid_names_file_and_field(
    tmp_path: Path, policies: list[Any], message: str
) -> None:
    path = _write(tmp_path, "policies.json", {"policies": policies})
    with pytest.raises(PolicyConfigError) as info:
        load_policy_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_load_policy_file_error_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_policy_file(tmp_path / "missing.yaml")


def test_load_policy_file_bad_json_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.json", '{"policies": [\n  {"name": "a",,}]}')
    with pytest.raises(PolicyConfigError, match=r"p\.json: line 2 column"):
        load_policy_file(path)


def test_load_policy_file_bad_yaml_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.yml", "policies:\n  - name: a\n   type: [always\n")
    with pytest.raises(PolicyConfigError, match=r"p\.yml: line \d+ column \d+"):
        load_policy_file(path)


def test_load_policy_file_not_a_mapping_rejected(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="must be a mapping"):
        load_policy_file(_write(tmp_path, "p.yaml", "- just\n- a list\n"))


def test_default_policy_keeps_everything_as_keep_all() -> None:
    verdict = default_policy().decide(fixture_view("fast_ok"))
    assert (verdict.keep, verdict.policy, verdict.sample_rate) == (True, DEFAULT_POLICY_NAME, 1.0)


def test_compiled_policy_repr_names_source_and_policies(tmp_path: Path) -> None:
    compiled = load_policy_file(_write(tmp_path, "policies.json", GOOD))
    assert "policies.json" in repr(compiled)
    assert "errors" in repr(compiled)
