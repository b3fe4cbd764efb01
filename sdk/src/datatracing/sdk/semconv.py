"""Semantic conventions: the attribute keys DataTracing's instrumentation writes, and small helpers.

Three families:

- **Data pipelines** (DataTracing's own, `pipeline.*`): which job, run and stage a span belongs to, the
  dataset it reads or writes, how many records and bytes went in and out, and how far behind the data
  it processes is. The query API and the sampler's attribute policies can filter on them, so a team
  that names its jobs and stages the same way everywhere can follow one run across services.
- **HTTP** (OpenTelemetry's stable HTTP conventions), written by the ASGI and WSGI middleware.
- **Messaging** (OpenTelemetry's messaging conventions for Kafka), written by the Kafka wrappers, and
  **workflow** keys written by the Cadence/Temporal-style wrappers.

Example:
    >>> pipeline_attributes(job="nightly-orders", stage="load", records_out=120)
    {'pipeline.job': 'nightly-orders', 'pipeline.stage': 'load', 'pipeline.records.out': 120}
"""

from __future__ import annotations

import time

__all__ = [
    "CLIENT_ADDRESS",
    "CLIENT_PORT",
    "ERROR_TYPE",
    "HTTP_REQUEST_METHOD",
    "HTTP_RESPONSE_STATUS_CODE",
    "HTTP_ROUTE",
    "MESSAGING_BATCH_MESSAGE_COUNT",
    "MESSAGING_CONSUMER_GROUP_NAME",
    "MESSAGING_DESTINATION_NAME",
    "MESSAGING_DESTINATION_PARTITION_ID",
    "MESSAGING_KAFKA_MESSAGE_KEY",
    "MESSAGING_KAFKA_OFFSET",
    "MESSAGING_MESSAGE_BODY_SIZE",
    "MESSAGING_OPERATION_NAME",
    "MESSAGING_OPERATION_TYPE",
    "MESSAGING_SYSTEM",
    "NETWORK_PROTOCOL_VERSION",
    "PIPELINE_BYTES_IN",
    "PIPELINE_BYTES_OUT",
    "PIPELINE_DATASET_NAME",
    "PIPELINE_DATASET_NAMESPACE",
    "PIPELINE_JOB",
    "PIPELINE_LAG_MS",
    "PIPELINE_RECORDS_IN",
    "PIPELINE_RECORDS_OUT",
    "PIPELINE_RUN_ID",
    "PIPELINE_STAGE",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "URL_PATH",
    "URL_QUERY",
    "URL_SCHEME",
    "USER_AGENT_ORIGINAL",
    "WORKFLOW_ACTIVITY_ID",
    "WORKFLOW_ACTIVITY_NAME",
    "WORKFLOW_DOMAIN",
    "WORKFLOW_ID",
    "WORKFLOW_NAME",
    "WORKFLOW_RUN_ID",
    "WORKFLOW_SYSTEM",
    "lag_ms",
    "pipeline_attributes",
]

# --- data pipelines -----------------------------------------------------------------------------

#: Logical job name, stable across runs ("nightly-orders", "clickstream-enricher").
PIPELINE_JOB = "pipeline.job"
#: One execution of a job (a scheduler run id, a date partition, a uuid).
PIPELINE_RUN_ID = "pipeline.run.id"
#: Step within the job ("extract", "transform", "load", "enrich").
PIPELINE_STAGE = "pipeline.stage"
#: Dataset the span reads or writes: a table, topic or file set ("orders_daily").
PIPELINE_DATASET_NAME = "pipeline.dataset.name"
#: Where the dataset lives, OpenLineage-style ("postgres://warehouse", "kafka://events", "s3://lake").
PIPELINE_DATASET_NAMESPACE = "pipeline.dataset.namespace"
#: Records read by the span's work (int).
PIPELINE_RECORDS_IN = "pipeline.records.in"
#: Records written or emitted (int).
PIPELINE_RECORDS_OUT = "pipeline.records.out"
#: Bytes read (int).
PIPELINE_BYTES_IN = "pipeline.bytes.in"
#: Bytes written (int).
PIPELINE_BYTES_OUT = "pipeline.bytes.out"
#: How old the data was when processed, in milliseconds (event time to processing time; float).
PIPELINE_LAG_MS = "pipeline.lag.ms"

# --- HTTP (OpenTelemetry stable HTTP conventions) ------------------------------------------------

HTTP_REQUEST_METHOD = "http.request.method"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
#: The matched route template ("/orders/{order_id}"), low cardinality, unlike `url.path`.
HTTP_ROUTE = "http.route"
URL_PATH = "url.path"
URL_QUERY = "url.query"
URL_SCHEME = "url.scheme"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
USER_AGENT_ORIGINAL = "user_agent.original"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
#: Why an operation failed: the exception's qualified class name, or the HTTP status code as text.
ERROR_TYPE = "error.type"

# --- messaging (OpenTelemetry messaging conventions, Kafka) -------------------------------------

#: "kafka".
MESSAGING_SYSTEM = "messaging.system"
#: "create", "send", "receive", "process" or "settle".
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
#: The client's own name for the operation ("send", "poll", "consume", "process").
MESSAGING_OPERATION_NAME = "messaging.operation.name"
#: The topic.
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
#: The partition, as a string.
MESSAGING_DESTINATION_PARTITION_ID = "messaging.destination.partition.id"
MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name"
#: The message key, when it is text.
MESSAGING_KAFKA_MESSAGE_KEY = "messaging.kafka.message.key"
MESSAGING_KAFKA_OFFSET = "messaging.kafka.offset"
#: Messages in a batch operation; set only on batch spans.
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
MESSAGING_MESSAGE_BODY_SIZE = "messaging.message.body.size"

# --- workflows (Cadence / Temporal style; no stable OpenTelemetry convention yet) ---------------

#: "cadence" or "temporal".
WORKFLOW_SYSTEM = "workflow.system"
#: Cadence domain / Temporal namespace.
WORKFLOW_DOMAIN = "workflow.domain"
#: Workflow type name.
WORKFLOW_NAME = "workflow.name"
WORKFLOW_ID = "workflow.id"
WORKFLOW_RUN_ID = "workflow.run.id"
#: Activity type name.
WORKFLOW_ACTIVITY_NAME = "workflow.activity.name"
WORKFLOW_ACTIVITY_ID = "workflow.activity.id"


def pipeline_attributes(
    *,
    job: str | None = None,
    run_id: str | None = None,
    stage: str | None = None,
    dataset: str | None = None,
    dataset_namespace: str | None = None,
    records_in: int | None = None,
    records_out: int | None = None,
    bytes_in: int | None = None,
    bytes_out: int | None = None,
    lag_ms: float | None = None,
) -> dict[str, str | int | float]:
    """The `pipeline.*` attributes for the given values, leaving out those that are None.

    Pass the result as `attributes=` when starting a span, or to `span.set_attributes` once the counts
    are known.

    Example:
        >>> pipeline_attributes(run_id="2024-06-01", dataset="raw_orders", records_in=10)
        {'pipeline.run.id': '2024-06-01', 'pipeline.dataset.name': 'raw_orders', 'pipeline.records.in': 10}
    """
    pairs: tuple[tuple[str, str | int | float | None], ...] = (
        (PIPELINE_JOB, job),
        (PIPELINE_RUN_ID, run_id),
        (PIPELINE_STAGE, stage),
        (PIPELINE_DATASET_NAME, dataset),
        (PIPELINE_DATASET_NAMESPACE, dataset_namespace),
        (PIPELINE_RECORDS_IN, records_in),
        (PIPELINE_RECORDS_OUT, records_out),
        (PIPELINE_BYTES_IN, bytes_in),
        (PIPELINE_BYTES_OUT, bytes_out),
        (PIPELINE_LAG_MS, lag_ms),
    )
    return {key: value for key, value in pairs if value is not None}


def lag_ms(event_time_unix_nano: int, now_unix_nano: int | None = None) -> float:
    """Milliseconds from an event's time to now (or `now_unix_nano`), never negative.

    Clocks of producers and consumers drift; a negative lag means "no measurable lag", not an error.

    Example:
        >>> lag_ms(1_000_000_000, now_unix_nano=1_250_000_000)
        250.0
    """
    now = time.time_ns() if now_unix_nano is None else now_unix_nano
    return max(now - event_time_unix_nano, 0) / 1e6
