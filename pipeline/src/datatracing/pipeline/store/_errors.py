"""Translate chdb and clickhouse-connect failures into the pipeline's exception tree.

What the caller should do decides the class: retry (`StoreUnavailableError`), dead-letter the rows
(`StoreRejectedError`), or fix the code or schema (`StoreQueryError`). ClickHouse error codes carry
that meaning, so both backends map through the same code tables.
"""

from __future__ import annotations

import re

from datatracing.errors import UsageError
from datatracing.pipeline.errors import StoreError, StoreRejectedError, StoreUnavailableError, redact_url

__all__ = ["StoreQueryError", "StoreSchemaError", "translate"]


class StoreQueryError(StoreError, UsageError):
    """The statement is wrong for this server or schema (syntax, unknown table or column)."""


class StoreSchemaError(StoreError, UsageError):
    """The store's migrations are half-applied or were edited after being applied."""


# Server overloaded, unreachable, or a resource limit that clears with time: retry with backoff.
UNAVAILABLE_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY (replica in read-only mode while Keeper is away)
        173,  # CANNOT_ALLOCATE_MEMORY
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        243,  # NOT_ENOUGH_SPACE
        252,  # TOO_MANY_PARTS
        279,  # ALL_CONNECTION_TRIES_FAILED
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        439,  # CANNOT_SCHEDULE_TASK
        473,  # DEADLOCK_AVOIDED
        999,  # KEEPER_EXCEPTION
    }
)

# The rows themselves cannot be stored: never retry them.
REJECTED_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        32,  # ATTEMPT_TO_READ_AFTER_EOF
        33,  # CANNOT_READ_ALL_DATA
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        395,  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
        407,  # DECIMAL_OVERFLOW
        1001,  # STD_EXCEPTION (Arrow conversion failures surface here)
    }
)

_CODE = re.compile(r"\bCode:\s*(\d+)")
# Messages without a code: the engine was never reached, or an Arrow/IO layer failed.
_UNAVAILABLE_TEXT = re.compile(
    r"connection refused|timed out|timeout|name or service not known|network is unreachable|"
    r"broken pipe|connection reset|failed to create connection",
    re.IGNORECASE,
)


def error_code(message: str) -> int | None:
    """The ClickHouse error code in `message` (`Code: 60. DB::Exception: ...`), if any."""
    match = _CODE.search(message)
    return int(match.group(1)) if match else None


def classify(code: int | None, message: str) -> type[StoreError]:
    """Pick the store exception class for a ClickHouse error code (and message as a fallback)."""
    if code in UNAVAILABLE_CODES:
        return StoreUnavailableError
    if code in REJECTED_CODES:
        return StoreRejectedError
    if code is None and _UNAVAILABLE_TEXT.search(message):
        return StoreUnavailableError
    return StoreQueryError


def translate(exc: BaseException, what: str) -> StoreError:
    """Map a foreign exception raised while doing `what` to a store exception (raise it `from exc`)."""
    if isinstance(exc, StoreError):
        return exc
    message = str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    if not isinstance(code, int):
        code = error_code(message)
    cls = _classify_foreign(exc, code, message)
    # A driver's message may quote the URL it called: never with a password.
    return cls(redact_url(f"{what} failed: {_shorten(message)}"))


def _classify_foreign(exc: BaseException, code: int | None, message: str) -> type[StoreError]:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return StoreUnavailableError
    try:
        from clickhouse_connect.driver import exceptions as cc
    except ImportError:  # pragma: no cover - clickhouse-connect is a dependency
        return classify(code, message)
    if code is None:
        if isinstance(exc, (cc.OperationalError, cc.InterfaceError)):
            return StoreUnavailableError
        if isinstance(exc, cc.DataError):
            return StoreRejectedError
    return classify(code, message)


def _shorten(message: str, limit: int = 2000) -> str:
    message = message.strip()
    return message if len(message) <= limit else message[:limit] + "..."
