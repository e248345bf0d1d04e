"""Durations as people write them: ``5s``, ``5 seconds``, ``90 sec``, ``1.5 min``, ``2 minutes``,
``1m30s``, ``1h``, ``2 hours``, ``3 breaths``.

Values are exact fractions of a second, so a timeline built from many of them never drifts.
A duration in breaths stays symbolic until the timeline knows the listener's breath length.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from fractions import Fraction

MAX_SECONDS = 12 * 3600  # longer than any sane session: a typo such as 1000m, not a plan

_NUMBER = r"\d+(?:\.\d+)?"
# One amount and its unit ("90 sec", "1m"); a clock duration is one or more, largest unit first.
_AMOUNT = re.compile(rf"({_NUMBER})\s*([a-z]+)\s*")
_AMOUNTS = re.compile(rf"(?:{_AMOUNT.pattern})+")
# Seconds in one of each unit, as it is written; hours, then minutes, then seconds.
CLOCK_UNITS: dict[str, int] = {
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
}
BREATH_UNITS = ("breath", "breaths")
CLOCK_FORMS = "5s, 5 seconds, 90 sec, 1.5 min, 2 minutes, 1m30s, 1h, 2 hours"
FORMS = f"{CLOCK_FORMS} or 3 breaths"
_SUGGEST_CUTOFF = 0.75  # "secnds" finds seconds; "ms" finds nothing (never 5 minutes for 5 ms)


@dataclass(frozen=True)
class Duration:
    """A length of time: fixed seconds plus a number of breaths."""

    seconds: Fraction = Fraction(0)
    breaths: Fraction = Fraction(0)

    def __post_init__(self) -> None:
        if self.seconds < 0 or self.breaths < 0:
            raise ValueError("a duration cannot be negative")

    def resolve(self, breath: Fraction) -> Fraction:
        """Seconds, given the length of one breath in seconds."""
        return self.seconds + self.breaths * breath

    def __str__(self) -> str:
        if self.breaths:
            return f"{_plain(self.breaths)} breath{'s' if self.breaths != 1 else ''}"
        return format_seconds(self.seconds)


def parse_duration(text: str) -> Duration:
    """Parse one duration; ValueError says what forms are accepted (and the nearest one)."""
    cleaned = text.strip().lower()
    amounts = _AMOUNT.findall(cleaned) if _AMOUNTS.fullmatch(cleaned) else []
    if len(amounts) == 1 and amounts[0][1] in BREATH_UNITS:
        count = Fraction(amounts[0][0])
        if count > MAX_SECONDS:
            raise ValueError(f"{text!r} is too long")
        return Duration(breaths=count)
    if not amounts or not _largest_first([unit for _, unit in amounts]):
        raise ValueError(f"{text!r} is not a duration ({_suggestion(amounts)}use {FORMS})")
    seconds = sum((Fraction(number) * CLOCK_UNITS[unit] for number, unit in amounts), Fraction(0))
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than {MAX_SECONDS // 3600} hours")
    return Duration(seconds=seconds)


def _largest_first(units: list[str]) -> bool:
    """Every unit a clock unit, each size once, hours before minutes before seconds: 1m30s, not
    30s1m (a typo, not a plan) nor 1m2m."""
    if not all(unit in CLOCK_UNITS for unit in units):
        return False
    sizes = [CLOCK_UNITS[unit] for unit in units]
    return all(larger > smaller for larger, smaller in itertools.pairwise(sizes))


def _suggestion(amounts: list[tuple[str, str]]) -> str:
    """``did you mean '5 seconds'? `` for a misspelt unit ("5 secnds"), or nothing."""
    known = (*CLOCK_UNITS, *BREATH_UNITS)
    if all(unit in known for _, unit in amounts):
        return ""  # no unit to correct: 5, 30s1m, 1 minute 3 breaths
    nearest = [
        difflib.get_close_matches(unit, known, n=1, cutoff=_SUGGEST_CUTOFF) for _, unit in amounts
    ]
    units = [near[0] for near in nearest if near]
    breaths = len(units) == 1 and units[0] in BREATH_UNITS
    if len(units) != len(amounts) or not (breaths or _largest_first(units)):
        return ""
    fixed = " ".join(f"{number} {unit}" for (number, _), unit in zip(amounts, units, strict=True))
    return f"did you mean {fixed!r}? "


def parse_seconds(text: str) -> Fraction:
    """Parse a duration that must be in clock time (settings such as ``breath``)."""
    duration = parse_duration(text)
    if duration.breaths:
        raise ValueError(f"{text!r} must be clock time ({CLOCK_FORMS})")
    return duration.seconds


def format_seconds(seconds: Fraction | float) -> str:
    """Shortest markup form of a number of seconds: 90 -> 1m30s, 1.5 -> 1.5s."""
    value = Fraction(seconds).limit_denominator(1000)
    minutes, rest = divmod(value, 60)
    if minutes and rest:
        return f"{int(minutes)}m{_plain(rest)}s"
    return f"{int(minutes)}m" if minutes else f"{_plain(rest)}s"


def format_clock(seconds: float) -> str:
    """mm:ss (or h:mm:ss) for plans and listings."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_clock_ms(seconds: Fraction | float, always_hours: bool = False) -> str:
    """mm:ss.mmm (h:mm:ss.mmm past an hour; hh:mm:ss.mmm always, as WebVTT wants it)."""
    millis = round(Fraction(seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
    if always_hours:
        return f"{hours:02d}:{text}"
    return f"{hours}:{text}" if hours else text


def _plain(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):g}"
