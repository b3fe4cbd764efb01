"""Go duration strings and RFC 3339 times, as Jaeger's query parameters carry them."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatracing.pipeline.query._durations import parse_go_duration, parse_rfc3339_ns

_UNITS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("-0", 0),
        ("1.2ms", 1_200_000),
        ("100us", 100_000),
        ("100µs", 100_000),
        ("2s", 2 * 10**9),
        ("1h2m3.5s", 3_723_500_000_000),
        ("+5ns", 5),
        ("-1.5h", -5_400 * 10**9),
        ("1.s", 10**9),
        (".5s", 5 * 10**8),
        ("1.0000000001s", 10**9),
        ("9223372036854775807ns", 2**63 - 1),
    ],
)
def test_parse_go_duration_go_examples_exact(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    "text",
    ["", "-", "1", "ms", ".s", ".", "1.5.5s", "1d", "1 s", "1e3s", "9223372036854775808ns", "2562048h"],
)
def test_parse_go_duration_go_rejects_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_go_duration(text)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(sorted(_UNITS))), min_size=1, max_size=4))
def test_parse_go_duration_parts_add_up(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_go_duration(text) == sum(n * _UNITS[unit] for n, unit in parts)


@given(st.integers(0, 10**6), st.integers(0, 999_999_999), st.sampled_from(sorted(_UNITS)))
def test_parse_go_duration_fraction_truncates_to_nanoseconds(whole: int, frac: int, unit: str) -> None:
    digits = f"{frac:09d}"
    expected = whole * _UNITS[unit] + frac * _UNITS[unit] // 10**9
    assert parse_go_duration(f"{whole}.{digits}{unit}") == expected


@given(st.text(max_size=12))
def test_parse_go_duration_any_text_value_or_value_error(text: str) -> None:
    try:
        result = parse_go_duration(text)
    except ValueError:
        return
    assert -(2**63) <= result <= 2**63 - 1


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    st.integers(0, 999),
    st.integers(-23 * 60, 23 * 60),
)
def test_parse_rfc3339_ns_any_time_and_offset_exact(moment: datetime, nanos: int, offset_min: int) -> None:
    zone = timezone(timedelta(minutes=offset_min))
    local = moment.replace(tzinfo=UTC).astimezone(zone)
    sign = "+" if offset_min >= 0 else "-"
    suffix = f"{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + f".{local.microsecond:06d}{nanos:03d}" + suffix
    expected = calendar.timegm(moment.utctimetuple()) * 10**9 + moment.microsecond * 1000 + nanos
    assert parse_rfc3339_ns(text) == expected


def test_parse_rfc3339_ns_zulu_without_fraction() -> None:
    assert parse_rfc3339_ns("2026-01-02T03:04:05Z") == calendar.timegm((2026, 1, 2, 3, 4, 5, 0, 0, 0)) * 10**9


@pytest.mark.parametrize(
    "text", ["", "2026-01-02", "2026-01-02T03:04:05", "2026-02-30T00:00:00Z", "2026-01-02T24:00:00Z", "x"]
)
def test_parse_rfc3339_ns_not_a_time_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|no such"):
        parse_rfc3339_ns(text)
