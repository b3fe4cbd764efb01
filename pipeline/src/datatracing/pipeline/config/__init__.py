"""Runtime settings: frozen pydantic-settings models, read from the environment only at entry points.

Every field can be set as `DATATRACING_<SECTION>__<FIELD>` (for example
`DATATRACING_KAFKA__BOOTSTRAP_SERVERS=broker:9092`) or from a YAML file named by `--config` /
`DATATRACING_CONFIG`. CLI options override both. Invalid values stop start-up with a one-line message
naming the field (see `load_settings`).

Every section lives here, the ingest gateway's and the sampler's included, so that this module
imports nothing of the packages it configures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from datatracing.pipeline.config._auth import KEY_DIGEST_PREFIX, AuthSettings, key_digest_entry
from datatracing.pipeline.config._base import DEFAULT_TENANT
from datatracing.pipeline.config._kafka import (
    DEFAULT_MAX_MESSAGE_BYTES,
    RECORD_OVERHEAD_BYTES,
    KafkaSecuritySettings,
    KafkaSettings,
    TopicSettings,
    wire_max_bytes,
)
from datatracing.pipeline.config._stages import (
    IngestSettings,
    QuerySettings,
    SamplerSettings,
    SinkSettings,
    StoreSettings,
    WorkerSettings,
)
from datatracing.pipeline.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_TENANT",
    "KEY_DIGEST_PREFIX",
    "RECORD_OVERHEAD_BYTES",
    "AuthSettings",
    "IngestSettings",
    "KafkaSecuritySettings",
    "KafkaSettings",
    "QuerySettings",
    "SamplerSettings",
    "Settings",
    "SinkSettings",
    "StoreSettings",
    "TopicSettings",
    "WorkerSettings",
    "check_size_contract",
    "key_digest_entry",
    "load_settings",
    "wire_max_bytes",
]


class Settings(BaseSettings):
    """All runtime settings of the pipeline processes."""

    model_config = SettingsConfigDict(
        env_prefix="DATATRACING_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data_dir: Path = Path(".datatracing")
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    store: StoreSettings = StoreSettings()
    sink: SinkSettings = SinkSettings()
    query: QuerySettings = QuerySettings()
    worker: WorkerSettings = WorkerSettings()
    sampler: SamplerSettings = SamplerSettings()
    ingest: IngestSettings = IngestSettings()
    auth: AuthSettings = AuthSettings()
    #: Sampling policy file (YAML or JSON); none means keep every trace.
    policy_file: Path | None = None

    @model_validator(mode="after")
    def _one_size_contract(self) -> Settings:
        """Check every size limit against `kafka.max_message_bytes`, and give the sampler its value."""
        check_size_contract(self)
        limit = self.kafka.max_message_bytes
        if "max_message_bytes" in self.sampler.model_fields_set and self.sampler.max_message_bytes != limit:
            raise ValueError(
                "sampler.max_message_bytes is set from kafka.max_message_bytes; set that one instead"
            )
        if self.sampler.max_message_bytes != limit:
            # Frozen model: the derived value is written once, here, during validation.
            object.__setattr__(self, "sampler", self.sampler.model_copy(update={"max_message_bytes": limit}))
        if self.ingest.max_message_bytes > limit:
            # The gateway's default cut is below the default contract; a smaller contract lowers it.
            object.__setattr__(self, "ingest", self.ingest.model_copy(update={"max_message_bytes": limit}))
        return self

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to embedded chdb under the data directory."""
        return self.store.url or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"


#: librdkafka settings that must allow a whole record of the contract size, by client.
_PRODUCER_SIZES = ("message.max.bytes",)
_CONSUMER_SIZES = ("fetch.max.bytes", "receive.message.max.bytes", "message.max.bytes")


def check_size_contract(settings: Settings) -> None:
    """Raise `ValueError` naming the setting that cannot carry a message of `kafka.max_message_bytes`.

    Every stage must be able to forward what it accepts: a producer limit or a fetch limit below
    the contract would let one accepted message stop the stage that cannot pass it on.
    """
    kafka = settings.kafka
    wire = wire_max_bytes(kafka.max_message_bytes)
    for section, names in (("producer", _PRODUCER_SIZES), ("consumer", _CONSUMER_SIZES)):
        extra = getattr(kafka, section)
        for name in names:
            value = extra.get(name)
            if value is not None and int(value) < wire:
                raise ValueError(
                    f"kafka.{section}[{name!r}] = {value} is below kafka.max_message_bytes + record "
                    f"overhead ({wire}); raise it or lower kafka.max_message_bytes"
                )
    ingest = settings.ingest
    if "max_message_bytes" in ingest.model_fields_set and ingest.max_message_bytes > kafka.max_message_bytes:
        raise ValueError(
            f"ingest.max_message_bytes ({settings.ingest.max_message_bytes}) is above "
            f"kafka.max_message_bytes ({kafka.max_message_bytes})"
        )


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "settings"
    return f"{where}: {first['msg']}"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from (lowest first) defaults, the YAML file, the environment, `overrides`.

    Raises `ConfigError` with a one-line message naming the bad field.
    """
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{config_file}: cannot read settings: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{config_file}: settings must be a mapping")
        file_values = loaded or {}
    try:
        from_env = Settings()
    except ValidationError as exc:
        raise ConfigError(f"environment: {_describe(exc)}") from exc
    # Environment beats the file: start from the file, then apply what the environment set.
    env_set = from_env.model_dump(exclude_unset=True)
    merged = _merge(_merge(file_values, env_set), {k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        source = f"{config_file}: " if config_file is not None else ""
        raise ConfigError(f"{source}{_describe(exc)}") from exc
