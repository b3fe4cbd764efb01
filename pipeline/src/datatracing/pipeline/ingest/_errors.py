"""Exceptions of the ingest gateway, in the pipeline's tree (sub-roots say what the caller does)."""

from __future__ import annotations

from datatracing.errors import UsageError
from datatracing.pipeline.errors import BrokerUnavailableError, PipelineError

__all__ = ["BrokerSaturatedError", "UnauthorizedError"]


class UnauthorizedError(PipelineError, UsageError):
    """Raised by an API-key check to refuse a request: the gateway answers 401 with this message.

    Example:
        >>> def check(request):  # doctest: +SKIP
        ...     if request.headers.get("x-api-key") != "secret":
        ...         raise UnauthorizedError("missing or wrong x-api-key")
    """


class BrokerSaturatedError(BrokerUnavailableError):
    """The producer's queue is full or deliveries keep failing: the gateway answers 503."""
