"""The public names of each package are deliberate: adding or removing one must be a visible change.

Every public module of both distributions that declares `__all__` is pinned below, as a literal list
of names. A failure here means a public name appeared or went away: if that is the decision, update
the list in the same change, so the review sees it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Distribution `datatracing-sdk`.
SDK_SURFACE: dict[str, str] = {
    "datatracing.errors": "DataTracingError InvalidDataError TransientError UsageError",
    "datatracing.model": (
        "INVALID_SPAN_ID INVALID_TRACE_ID AttributeValue Attributes InstrumentationScope Resource Span "
        "SpanEvent SpanId SpanKind SpanLink Status StatusCode Trace TraceId"
    ),
    "datatracing.sdk": (
        "ALWAYS_OFF ALWAYS_ON INVALID_SPAN INVALID_SPAN_CONTEXT BaggagePropagator BatchSpanProcessor "
        "CompositePropagator ConsoleSpanExporter Context CurrentSpan ExportResult Getter "
        "InMemorySpanExporter JsonlFileSpanExporter KafkaSpanExporter Link NonRecordingSpan "
        "OtlpHttpSpanExporter ParentBasedSampler ReadableSpan Sampler Setter SimpleSpanProcessor Span "
        "SpanContext SpanExporter SpanKind SpanLimits SpanProcessor StatusCode TextMapPropagator "
        "TraceContextPropagator TraceIdRatioSampler Tracer TracerProvider asgi_getter asgi_setter attach "
        "build_resource clear_baggage detach dict_getter dict_setter encode_otlp_spans extract "
        "get_all_baggage get_baggage get_current_context get_current_span get_global_propagator get_tracer "
        "get_tracer_provider get_value headers_getter headers_setter inject is_instrumentation_suppressed "
        "kafka_getter kafka_setter remove_baggage set_baggage set_global_propagator set_span_in_context "
        "set_tracer_provider set_value suppress_instrumentation use_span wsgi_getter"
    ),
    "datatracing.sdk.exporters": (
        "ConsoleSpanExporter InMemorySpanExporter JsonlFileSpanExporter KafkaSpanExporter "
        "OtlpHttpSpanExporter"
    ),
    "datatracing.sdk.instrumentation": (
        "TraceContextHeaderPropagator TracedConsumer TracedFunction TracedProducer WorkflowTracer asgi "
        "cadence kafka wsgi"
    ),
    "datatracing.sdk.instrumentation.asgi": "ASGIApp Receive Scope Send TracingMiddleware",
    "datatracing.sdk.instrumentation.cadence": (
        "ContextPropagator Header HeaderCarrier TraceContextHeaderPropagator TracedFunction WorkflowTracer"
    ),
    "datatracing.sdk.instrumentation.kafka": "KafkaMessage TracedConsumer TracedProducer",
    "datatracing.sdk.instrumentation.wsgi": "TracingMiddleware",
    "datatracing.sdk.otel": "DataTracingKafkaSpanExporter otel_span_to_model",
    "datatracing.sdk.semconv": (
        "CLIENT_ADDRESS CLIENT_PORT ERROR_TYPE HTTP_REQUEST_METHOD HTTP_RESPONSE_STATUS_CODE HTTP_ROUTE "
        "MESSAGING_BATCH_MESSAGE_COUNT MESSAGING_CONSUMER_GROUP_NAME MESSAGING_DESTINATION_NAME "
        "MESSAGING_DESTINATION_PARTITION_ID MESSAGING_KAFKA_MESSAGE_KEY MESSAGING_KAFKA_OFFSET "
        "MESSAGING_MESSAGE_BODY_SIZE MESSAGING_OPERATION_NAME MESSAGING_OPERATION_TYPE MESSAGING_SYSTEM "
        "NETWORK_PROTOCOL_VERSION PIPELINE_BYTES_IN PIPELINE_BYTES_OUT PIPELINE_DATASET_NAME "
        "PIPELINE_DATASET_NAMESPACE PIPELINE_JOB PIPELINE_LAG_MS PIPELINE_RECORDS_IN PIPELINE_RECORDS_OUT "
        "PIPELINE_RUN_ID PIPELINE_STAGE SERVER_ADDRESS SERVER_PORT URL_PATH URL_QUERY URL_SCHEME "
        "USER_AGENT_ORIGINAL WORKFLOW_ACTIVITY_ID WORKFLOW_ACTIVITY_NAME WORKFLOW_DOMAIN WORKFLOW_ID "
        "WORKFLOW_NAME WORKFLOW_RUN_ID WORKFLOW_SYSTEM lag_ms pipeline_attributes"
    ),
    "datatracing.wire": (
        "CONTENT_TYPE_HEADER CONTENT_TYPE_MODEL_JSON CONTENT_TYPE_OTLP_JSON CONTENT_TYPE_OTLP_PROTO "
        "MAX_START_TIME_NS PARTITIONER SPAN_ID_BYTES TRACE_ID_BYTES EventFields JsonRequest LinkFields "
        "RejectReason RejectedJson RejectedSpan Split TracePart all_spans_valid any_value attributes "
        "decode_spans encode_request encode_resource encode_scope encode_span encode_spans "
        "invalid_span_reason murmur2 otlp_json_to_request parse_model_json parse_otlp_json parse_request "
        "partition_for request_to_otlp_json request_to_spans resource_from_pb scope_from_pb span_from_pb "
        "spans_to_request split_request trace_key"
    ),
}

# Distribution `datatracing-pipeline`.
PIPELINE_SURFACE: dict[str, str] = {
    "datatracing.pipeline.bench": "SUITES check_kafka_option run_suite",
    "datatracing.pipeline.broker": (
        "DEAD_LETTER_PREFIX_BYTES HEADER_ERROR HEADER_ERROR_CLASS HEADER_PAYLOAD_BYTES "
        "HEADER_PAYLOAD_TRUNCATED HEADER_SOURCE_OFFSET HEADER_SOURCE_PARTITION HEADER_SOURCE_TOPIC "
        "HEADER_STAGE EmbeddedBroker Headers KafkaHeaders SourceRef admin_config bounded_payload "
        "check_topic_sizes client_config consumer_config dead_letter_headers dead_letter_key "
        "ensure_pipeline_topics ensure_topics faust_credentials free_port kafka_consumer_config "
        "kafka_producer kafka_producer_config librdkafka_security make_faust_app make_producer make_reader "
        "parse_dead_letter_key producer_config raw_topic read_source reader_config source_headers "
        "ssl_context tansu_binary topic_specs wait_for_port"
    ),
    "datatracing.pipeline.cli": "app main",
    "datatracing.pipeline.config": (
        "DEFAULT_MAX_MESSAGE_BYTES DEFAULT_TENANT KEY_DIGEST_PREFIX RECORD_OVERHEAD_BYTES AuthSettings "
        "IngestSettings KafkaSecuritySettings KafkaSettings QuerySettings SamplerSettings Settings "
        "SinkSettings StoreSettings TopicSettings WorkerSettings check_size_contract key_digest_entry "
        "load_settings wire_max_bytes"
    ),
    "datatracing.pipeline.errors": (
        "BrokerUnavailableError ConfigError PipelineError PolicyConfigError StoreError StoreRejectedError "
        "StoreUnavailableError"
    ),
    "datatracing.pipeline.http_auth": (
        "OPEN_PATHS ApiKey AuthMiddleware Authenticator Principal hash_key keys_file_line load_keys_file "
        "presented_key unauthorized_response"
    ),
    "datatracing.pipeline.http_errors": "ApiError envelope install_error_handlers",
    "datatracing.pipeline.http_health": (
        "READINESS_TTL_S ReadinessProbe healthz_response metadata_check worker_http_app"
    ),
    "datatracing.pipeline.ingest": (
        "ApiKeyCheck BrokerSaturatedError ClientStats IngestSettings IngestStats ProducerPort "
        "UnauthorizedError create_ingest_app ingest_producer_config ingest_server_config "
        "make_ingest_producer rpc_status_class run_ingest"
    ),
    "datatracing.pipeline.query": (
        "ApiError GraphLink GraphNode PathSegment ServiceEdge ServiceGraph ServiceNode ServiceSummary "
        "TraceGraph create_app graph_router jaeger_router linked_trace_ids tempo_router trace_graph "
        "ui_router v1_document v1_document_text"
    ),
    "datatracing.pipeline.runtime": (
        "BrokerMemoryWatch HEAP_TRIM HeapCollector Stack StackState heap_bytes meminfo_bytes "
        "memory_limit_bytes proc_rss_anon_bytes proc_rss_bytes read_state state_path trim_heap "
        "use_malloc_for_arrow wait_healthy"
    ),
    "datatracing.pipeline.sampler": (
        "AddResult CompiledPolicy DeadLetter Decided Decision DecisionCache EngineStats Late "
        "PartitionEngine ReplayReport SamplerSettings decode_decision default_policy encode_decision "
        "load_policy_file replay"
    ),
    "datatracing.pipeline.sampler.policies": (
        "DEFAULT_POLICY_NAME NO_MATCH AttrValues CompiledPolicy Condition Evaluator Facts Needs "
        "PolicyEvaluator PolicyFile SpanGroup TopLevelPolicy TraceView Verdict build_condition "
        "default_policy hash_keeps load_policy load_policy_file needs_of policy_version trace_hash"
    ),
    "datatracing.pipeline.sink": (
        "DurationHistogram FaultCounters FaultInjectingStore SinkCollector SinkConsumerLoop SinkMessage "
        "SinkStats SinkWriter batch_token install_sink_agent sink_metrics_app sink_metrics_text"
    ),
    "datatracing.pipeline.store": (
        "ClickHouseTraceStore DependencyEdge EngineMemoryCollector MigrationStatus Operation SampledTrace "
        "SpanBatch SqlColumn SqlLimitError SqlReadOnlyError SqlReader SqlResult StoreQueryError "
        "StoreSchemaError TracePage TraceQuery TraceSampling TraceStore TraceSummary check_read_statement "
        "cluster_statements engine_memory_bytes open_store"
    ),
    "datatracing.pipeline.store.write": "OtlpStage SpanBatch",
}

SURFACE = {**SDK_SURFACE, **PIPELINE_SURFACE}


def _modules_declaring_all(src: Path) -> list[str]:
    """Public modules (no `_private` part) under `src` whose source assigns `__all__`, found statically."""
    found = []
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if any(part.startswith("_") and part != "__init__" for part in parts):
            continue
        tree = ast.parse(path.read_text(), str(path))
        targets = [t for n in tree.body if isinstance(n, ast.Assign) for t in n.targets]
        targets += [n.target for n in tree.body if isinstance(n, ast.AnnAssign)]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            found.append(".".join(parts).removesuffix(".__init__"))
    return found


@pytest.mark.parametrize(("src", "pinned"), [("sdk/src", SDK_SURFACE), ("pipeline/src", PIPELINE_SURFACE)])
def test_public_surface_every_module_with_all_is_pinned(src: str, pinned: dict[str, str]) -> None:
    assert sorted(_modules_declaring_all(ROOT / src)) == sorted(pinned)


@pytest.mark.parametrize("name", sorted(SURFACE))
def test_public_surface_all_matches_pinned_names(name: str) -> None:
    module = importlib.import_module(name)
    names = list(module.__all__)
    # Order is ruff's job (RUF022); here: the set of names, each once, each importable.
    assert len(names) == len(set(names)), f"{name}.__all__ repeats a name"
    assert sorted(names) == sorted(SURFACE[name].split())
    assert [n for n in names if not hasattr(module, n)] == []


def test_error_tree_sub_roots_share_one_root() -> None:
    from datatracing.errors import DataTracingError, InvalidDataError, TransientError, UsageError
    from datatracing.pipeline import errors

    for cls in (InvalidDataError, TransientError, UsageError):
        assert issubclass(cls, DataTracingError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), DataTracingError)
