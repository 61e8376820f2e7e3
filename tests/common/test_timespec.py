"""TIME on the command line: ISO 8601 or a duration back from now."""

from __future__ import annotations

import pytest

from auditstream.common.timespec import TimeSpecError, format_time, parse_time

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("text", "back"), [("90s", 90), ("15m", 900), ("2h", 7200),
                                            ("7d", 7 * 86400), ("2w", 14 * 86400),
                                            ("1.5h", 5400), (" 2H ", 7200)])
def test_a_duration_is_that_long_before_now(text: str, back: float) -> None:
    assert parse_time(text, NOW) == NOW - back


def test_iso_8601_with_z_is_utc() -> None:
    assert parse_time("2027-01-15T08:00:00Z", 0.0) == 1_800_000_000.0


def test_iso_8601_without_a_zone_is_utc_and_a_zone_is_honoured() -> None:
    utc = parse_time("2026-12-04T10:00:00", NOW)
    assert utc == parse_time("2026-12-04T10:00:00Z", NOW)
    assert parse_time("2026-12-04T11:00:00+01:00", NOW) == utc
    assert parse_time("2026-12-04", NOW) == utc - 10 * 3600


def test_format_time_reads_back() -> None:
    assert parse_time(format_time(NOW), 0.0) == NOW


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-2h", "", "12"])
def test_anything_else_is_refused_with_what_is_expected(text: str) -> None:
    with pytest.raises(TimeSpecError, match=r"ISO 8601 .* or a duration"):
        parse_time(text, NOW)
