"""The sampler worker's Faust app: spans topic → `SamplerRunner` → sampled-spans and decisions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from faust.contrib.asgi import serve_asgi

from datatracing.pipeline.broker import make_producer
from datatracing.pipeline.config import Settings
from datatracing.pipeline.runtime._faust import make_faust_app, raw_topic
from datatracing.pipeline.sampler._agent import SamplerRunner
from datatracing.pipeline.sampler._metrics import metrics_app
from datatracing.pipeline.sampler._settings import SamplerSettings
from datatracing.pipeline.sampler.policies import CompiledPolicy, default_policy, load_policy_file

log = logging.getLogger(__name__)

SAMPLER_APP_ID = "datatracing-sampler"
TAKE_MAX = 500
TAKE_WITHIN_S = 0.05
TICK_S = 0.1


def load_policy(settings: Settings) -> CompiledPolicy:
    """The configured policy file, or keep-everything; an invalid file raises `PolicyConfigError`."""
    if settings.policy_file is None:
        return default_policy()
    return load_policy_file(settings.policy_file)


def build_sampler_app(
    settings: Settings, *, sampler: SamplerSettings | None = None, with_web: bool = True
) -> faust.App:
    """Build the app; the caller runs it with a `faust.Worker`."""
    policy = load_policy(settings)
    app = make_faust_app(settings, SAMPLER_APP_ID, web_port=settings.worker.web_port)
    producer = make_producer(settings.kafka.bootstrap_servers, settings.kafka.producer)
    runner = SamplerRunner(settings, policy, sampler or settings.sampler, producer)
    spans = raw_topic(app, settings.topics.spans)

    async def sample(stream: Any) -> None:
        runner.stream = stream
        runner.consumer = app.consumer
        async for events in stream.noack_take(TAKE_MAX, within=TAKE_WITHIN_S):
            await runner.handle(events)

    app.agent(spans, name="datatracing.sampler")(sample)

    async def tick() -> None:
        await runner.tick()

    app.timer(TICK_S)(tick)

    async def on_revoked(_sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked = args[0] if args else kwargs.get("revoked", ())
        runner.revoke(tp.partition for tp in revoked if tp.topic == settings.topics.spans)

    app.on_partitions_revoked.connect(on_revoked)

    async def on_assigned(_sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        assigned = args[0] if args else kwargs.get("assigned", ())
        await runner.assign(tp.partition for tp in assigned if tp.topic == settings.topics.spans)

    app.on_partitions_assigned.connect(on_assigned)

    async def on_shutdown(_sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # The consumer has stopped and committed only acked work; deliver what is in flight so the
        # next owner finds fewer decisions to redo.
        await asyncio.to_thread(runner.deliveries.flush, 10)

    app.on_before_shutdown.connect(on_shutdown)
    if with_web:
        serve_asgi(
            app,
            metrics_app(runner),
            host="127.0.0.1",
            port=settings.worker.web_port,
            log_level="warning",
            interface="asgi3",
            lifespan="off",
        )
    app.datatracing_runner = runner  # type: ignore[attr-defined]  # for tests and benchmarks
    return app
