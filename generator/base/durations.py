"""Durations as markup writes them: ``5s``, ``1.5s``, ``2m``, ``1m30s``, ``1h``, ``3 breaths``.

Values are exact fractions of a second, so a timeline built from many of them never drifts.
A duration in breaths stays symbolic until the timeline knows the listener's breath length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_SECONDS = 12 * 3600  # longer than any sane session: a typo such as 1000m, not a plan

_NUMBER = r"\d+(?:\.\d+)?"
_CLOCK = re.compile(rf"^(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?$")
_BREATHS = re.compile(rf"^(?P<n>{_NUMBER})\s*breaths?$")
FORMS = "5s, 1.5s, 2m, 1m30s, 1h or 3 breaths"


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
    """Parse one duration; ValueError says what forms are accepted."""
    cleaned = text.strip().lower()
    if breaths := _BREATHS.match(cleaned):
        count = Fraction(breaths["n"])
        if count > MAX_SECONDS:
            raise ValueError(f"{text!r} is too long")
        return Duration(breaths=count)
    clock = _CLOCK.match(cleaned.replace(" ", ""))
    if not cleaned or clock is None or not any(clock.groupdict().values()):
        raise ValueError(f"{text!r} is not a duration (use {FORMS})")
    parts = {unit: Fraction(value) for unit, value in clock.groupdict().items() if value}
    seconds = parts.get("h", Fraction(0)) * 3600 + parts.get("m", Fraction(0)) * 60
    seconds += parts.get("s", Fraction(0))
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than {MAX_SECONDS // 3600} hours")
    return Duration(seconds=seconds)


def parse_seconds(text: str) -> Fraction:
    """Parse a duration that must be in clock time (settings such as ``breath``)."""
    duration = parse_duration(text)
    if duration.breaths:
        raise ValueError(f"{text!r} must be clock time ({FORMS.removesuffix(' or 3 breaths')})")
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
