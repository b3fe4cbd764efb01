"""Tail-sampling policies: the file format, its validation, and deterministic evaluation.

A policy file (YAML or JSON) lists named policies, evaluated OpenTelemetry-style:

```yaml
version: "2024-06"            # optional, free text
policies:
  - {name: no-health, type: drop, policy: {type: operation, values: [GET /health]}}
  - {name: errors, type: status_code}                      # codes: [ERROR] by default
  - {name: slow, type: latency, lower_ms: 2000}
  - {name: payments, type: string_attribute, key: tenant.tier, values: [gold], level: resource}
  - {name: rest, type: probabilistic, sample_one_in: 20}
```

- A `drop` policy that matches vetoes: the trace is dropped whatever the others say.
- Otherwise the trace is kept when any policy keeps it. The decision records the keeping policy with
  the lowest "1 in N" sample rate (first in file order on ties); evaluation stops at the first policy
  that keeps at rate 1. A trace nobody keeps is dropped and recorded as `NO_MATCH`.
- A `rules` policy is Refinery's ordered first match: the first rule whose conditions all match
  keeps 1 in its `sample_rate` by trace-id hash (or drops, with `drop: true`); no match keeps
  nothing. A file holding a single `rules` policy behaves exactly like Refinery's rules sampler.

Condition types (usable at the top level and nested in `and`, `or`, `not`, `drop`, rule
`conditions`): `always`, `never`, `latency` (`lower_ms`, `upper_ms`), `status_code` (`codes`),
`operation` and `service` (`values`, `match: exact|regex`), `string_attribute`,
`numeric_attribute` (`min`, `max`), `boolean_attribute` (`value`) — attributes with `key` and
`level: span|resource` — `span_count` (`min`, `max`), `probabilistic` (`rate` or `sample_one_in`,
`salt`), `rate_limiting` (`spans_per_second`, `burst`), and the compositions. Conditions that look
at spans take `spans: any|root`.

Determinism: a decision depends only on the trace's buffered spans and the policy file, so a replay
after a crash decides the same; the probabilistic hash is BLAKE2b of salt and trace id (not Python's
`hash()`). The one exception is `rate_limiting`, whose token bucket is refilled by the traces' own
start times (never the wall clock) and depends on the traces decided before, in the engine's fixed
order; each partition engine owns its bucket, so the limit applies per partition.

Every decision carries the policy name, `CompiledPolicy.version` (16 hex characters of SHA-256 over
the normalised config) and the sample rate.
"""

from __future__ import annotations

from datatracing.pipeline.sampler.policies._compile import (
    NO_MATCH,
    CompiledPolicy,
    PolicyEvaluator,
    Verdict,
    build_condition,
    needs_of,
    policy_version,
)
from datatracing.pipeline.sampler.policies._config import Condition, PolicyFile, TopLevelPolicy
from datatracing.pipeline.sampler.policies._evaluators import Evaluator, hash_keeps, trace_hash
from datatracing.pipeline.sampler.policies._load import (
    DEFAULT_POLICY_NAME,
    default_policy,
    load_policy,
    load_policy_file,
)
from datatracing.pipeline.sampler.policies._view import AttrValues, Facts, Needs, SpanGroup, TraceView

__all__ = [
    "DEFAULT_POLICY_NAME",
    "NO_MATCH",
    "AttrValues",
    "CompiledPolicy",
    "Condition",
    "Evaluator",
    "Facts",
    "Needs",
    "PolicyEvaluator",
    "PolicyFile",
    "SpanGroup",
    "TopLevelPolicy",
    "TraceView",
    "Verdict",
    "build_condition",
    "default_policy",
    "hash_keeps",
    "load_policy",
    "load_policy_file",
    "needs_of",
    "policy_version",
    "trace_hash",
]
