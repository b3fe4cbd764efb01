"""The policy file's schema: pydantic models, a union discriminated by `type`.

A policy file is `{version?: str, policies: [named policy, ...]}`. Each entry is a condition (the
same kinds nest inside `and`, `or`, `not`, `drop` and rule conditions), or one of the two top-level
kinds `drop` (veto) and `rules` (ordered first match, Refinery-style). See `policies/__init__` for
how they combine.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "AlwaysConfig",
    "AndConfig",
    "BooleanAttributeConfig",
    "Condition",
    "DropConfig",
    "LatencyConfig",
    "NeverConfig",
    "NotConfig",
    "NumericAttributeConfig",
    "OperationConfig",
    "OrConfig",
    "PolicyFile",
    "ProbabilisticConfig",
    "RateLimitingConfig",
    "RuleConfig",
    "RulesConfig",
    "ServiceConfig",
    "SpanCountConfig",
    "StatusCodeConfig",
    "StringAttributeConfig",
    "TopLevelPolicy",
]

#: Which spans a condition looks at: any span of the trace, or only root spans (no parent).
SpanSelect = Literal["any", "root"]
StatusName = Literal["ERROR", "OK", "UNSET"]
#: Where an attribute is looked up: on the span itself or on the resource that produced it.
Level = Literal["span", "resource"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Base(_Model):
    #: Required at the top level (recorded on every decision), optional when nested.
    name: str | None = Field(default=None, min_length=1)


class AlwaysConfig(_Base):
    """Matches every trace."""

    type: Literal["always"]


def _check_range(low: float | None, high: float | None, low_name: str, high_name: str) -> None:
    """A range with at least one bound, the lower not above the upper."""
    if low is None and high is None:
        raise ValueError(f"give {low_name}, {high_name} or both")
    if low is not None and high is not None and low > high:
        raise ValueError(f"{low_name} is above {high_name}")


class NeverConfig(_Base):
    """Matches no trace."""

    type: Literal["never"]


class LatencyConfig(_Base):
    """First span start to last span end, within `[lower_ms, upper_ms]` (either bound optional)."""

    type: Literal["latency"]
    lower_ms: float | None = Field(default=None, ge=0)
    upper_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> LatencyConfig:
        _check_range(self.lower_ms, self.upper_ms, "lower_ms", "upper_ms")
        return self


class StatusCodeConfig(_Base):
    """A span (any, or a root) has one of `codes`; the default finds traces with an error."""

    type: Literal["status_code"]
    codes: list[StatusName] = Field(default_factory=lambda: list[StatusName](["ERROR"]), min_length=1)
    spans: SpanSelect = "any"


class _StringMatch(_Base):
    #: `exact`: equal to one of `values`; `regex`: one of `values` matches anywhere (anchor with ^$).
    match: Literal["exact", "regex"] = "exact"
    values: list[str] = Field(min_length=1)
    spans: SpanSelect = "any"

    @field_validator("values")
    @classmethod
    def _regexes_compile(cls, values: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("match") == "regex":
            for value in values:
                try:
                    re.compile(value)
                except re.error as exc:
                    raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return values


class OperationConfig(_StringMatch):
    """A span's name matches."""

    type: Literal["operation"]


class ServiceConfig(_StringMatch):
    """The `service.name` of a span's resource matches."""

    type: Literal["service"]


class StringAttributeConfig(_StringMatch):
    """A string attribute `key` (on spans or their resources) matches."""

    type: Literal["string_attribute"]
    key: str = Field(min_length=1)
    level: Level = "span"


class NumericAttributeConfig(_Base):
    """An int or double attribute `key` lies in `[min, max]` (either bound optional)."""

    type: Literal["numeric_attribute"]
    key: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    level: Level = "span"
    spans: SpanSelect = "any"

    @model_validator(mode="after")
    def _bounds(self) -> NumericAttributeConfig:
        _check_range(self.min, self.max, "min", "max")
        return self


class BooleanAttributeConfig(_Base):
    """A boolean attribute `key` equals `value`."""

    type: Literal["boolean_attribute"]
    key: str = Field(min_length=1)
    value: bool
    level: Level = "span"
    spans: SpanSelect = "any"


class SpanCountConfig(_Base):
    """The trace's buffered span count lies in `[min, max]` (either bound optional)."""

    type: Literal["span_count"]
    min: int | None = Field(default=None, ge=1)
    max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> SpanCountConfig:
        _check_range(self.min, self.max, "min", "max")
        return self


class ProbabilisticConfig(_Base):
    """Keep a share of traces by a salted hash of the trace id: `rate` (0, 1] or `sample_one_in` N."""

    type: Literal["probabilistic"]
    rate: float | None = Field(default=None, gt=0, le=1)
    sample_one_in: float | None = Field(default=None, ge=1)
    salt: str = ""

    @model_validator(mode="after")
    def _one_rate(self) -> ProbabilisticConfig:
        if (self.rate is None) == (self.sample_one_in is None):
            raise ValueError("give exactly one of rate and sample_one_in")
        return self

    @property
    def one_in(self) -> float:
        """The rate as "1 in N"."""
        return self.sample_one_in if self.sample_one_in is not None else 1.0 / (self.rate or 1.0)


class RateLimitingConfig(_Base):
    """Token bucket of spans, refilled by the traces' own start times (per partition engine)."""

    type: Literal["rate_limiting"]
    spans_per_second: float = Field(gt=0)
    #: Bucket size in spans; defaults to one second's worth.
    burst: float | None = Field(default=None, ge=1)


class AndConfig(_Base):
    """Every sub-policy matches."""

    type: Literal["and"]
    policies: list[Condition] = Field(min_length=1)


class OrConfig(_Base):
    """At least one sub-policy matches."""

    type: Literal["or"]
    policies: list[Condition] = Field(min_length=1)


class NotConfig(_Base):
    """The sub-policy does not match."""

    type: Literal["not"]
    policy: Condition


Condition = Annotated[
    AlwaysConfig
    | NeverConfig
    | LatencyConfig
    | StatusCodeConfig
    | OperationConfig
    | ServiceConfig
    | StringAttributeConfig
    | NumericAttributeConfig
    | BooleanAttributeConfig
    | SpanCountConfig
    | ProbabilisticConfig
    | RateLimitingConfig
    | AndConfig
    | OrConfig
    | NotConfig,
    Field(discriminator="type"),
]


class DropConfig(_Base):
    """Top level only: when `policy` matches, the trace is dropped whatever other policies say."""

    type: Literal["drop"]
    policy: Condition


class RuleConfig(_Model):
    """One rule: when every condition matches (none: always), keep 1 in `sample_rate`, or `drop`."""

    name: str | None = Field(default=None, min_length=1)
    conditions: list[Condition] = Field(default_factory=list)
    sample_rate: float = Field(default=1.0, ge=1)
    drop: bool = False


class RulesConfig(_Base):
    """Top level only: the first rule whose conditions match decides; no match keeps nothing."""

    type: Literal["rules"]
    rules: list[RuleConfig] = Field(min_length=1)
    salt: str = ""


TopLevelPolicy = Annotated[
    AlwaysConfig
    | NeverConfig
    | LatencyConfig
    | StatusCodeConfig
    | OperationConfig
    | ServiceConfig
    | StringAttributeConfig
    | NumericAttributeConfig
    | BooleanAttributeConfig
    | SpanCountConfig
    | ProbabilisticConfig
    | RateLimitingConfig
    | AndConfig
    | OrConfig
    | NotConfig
    | DropConfig
    | RulesConfig,
    Field(discriminator="type"),
]


class PolicyFile(_Model):
    """A whole policy file. `version` is free text, folded into the computed policy version."""

    version: str | None = None
    policies: list[TopLevelPolicy] = Field(min_length=1)


for _model in (AndConfig, OrConfig, NotConfig, DropConfig, RuleConfig, RulesConfig, PolicyFile):
    _model.model_rebuild()
