"""The sampler worker's Faust app: spans topic → `SpanConsumerLoop` → `SamplerRunner` → sampled-spans
and decisions.

A public module that `datatracing.pipeline.sampler` does not re-export: importing it loads Faust, which
only the worker process needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import faust
from faust.contrib.asgi import serve_asgi
from mode import Service
from prometheus_client.registry import Collector

from datatracing.pipeline.broker import kafka_consumer_config, kafka_producer, make_faust_app
from datatracing.pipeline.config import SamplerSettings, Settings
from datatracing.pipeline.sampler._loop import SpanConsumerLoop
from datatracing.pipeline.sampler._metrics import metrics_app
from datatracing.pipeline.sampler._runner import SamplerRunner
from datatracing.pipeline.sampler.policies import CompiledPolicy, default_policy, load_policy_file

log = logging.getLogger(__name__)

SAMPLER_APP_ID = "datatracing-sampler"


def load_policy(settings: Settings) -> CompiledPolicy:
    """The configured policy file, or keep-everything; an invalid file raises `PolicyConfigError`."""
    if settings.policy_file is None:
        return default_policy()
    return load_policy_file(settings.policy_file)


def build_sampler_app(
    settings: Settings,
    *,
    sampler: SamplerSettings | None = None,
    with_web: bool = True,
    collectors: Sequence[Collector] = (),
) -> faust.App:
    """Build the app; the caller runs it with a `faust.Worker`. `collectors` join the runner's
    metrics on `/metrics` (the process's own gauges, which the supervisor adds).

    The app is producer-only: Faust hosts the worker (lifecycle, signals, the metrics web server),
    while `SpanConsumerLoop` consumes the spans topic in batches on a thread of its own (see `_loop`
    for why not a Faust agent).
    """
    policy = load_policy(settings)
    app = make_faust_app(settings, SAMPLER_APP_ID, web_port=settings.worker.web_port)
    app.producer_only = True
    producer = kafka_producer(settings.kafka)
    stage = sampler or settings.sampler
    runner = SamplerRunner(settings, policy, stage, producer)
    config = kafka_consumer_config(settings.kafka, stage.group_id)

    def crashed(exc: BaseException) -> None:
        # Called on the loop's thread: stop the whole worker (non-zero exit) rather than idle.
        asyncio.run_coroutine_threadsafe(app.crash(exc), app.loop)

    loop = SpanConsumerLoop(runner, config, on_crash=crashed)

    class SamplerLoopService(Service):
        async def on_start(self) -> None:
            loop.start()

        async def on_stop(self) -> None:
            # Finish the batch, deliver in-flight output, commit and leave the group.
            await asyncio.to_thread(loop.stop)

    app.service(SamplerLoopService)
    if with_web:
        serve_asgi(
            app,
            metrics_app(runner, *collectors),
            host=settings.worker.host,
            port=settings.worker.web_port,
            log_level="warning",
            interface="asgi3",
            lifespan="off",
        )
    app.datatracing_runner = runner  # type: ignore[attr-defined]  # for tests and benchmarks
    app.datatracing_loop = loop  # type: ignore[attr-defined]
    return app
