"""From a validated `PolicyFile` to evaluators, and how the named policies combine into a decision."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datatracing.pipeline.sampler.policies import _evaluators as ev
from datatracing.pipeline.sampler.policies._config import (
    AlwaysConfig,
    AndConfig,
    BooleanAttributeConfig,
    Condition,
    DropConfig,
    LatencyConfig,
    NeverConfig,
    NotConfig,
    NumericAttributeConfig,
    OperationConfig,
    OrConfig,
    PolicyFile,
    ProbabilisticConfig,
    RateLimitingConfig,
    RulesConfig,
    ServiceConfig,
    SpanCountConfig,
    StatusCodeConfig,
    StringAttributeConfig,
    TopLevelPolicy,
)
from datatracing.pipeline.sampler.policies._view import Needs, TraceView

__all__ = [
    "NO_MATCH",
    "CompiledPolicy",
    "PolicyEvaluator",
    "Verdict",
    "build_condition",
    "needs_of",
    "policy_version",
]

#: Policy name recorded when no policy kept the trace.
NO_MATCH = "(none)"
_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one trace: keep or not, the policy that decided, the "1 in N" rate."""

    keep: bool
    policy: str
    sample_rate: float


def _ns(ms: float | None) -> int | None:
    return None if ms is None else round(ms * 1_000_000)


def _in_range(low: float | None, high: float | None) -> Callable[[float], bool]:
    lo = float("-inf") if low is None else low
    hi = float("inf") if high is None else high
    return lambda value: lo <= value <= hi


def build_condition(config: Condition) -> ev.Evaluator:
    """A fresh evaluator (with fresh state, for the rate limiter) for one condition."""
    if isinstance(config, AlwaysConfig | NeverConfig):
        return ev.Constant(1.0 if isinstance(config, AlwaysConfig) else 0.0)
    if isinstance(config, LatencyConfig):
        return ev.Latency(_ns(config.lower_ms), _ns(config.upper_ms))
    if isinstance(config, SpanCountConfig):
        return ev.SpanCount(config.min, config.max)
    if isinstance(config, StatusCodeConfig):
        return ev.StatusMatch(frozenset(_STATUS[c] for c in config.codes), config.spans == "root")
    if isinstance(config, OperationConfig | ServiceConfig):
        exact = config.match == "exact"
        needles = tuple(v.encode() for v in config.values) if exact else ()
        test = ev.string_matcher(config.values, config.match)
        return ev.NameMatch(test, needles, config.spans == "root", isinstance(config, ServiceConfig))
    if isinstance(config, StringAttributeConfig | NumericAttributeConfig | BooleanAttributeConfig):
        return _attribute(config)
    if isinstance(config, ProbabilisticConfig):
        return ev.Probabilistic(config.one_in, config.salt)
    if isinstance(config, RateLimitingConfig):
        burst = config.burst if config.burst is not None else max(1.0, config.spans_per_second)
        return ev.RateLimiter(config.spans_per_second, burst)
    if isinstance(config, AndConfig):
        return ev.AllOf([build_condition(c) for c in config.policies])
    if isinstance(config, OrConfig):
        return ev.AnyOf([build_condition(c) for c in config.policies])
    if isinstance(config, NotConfig):
        return ev.Negation(build_condition(config.policy))
    raise TypeError(f"unknown condition {type(config).__name__}")  # pragma: no cover


def _walk(config: Condition | TopLevelPolicy) -> list[Condition]:
    """Every condition in a policy tree, itself included (top-level kinds contribute their parts)."""
    if isinstance(config, AndConfig | OrConfig):
        return [config, *(c for child in config.policies for c in _walk(child))]
    if isinstance(config, NotConfig):
        return [config, *_walk(config.policy)]
    if isinstance(config, DropConfig):
        return _walk(config.policy)
    if isinstance(config, RulesConfig):
        return [c for rule in config.rules for cond in rule.conditions for c in _walk(cond)]
    return [config]


def needs_of(policy_file: PolicyFile) -> Needs:
    """The attribute keys the policies read, so decisions decode just those."""
    conditions = [c for p in policy_file.policies for c in _walk(p)]
    span_keys: set[str] = set()
    resource_keys: set[str] = set()
    for c in conditions:
        if isinstance(c, ServiceConfig):
            resource_keys.add(ev.SERVICE_NAME)
        elif isinstance(c, StringAttributeConfig | NumericAttributeConfig | BooleanAttributeConfig):
            (resource_keys if c.level == "resource" else span_keys).add(c.key)
    return Needs(span_keys=frozenset(span_keys), resource_keys=frozenset(resource_keys))


def _attribute(
    config: StringAttributeConfig | NumericAttributeConfig | BooleanAttributeConfig,
) -> ev.Evaluator:
    needles: tuple[bytes, ...] = ()
    test: Callable[[Any], bool]
    if isinstance(config, StringAttributeConfig):
        kind, test = "strings", ev.string_matcher(config.values, config.match)
        if config.match == "exact":
            needles = tuple(v.encode() for v in config.values)
    elif isinstance(config, NumericAttributeConfig):
        kind, test = "numbers", _in_range(config.min, config.max)
    else:
        kind, test = "bools", (lambda value: value) if config.value else (lambda value: not value)
    return ev.AttributeMatch(
        config.key, kind, test, needles, config.level == "resource", config.spans == "root"
    )


class _Rules:
    """Ordered first match; a matching rule keeps 1 in `sample_rate` by trace-id hash, or drops."""

    def __init__(self, name: str, config: RulesConfig) -> None:
        self.salt = config.salt.encode()
        self.rules = [
            (
                f"{name}/{rule.name or f'rules[{i}]'}",
                ev.AllOf([build_condition(c) for c in rule.conditions]),
                rule.sample_rate,
                rule.drop,
            )
            for i, rule in enumerate(config.rules)
        ]

    def decide(self, trace: TraceView) -> tuple[float, str]:
        for label, conditions, one_in, drop in self.rules:
            rate = conditions.evaluate(trace)
            if rate == 0.0:
                continue
            if drop or not ev.hash_keeps(trace.trace_id, self.salt, one_in):
                return 0.0, label
            return rate * one_in, label
        return 0.0, ""


class _Named:
    def __init__(self, name: str, condition: ev.Evaluator) -> None:
        self.name = name
        self.condition = condition

    def decide(self, trace: TraceView) -> tuple[float, str]:
        rate = self.condition.evaluate(trace)
        return rate, self.name if rate != 0.0 else ""


class PolicyEvaluator:
    """One stateful instance of a policy file (each partition engine owns one).

    Drop policies are evaluated first: one that matches drops the trace. Then the keep policies in
    file order: the trace is kept when any keeps it, recorded under the keeping policy with the
    lowest sample rate (the first on ties), so re-weighting by that rate is never too high. A
    dropped trace is recorded under the first rule that matched and dropped or sampled it out, or
    `NO_MATCH`.
    Evaluation stops at the first policy that keeps at rate 1, so a later rate limiter only counts
    traces that no earlier policy kept outright.
    """

    def __init__(self, policy_file: PolicyFile, version: str) -> None:
        self.version = version
        #: What the engine's `TraceView`s should gather for these policies.
        self.needs = needs_of(policy_file)
        self.drops: list[tuple[str, ev.Evaluator]] = []
        self.keeps: list[_Named | _Rules] = []
        for config in policy_file.policies:
            self._add(config)

    def _add(self, config: TopLevelPolicy) -> None:
        name = config.name or config.type
        if isinstance(config, DropConfig):
            self.drops.append((name, build_condition(config.policy)))
        elif isinstance(config, RulesConfig):
            self.keeps.append(_Rules(name, config))
        else:
            self.keeps.append(_Named(name, build_condition(config)))

    def decide(self, trace: TraceView) -> Verdict:
        """Keep or drop `trace`, and which policy said so at what rate."""
        for name, condition in self.drops:
            if condition.evaluate(trace) != 0.0:
                return Verdict(False, name, 1.0)
        best_rate, best_name, declined = 0.0, "", ""
        for policy in self.keeps:
            rate, label = policy.decide(trace)
            if rate == 0.0:
                declined = declined or label  # a rule that matched, then dropped or sampled out
                continue
            if best_rate == 0.0 or rate < best_rate:
                best_rate, best_name = rate, label
                if rate <= 1.0:
                    break
        if best_rate == 0.0:
            return Verdict(False, declined or NO_MATCH, 1.0)
        return Verdict(True, best_name, best_rate)


def policy_version(policy_file: PolicyFile) -> str:
    """16 hex characters of SHA-256 over the normalised config (defaults filled, keys sorted)."""
    normalised = json.dumps(policy_file.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(normalised.encode()).hexdigest()[:16]


class CompiledPolicy:
    """A validated policy file, ready to evaluate.

    `evaluator()` builds a fresh stateful instance (the engine calls it once per partition);
    `decide()` uses one shared instance, for tests and tools.
    """

    def __init__(self, policy_file: PolicyFile, source: str = "<policy>") -> None:
        self.config = policy_file
        self.source = source
        self.version = policy_version(policy_file)
        self.names = [p.name or p.type for p in policy_file.policies]
        self._shared: PolicyEvaluator | None = None

    def evaluator(self) -> PolicyEvaluator:
        return PolicyEvaluator(self.config, self.version)

    def decide(self, trace: TraceView) -> Verdict:
        if self._shared is None:
            self._shared = self.evaluator()
        return self._shared.decide(trace)

    def __repr__(self) -> str:
        return f"CompiledPolicy(source={self.source!r}, version={self.version!r}, policies={self.names!r})"
