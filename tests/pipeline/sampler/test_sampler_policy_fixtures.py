"""Each policy kind, decided over the trace fixtures in tests/fixtures/traces (model JSON)."""

from __future__ import annotations

from typing import Any

import pytest

from datatracing.pipeline.sampler.policies import NO_MATCH, TraceView, hash_keeps
from tests.pipeline.sampler.sampler_data import (
    FIXTURE_NAMES,
    fixture_spans,
    fixture_view,
    policy,
    span,
    trace_id,
)

ALL = frozenset(FIXTURE_NAMES)

CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("always", {"type": "always"}, set(ALL)),
    ("never", {"type": "never"}, set()),
    ("errors", {"type": "status_code"}, {"checkout_error"}),
    ("ok-root", {"type": "status_code", "codes": ["OK"], "spans": "root"}, {"slow_search"}),
    ("unset", {"type": "status_code", "codes": ["UNSET"]}, set(ALL)),
    ("slow", {"type": "latency", "lower_ms": 1000}, {"slow_search", "batch_job_no_root"}),
    ("fast", {"type": "latency", "upper_ms": 100}, {"health_check", "fast_ok"}),
    ("band", {"type": "latency", "lower_ms": 400, "upper_ms": 2000}, {"checkout_error", "batch_job_no_root"}),
    ("health", {"type": "operation", "values": ["GET /health"]}, {"health_check"}),
    (
        "gets",
        {"type": "operation", "values": ["^GET /"], "match": "regex"},
        {"slow_search", "health_check", "fast_ok"},
    ),
    ("process-root", {"type": "operation", "values": ["^process"], "match": "regex", "spans": "root"}, set()),
    ("process-any", {"type": "operation", "values": ["^process"], "match": "regex"}, {"batch_job_no_root"}),
    (
        "ops-list",
        {"type": "operation", "values": ["charge", "write parquet"]},
        {"checkout_error", "batch_job_no_root"},
    ),
    (
        "flags",
        {"type": "operation", "values": ["(?i)^get /HEALTH", "^nothing"], "match": "regex"},
        {"health_check"},
    ),
    ("payments", {"type": "service", "values": ["payments"]}, {"checkout_error"}),
    ("checkout-root", {"type": "service", "values": ["checkout"], "spans": "root"}, {"checkout_error"}),
    ("payments-root", {"type": "service", "values": ["payments"], "spans": "root"}, set()),
    ("inv", {"type": "service", "values": ["^inv"], "match": "regex"}, {"fast_ok"}),
    ("route", {"type": "string_attribute", "key": "http.route", "values": ["/checkout"]}, {"checkout_error"}),
    (
        "route-regex",
        {"type": "string_attribute", "key": "http.route", "values": [r"\{id\}$"], "match": "regex"},
        {"fast_ok"},
    ),
    (
        "gold",
        {"type": "string_attribute", "key": "tenant.tier", "values": ["gold"], "level": "resource"},
        {"checkout_error"},
    ),
    (
        "free-root",
        {
            "type": "string_attribute",
            "key": "tenant.tier",
            "values": ["free"],
            "level": "resource",
            "spans": "root",
        },
        {"fast_ok"},
    ),
    (
        "staging",
        {
            "type": "string_attribute",
            "key": "deployment.environment",
            "values": ["staging"],
            "level": "resource",
        },
        {"batch_job_no_root"},
    ),
    ("status-5xx", {"type": "numeric_attribute", "key": "http.status_code", "min": 500}, {"checkout_error"}),
    (
        "status-2xx",
        {"type": "numeric_attribute", "key": "http.status_code", "max": 299},
        {"slow_search", "health_check", "fast_ok"},
    ),
    (
        "amount",
        {"type": "numeric_attribute", "key": "payment.amount", "min": 10, "max": 20},
        {"checkout_error"},
    ),
    ("rows", {"type": "numeric_attribute", "key": "etl.rows", "min": 6000}, {"batch_job_no_root"}),
    ("retry", {"type": "boolean_attribute", "key": "payment.retry", "value": True}, {"checkout_error"}),
    ("miss", {"type": "boolean_attribute", "key": "cache.hit", "value": False}, {"slow_search"}),
    ("dry-root", {"type": "boolean_attribute", "key": "etl.dry_run", "value": True, "spans": "root"}, set()),
    ("bool-is-not-number", {"type": "numeric_attribute", "key": "cache.hit", "min": 0}, set()),
    ("many", {"type": "span_count", "min": 3}, ALL - {"health_check"}),
    ("single", {"type": "span_count", "max": 1}, {"health_check"}),
    (
        "slow-search",
        {
            "type": "and",
            "policies": [{"type": "service", "values": ["search"]}, {"type": "latency", "lower_ms": 3000}],
        },
        {"slow_search"},
    ),
    (
        "errors-or-health",
        {
            "type": "or",
            "policies": [{"type": "status_code"}, {"type": "operation", "values": ["GET /health"]}],
        },
        {"checkout_error", "health_check"},
    ),
    ("not-errors", {"type": "not", "policy": {"type": "status_code"}}, ALL - {"checkout_error"}),
]


@pytest.mark.parametrize(("name", "config", "expected"), CASES, ids=[c[0] for c in CASES])
def test_policy_over_fixtures_keeps_expected_traces(
    name: str, config: dict[str, Any], expected: set[str]
) -> None:
    compiled = policy({"name": name, **config})
    kept = {fixture for fixture in FIXTURE_NAMES if compiled.decide(fixture_view(fixture)).keep}
    assert kept == expected


def test_policy_keep_records_name_and_rate_one() -> None:
    verdict = policy({"name": "errors", "type": "status_code"}).decide(fixture_view("checkout_error"))
    assert (verdict.keep, verdict.policy, verdict.sample_rate) == (True, "errors", 1.0)


def test_policy_no_keep_records_no_match() -> None:
    verdict = policy({"name": "errors", "type": "status_code"}).decide(fixture_view("fast_ok"))
    assert (verdict.keep, verdict.policy) == (False, NO_MATCH)


def test_policy_drop_veto_wins_over_keep() -> None:
    compiled = policy(
        {"name": "errors", "type": "status_code"},
        {"name": "no-payments", "type": "drop", "policy": {"type": "service", "values": ["payments"]}},
    )
    verdict = compiled.decide(fixture_view("checkout_error"))
    assert (verdict.keep, verdict.policy) == (False, "no-payments")


def test_policy_several_keepers_records_lowest_rate() -> None:
    compiled = policy(
        {"name": "tenth", "type": "probabilistic", "sample_one_in": 10},
        {"name": "half", "type": "probabilistic", "sample_one_in": 2},
        {"name": "also-half", "type": "probabilistic", "sample_one_in": 2},
    )
    # Same salt, so a trace in the 1-in-10 bucket is in the 1-in-2 bucket too.
    tid = next(trace_id(n) for n in range(1, 10_000) if hash_keeps(trace_id(n), b"", 10))
    verdict = compiled.decide(TraceView.from_spans([span(tid, 1)]))
    assert (verdict.keep, verdict.policy, verdict.sample_rate) == (True, "half", 2.0)


def test_policy_probabilistic_records_one_in_n() -> None:
    compiled = policy({"name": "all", "type": "probabilistic", "sample_one_in": 1})
    assert compiled.decide(fixture_view("fast_ok")).sample_rate == 1.0
    compiled = policy({"name": "quarter", "type": "probabilistic", "rate": 0.25})
    kept = [compiled.decide(fixture_view(f)) for f in FIXTURE_NAMES]
    assert all(v.sample_rate == 4.0 for v in kept if v.keep)


def test_policy_rules_first_match_decides_with_rule_label() -> None:
    compiled = policy(
        {
            "name": "refinery",
            "type": "rules",
            "rules": [
                {
                    "name": "health",
                    "conditions": [{"type": "operation", "values": ["GET /health"]}],
                    "drop": True,
                },
                {"name": "errors", "conditions": [{"type": "status_code"}]},
                {"name": "errors-too", "conditions": [{"type": "status_code"}], "sample_rate": 100},
                {"conditions": [{"type": "latency", "lower_ms": 1000}], "sample_rate": 1},
            ],
        }
    )
    checkout = compiled.decide(fixture_view("checkout_error"))
    assert (checkout.keep, checkout.policy, checkout.sample_rate) == (True, "refinery/errors", 1.0)
    health = compiled.decide(fixture_view("health_check"))
    assert (health.keep, health.policy) == (False, "refinery/health")
    slow = compiled.decide(fixture_view("slow_search"))
    assert (slow.keep, slow.policy) == (True, "refinery/rules[3]")
    assert compiled.decide(fixture_view("fast_ok")).policy == NO_MATCH


def test_policy_rules_sample_rate_keeps_by_trace_hash() -> None:
    compiled = policy({"name": "r", "type": "rules", "rules": [{"sample_rate": 7}]})
    for fixture in FIXTURE_NAMES:
        view = fixture_view(fixture)
        verdict = compiled.decide(view)
        assert verdict.keep == hash_keeps(view.trace_id, b"", 7)
        if verdict.keep:
            assert verdict.sample_rate == 7.0


def test_policy_rate_limiting_uses_trace_start_times() -> None:
    compiled = policy({"name": "limit", "type": "rate_limiting", "spans_per_second": 4, "burst": 4})
    spans = fixture_spans("checkout_error")  # 4 spans: the bucket holds exactly one such trace
    first = compiled.decide(TraceView.from_spans(spans))
    again = compiled.decide(TraceView.from_spans(spans))  # same start time: nothing refilled
    later = [
        s.model_copy(
            update={
                "start_time_unix_nano": s.start_time_unix_nano + 10**9,
                "end_time_unix_nano": s.end_time_unix_nano + 10**9,
            }
        )
        for s in spans
    ]
    refilled = compiled.decide(TraceView.from_spans(later))
    assert (first.keep, again.keep, refilled.keep) == (True, False, True)
