"""What every settings section shares: frozen, unknown fields refused; durations in nanoseconds."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_MIB = 1024 * 1024
_NS_PER_S = 1_000_000_000

#: Tenant recorded on a sampling decision when a message carries no `dt-tenant` header (see `audit`).
DEFAULT_TENANT = "default"


def _ns(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * _NS_PER_S + value.microseconds * 1_000
