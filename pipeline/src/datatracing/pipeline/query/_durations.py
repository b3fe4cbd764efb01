"""Go duration strings (`1.5ms`, `100us`, `2h45m`) and RFC 3339 times, as Jaeger's parameters carry them.

The grammar is Go's `time.ParseDuration`: an optional sign, then one or more `<decimal><unit>` parts
with units `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`; a lone `0` needs no unit. Fractions are
computed exactly in integer nanoseconds (truncated below 1 ns) and the total must fit in int64, as in Go.

RFC 3339 times (`2026-12-06T20:00:00.123456789Z`, `...+02:00`) are read to the nanosecond, which
`datetime.fromisoformat` cannot do.

Example:
    >>> parse_go_duration("1.2ms")
    1200000
    >>> parse_go_duration("1h2m3s")
    3723000000000
"""

from __future__ import annotations

import calendar
import re

__all__ = ["parse_go_duration", "parse_rfc3339_ns"]

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_INT64_MAX = 2**63 - 1


def parse_go_duration(text: str) -> int:
    """Nanoseconds in `text`; raises `ValueError` naming the problem when Go would reject it."""
    rest = text
    sign = 1
    if rest[:1] in ("-", "+"):
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total = 0
    while rest:
        match = _PART.match(rest)
        if match is None or not match.group(0):  # pragma: no cover - the pattern always matches
            raise ValueError(f"invalid duration {text!r}")
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            raise ValueError(f"invalid duration {text!r}")
        if not unit:
            raise ValueError(f"missing unit in duration {text!r}")
        scale = _UNITS_NS.get(unit)
        if scale is None:
            raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        if total > _INT64_MAX + (1 if sign < 0 else 0):
            raise ValueError(f"invalid duration {text!r}: out of range")
        rest = rest[match.end() :]
    return sign * total


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time; raises `ValueError` when it is not one."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"{text[:64]!r} is not an RFC 3339 time like 2026-01-02T15:04:05.999999999Z")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        raise ValueError(f"{text[:64]!r} has no such date")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{text[:64]!r} has no such time of day")
    frac = match.group(7) or ""
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match.group(9):
        offset = int(match.group(10)) * 3600 + int(match.group(11)) * 60
        if int(match.group(10)) > 23 or int(match.group(11)) > 59:
            raise ValueError(f"{text[:64]!r} has an impossible UTC offset")
        seconds -= offset if match.group(9) == "+" else -offset
    return seconds * 1_000_000_000 + int(frac.ljust(9, "0") or "0")
