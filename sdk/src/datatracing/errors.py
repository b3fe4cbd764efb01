"""The exception tree shared by every DataTracing distribution.

Sub-roots say what the caller should do:

- `TransientError`: try again later (broker or store unavailable, timeouts).
- `InvalidDataError`: the data is bad; dead-letter it, never retry it.
- `UsageError`: the call or the configuration is wrong; fix it.

The SDK never raises these into a host service: its public entry points swallow and count failures.
They surface in the pipeline, in tools, and from explicit codec calls.
"""

from __future__ import annotations

__all__ = ["DataTracingError", "InvalidDataError", "TransientError", "UsageError"]


class DataTracingError(Exception):
    """Root of every exception DataTracing raises on purpose."""


class TransientError(DataTracingError):
    """A dependency is unavailable or slow; the same call may succeed later."""


class InvalidDataError(DataTracingError):
    """Input that can never be processed as it is (undecodable, invalid ids, end before start)."""


class UsageError(DataTracingError):
    """A wrong call or configuration: the caller must change something."""
