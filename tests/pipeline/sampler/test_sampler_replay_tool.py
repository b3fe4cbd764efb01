"""`datatracing sampler replay`: a candidate policy over the retained spans, against recorded decisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from datatracing.pipeline.audit import SamplingAudit
from datatracing.pipeline.bench._engine import BENCH_POLICY
from datatracing.pipeline.broker import make_producer
from datatracing.pipeline.config import KafkaSettings, Settings, TopicSettings
from datatracing.pipeline.sampler import Decision, encode_decision
from datatracing.pipeline.sampler._replay import replay
from datatracing.pipeline.sampler.policies import load_policy
from datatracing.wire import trace_key
from tests.pipeline.sampler.worker_support import Workload


def _record(bootstrap: str, topics: TopicSettings, workload: Workload) -> None:
    workload.produce(bootstrap, topics.spans)
    producer = make_producer(bootstrap)
    for trace_id, keep in workload.expected_keep.items():
        decision = Decision(trace_id, keep, SamplingAudit(policy="recorded" if keep else "(none)"), 1)
        producer.produce(topics.decisions, key=trace_key(trace_id), value=encode_decision(decision))
    assert producer.flush(30) == 0


def test_replay_same_policy_no_difference_keep_all_keeps_the_drops(
    kafka_bootstrap: str, pipeline_topics: TopicSettings
) -> None:
    workload = Workload.build(traces=150, seed=21)
    _record(kafka_bootstrap, pipeline_topics, workload)
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap), topics=pipeline_topics)
    kept = sum(workload.expected_keep.values())

    same = replay(settings, load_policy(BENCH_POLICY, "<same>")).as_dict()
    assert same["traces"] == 150
    assert same["unrecorded_traces"] == 0
    assert (same["newly_kept"], same["newly_dropped"]) == (0, 0)
    assert same["recorded_keep_rate"] == same["candidate_keep_rate"] == round(kept / 150, 4)

    everything = replay(settings, load_policy({"policies": [{"name": "all", "type": "always"}]})).as_dict()
    assert everything["candidate_keep_rate"] == 1.0
    assert everything["newly_kept"] == 150 - kept
    assert everything["candidate_hits"] == {"all": 150}
    assert everything["candidate_kept_bytes"] > everything["recorded_kept_bytes"]


def test_replay_cli_json_and_bad_policy_exit_2(
    kafka_bootstrap: str, pipeline_topics: TopicSettings, tmp_path: Path
) -> None:
    workload = Workload.build(traces=30, seed=22)
    _record(kafka_bootstrap, pipeline_topics, workload)
    config = tmp_path / "settings.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kafka": {"bootstrap_servers": kafka_bootstrap},
                "topics": pipeline_topics.model_dump(),
                "data_dir": str(tmp_path),
            }
        )
    )
    policy = tmp_path / "candidate.json"
    policy.write_text(json.dumps(BENCH_POLICY))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATATRACING_")}
    cli = [sys.executable, "-m", "datatracing.pipeline.cli", "sampler", "replay", "--config", str(config)]
    ok = subprocess.run(
        [*cli, "--policy", str(policy), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1])["traces"] == 30

    policy.write_text(json.dumps({"policies": [{"name": "x", "type": "latency", "upper_ms": 0}]}))
    bad = subprocess.run(
        [*cli, "--policy", str(policy)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert bad.returncode == 2
    assert "policies[0].latency.upper_ms" in bad.stderr
