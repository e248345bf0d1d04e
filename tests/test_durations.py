from fractions import Fraction

import pytest

from generator.base.durations import (
    Duration,
    format_clock,
    format_clock_ms,
    format_seconds,
    parse_duration,
    parse_seconds,
)


@pytest.mark.parametrize(
    ("text", "seconds", "breaths"),
    [
        ("5s", 5, 0),
        ("1.5s", Fraction(3, 2), 0),
        ("2m", 120, 0),
        ("1m30s", 90, 0),
        ("1h", 3600, 0),
        ("1h2m3s", 3723, 0),
        (" 4S ", 4, 0),
        ("3 breaths", 0, 3),
        ("1 breath", 0, 1),
        ("2.5breaths", 0, Fraction(5, 2)),
    ],
)
def test_parses_every_documented_form(text: str, seconds: Fraction, breaths: Fraction) -> None:
    assert parse_duration(text) == Duration(Fraction(seconds), Fraction(breaths))


@pytest.mark.parametrize(
    "text", ["", "5", "s", "-5s", "5x", "1s30m", "five seconds", "nan", "inf", "13h"]
)
def test_rejects_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|long"):
        parse_duration(text)


def test_breaths_resolve_with_the_breath_length() -> None:
    assert Duration(Fraction(2), Fraction(3)).resolve(Fraction(10)) == 32


def test_clock_time_settings_refuse_breaths() -> None:
    assert parse_seconds("8s") == 8
    with pytest.raises(ValueError, match="clock time"):
        parse_seconds("3 breaths")


def test_formats() -> None:
    assert format_seconds(Fraction(90)) == "1m30s"
    assert format_seconds(Fraction(3, 2)) == "1.5s"
    assert format_seconds(Fraction(120)) == "2m"
    assert format_clock(61.4) == "01:01"
    assert format_clock(3725) == "1:02:05"
    assert str(Duration(breaths=Fraction(1))) == "1 breath"


def test_clock_with_milliseconds() -> None:
    assert format_clock_ms(Fraction(1, 1000)) == "00:00.001"
    assert format_clock_ms(Fraction(3601) + Fraction(1, 2)) == "1:00:01.500"
    assert format_clock_ms(2.5, always_hours=True) == "00:00:02.500"  # WebVTT's form
