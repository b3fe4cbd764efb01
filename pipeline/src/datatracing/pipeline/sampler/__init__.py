"""The tail sampler: assemble spans by trace id, decide when complete, keep or drop by policy.

`PartitionEngine` is the pure, deterministic core (one per partition, driven by offsets and a clock);
`policies` holds the policy language; `replay` runs a candidate policy over recorded traffic. The
Faust worker that drives the engines is the public module `worker` (with `_agent` and `_loop`), not
re-exported here: only the worker process imports it, so importing this package does not load Faust.
"""

from __future__ import annotations

from datatracing.pipeline.config import SamplerSettings
from datatracing.pipeline.sampler._decisions import Decision, DecisionCache, decode_decision, encode_decision
from datatracing.pipeline.sampler._engine import PartitionEngine
from datatracing.pipeline.sampler._replay import ReplayReport, replay
from datatracing.pipeline.sampler._results import AddResult, DeadLetter, Decided, EngineStats, Late
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
    "ReplayReport",
    "SamplerSettings",
    "decode_decision",
    "default_policy",
    "encode_decision",
    "load_policy_file",
    "replay",
]
