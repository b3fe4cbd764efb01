"""What a sampling decision stamps on the spans it keeps, carried in Kafka headers.

The sampler forwards kept messages to `sampled-spans` with their original bytes untouched and the
decision in headers; the sink reads the headers into the audit columns of every row, so analysts can
re-weight counts by `sample_rate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from datatracing.pipeline.config import DEFAULT_TENANT

if TYPE_CHECKING:  # types only: the store imports this module and needs no Kafka client
    from datatracing.pipeline.broker import Headers, KafkaHeaders

HEADER_POLICY = "dt-policy"
HEADER_POLICY_VERSION = "dt-policy-version"
HEADER_SAMPLE_RATE = "dt-sample-rate"
HEADER_TENANT = "dt-tenant"


@dataclass(frozen=True, slots=True)
class SamplingAudit:
    """Policy that kept a trace, the policy config's version (hash) and the rate it sampled at.

    `sample_rate` is "1 in N": 1.0 keeps everything, 10.0 kept one trace in ten.
    """

    policy: str = ""
    policy_version: str = ""
    sample_rate: float = 1.0
    tenant: str = DEFAULT_TENANT

    def to_headers(self) -> KafkaHeaders:
        return [
            (HEADER_POLICY, self.policy.encode()),
            (HEADER_POLICY_VERSION, self.policy_version.encode()),
            (HEADER_SAMPLE_RATE, repr(self.sample_rate).encode()),
            (HEADER_TENANT, self.tenant.encode()),
        ]

    @classmethod
    def from_headers(cls, headers: Headers | None) -> SamplingAudit:
        """Read the audit back; missing or unreadable headers fall back to the defaults."""
        values = {k: v for k, v in headers or () if v is not None}
        try:
            rate = float(values.get(HEADER_SAMPLE_RATE, b"1.0").decode())
        except (UnicodeDecodeError, ValueError):
            rate = 1.0
        return cls(
            policy=values.get(HEADER_POLICY, b"").decode(errors="replace"),
            policy_version=values.get(HEADER_POLICY_VERSION, b"").decode(errors="replace"),
            sample_rate=rate if rate > 0 else 1.0,
            tenant=values.get(HEADER_TENANT, DEFAULT_TENANT.encode()).decode(errors="replace")
            or DEFAULT_TENANT,
        )
