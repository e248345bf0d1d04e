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
        ("8 breaths", 0, 8),
        # as people write them
        ("5 seconds", 5, 0),
        ("1 second", 1, 0),
        ("1 minute", 60, 0),
        ("2 minutes", 120, 0),
        ("90 sec", 90, 0),
        ("90 secs", 90, 0),
        ("1.5 min", 90, 0),
        ("1.5 mins", 90, 0),
        ("2 hours", 7200, 0),
        ("1 hour", 3600, 0),
        ("1 hr", 3600, 0),
        ("2 hrs", 7200, 0),
        ("5 Seconds", 5, 0),
        ("1 min 30 sec", 90, 0),
        ("1 hour 2 minutes 3 seconds", 3723, 0),
        ("1m 30s", 90, 0),
        ("0.001 seconds", Fraction(1, 1000), 0),  # exact: no float in between
        ("2.25 minutes", 135, 0),
    ],
)
def test_parses_every_documented_form(text: str, seconds: Fraction, breaths: Fraction) -> None:
    assert parse_duration(text) == Duration(Fraction(seconds), Fraction(breaths))


@pytest.mark.parametrize(
    "text",
    [
        *("", "5", "s", "-5s", "5x", "1s30m", "five seconds", "nan", "inf", "13h", "1h30", "1m2m"),
        *("5 secnds", "5ms", "5 m s", "1.5.5 min", ".5 min", "5 seconds.", "5 sec 1 min"),
        *("1 minute 3 breaths", "3 breaths 2s", "5 mins!", "5e3 seconds", "5 minutes ago"),
    ],
)
def test_rejects_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|long"):
        parse_duration(text)


def test_a_misspelt_unit_says_what_is_accepted_and_the_nearest_form() -> None:
    with pytest.raises(ValueError, match="not a duration") as caught:
        parse_duration("5 secnds")
    assert str(caught.value) == (
        "'5 secnds' is not a duration (did you mean '5 seconds'? use 5s, 5 seconds, 90 sec, "
        "1.5 min, 2 minutes, 1m30s, 1h, 2 hours or 3 breaths)"
    )
    with pytest.raises(ValueError, match=r"did you mean '2 minutes'\?"):
        parse_duration("2 minuts")
    with pytest.raises(ValueError, match=r"did you mean '4 breaths'\?"):
        parse_duration("4 breths")


@pytest.mark.parametrize("text", ["5ms", "5 sex", "1s30m", "5"])
def test_no_nearest_form_is_guessed_where_none_is_near(text: str) -> None:
    """5 ms is never suggested as 5 minutes: a guess is offered only for a misspelt word."""
    with pytest.raises(ValueError, match="not a duration") as caught:
        parse_duration(text)
    assert "did you mean" not in str(caught.value)
    assert "(use 5s, 5 seconds" in str(caught.value)


def test_word_forms_are_clock_time_for_settings() -> None:
    assert parse_seconds("90 sec") == 90
    assert parse_seconds("1.5 mins") == 90
    with pytest.raises(ValueError, match=r"clock time \(5s, 5 seconds, 90 sec"):
        parse_seconds("2 breaths")


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
