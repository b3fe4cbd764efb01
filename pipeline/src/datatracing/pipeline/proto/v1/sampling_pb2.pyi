# mypy: disable-error-code="type-arg"
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SamplingDecision(_message.Message):
    __slots__ = ("trace_id", "keep", "policy", "policy_version", "sample_rate", "decided_at_unix_nano", "span_count", "tenant", "reason")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    trace_id: bytes
    keep: bool
    policy: str
    policy_version: str
    sample_rate: float
    decided_at_unix_nano: int
    span_count: int
    tenant: str
    reason: str
    def __init__(self, trace_id: _Optional[bytes] = ..., keep: _Optional[bool] = ..., policy: _Optional[str] = ..., policy_version: _Optional[str] = ..., sample_rate: _Optional[float] = ..., decided_at_unix_nano: _Optional[int] = ..., span_count: _Optional[int] = ..., tenant: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
