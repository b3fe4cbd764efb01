"""The tail sampler: assemble spans by trace id, decide when complete, keep or drop by policy.

`PartitionEngine` is the pure, deterministic core (one per partition, driven by offsets and a clock);
`policies` holds the policy language; the Faust worker that drives the engines lives in `_app` and
`_agent` (imported by the worker process only, so that settings can import this package).
"""

from __future__ import annotations

from datatracing.pipeline.sampler._decisions import Decision, DecisionCache, decode_decision, encode_decision
from datatracing.pipeline.sampler._engine import PartitionEngine
from datatracing.pipeline.sampler._results import AddResult, DeadLetter, Decided, EngineStats, Late
from datatracing.pipeline.sampler._settings import SamplerSettings
from datatracing.pipeline.sampler.policies import CompiledPolicy, default_policy, load_policy_file

__all__ = [
    "AddResult",
    "CompiledPolicy",
    "DeadLetter",
    "Decided",
    "Decision",
    "DecisionCache",
    "EngineStats",
    "Late",
    "PartitionEngine",
    "SamplerSettings",
    "decode_decision",
    "default_policy",
    "encode_decision",
    "load_policy_file",
]
