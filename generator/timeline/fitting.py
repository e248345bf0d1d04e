"""Stage 5, when a total length is asked for: stretch or shrink the elastic pauses to meet it.

Every elastic pause moves the same share of its room (see ``Pause.seconds``), so the session's
length grows monotonically with one number, the stretch, from -1 (all at their shortest) to 1
(all at their longest). The stretch that meets the target is found by regula falsi on real
timelines, so speech lengths and announcements that change with it are accounted for.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from generator.base.durations import MAX_SECONDS, format_clock
from generator.errors import SettingsError
from generator.timeline.events import Timeline

TOLERANCE = Fraction(1, 2)  # seconds the rendered length may differ from the one asked for
AIM = Fraction(1, 22050)  # the search stops this close (2 samples): rounding is all that is left
MAX_STEPS = 20

TimelineAt = Callable[[Fraction], Timeline]  # the session's timeline at a given stretch


class LengthError(SettingsError):
    """The session cannot be made as long (or as short) as asked."""


def seconds(timeline: Timeline) -> Fraction:
    return Fraction(timeline.length, timeline.sample_rate)


def length_range(timeline_at: TimelineAt) -> tuple[Fraction, Fraction]:
    """The shortest and longest the session can be."""
    return seconds(timeline_at(Fraction(-1))), seconds(timeline_at(Fraction(1)))


def fit(timeline_at: TimelineAt, target: Fraction) -> Timeline:
    """The timeline whose length is ``target`` seconds (within TOLERANCE), or LengthError."""
    nominal = timeline_at(Fraction(0))
    if abs(seconds(nominal) - target) <= AIM:
        return nominal
    low, high = (Fraction(-1), timeline_at(Fraction(-1))), (Fraction(1), timeline_at(Fraction(1)))
    _check_reachable(target, seconds(low[1]), seconds(high[1]), nominal.title)
    if seconds(nominal) < target:
        low = (Fraction(0), nominal)
    else:
        high = (Fraction(0), nominal)
    best = min((low[1], high[1], nominal), key=lambda timeline: abs(seconds(timeline) - target))
    # Regula falsi, Illinois variant: when the same end is kept twice, its distance to the target
    # is halved, so a curved (or stepped: announcements change words) length still converges fast.
    below, above = target - seconds(low[1]), seconds(high[1]) - target
    kept = ""
    for _ in range(MAX_STEPS):
        (t_low, _), (t_high, _) = low, high
        if below + above <= 0:
            break
        stretch = t_low + below * (t_high - t_low) / (below + above)
        stretch = max(t_low, min(t_high, stretch.limit_denominator(10**9)))
        timeline = timeline_at(stretch)
        if abs(seconds(timeline) - target) < abs(seconds(best) - target):
            best = timeline
        if abs(seconds(timeline) - target) <= AIM:
            break
        if seconds(timeline) < target:
            low, below = (stretch, timeline), target - seconds(timeline)
            above = above / 2 if kept == "high" else above
            kept = "high"
        else:
            high, above = (stretch, timeline), seconds(timeline) - target
            below = below / 2 if kept == "low" else below
            kept = "low"
    if abs(seconds(best) - target) > TOLERANCE:
        _check_reachable(target, seconds(best), seconds(best), nominal.title)
    return best


def _check_reachable(target: Fraction, shortest: Fraction, longest: Fraction, title: str) -> None:
    if shortest - TOLERANCE <= target <= longest + TOLERANCE:
        return
    raise unreachable(title, target, shortest, longest)


def unreachable(title: str, target: Fraction, shortest: Fraction, longest: Fraction) -> LengthError:
    """The error for a length out of reach: the range, and what the listener can do about it."""
    asked, low, high = (format_clock(float(value)) for value in (target, shortest, longest))
    if longest - shortest < 1:
        return LengthError(
            f"{title} cannot last {asked}: it has a fixed length of {low}",
            fix="Leave out --minutes, or give its pauses room to stretch: [pause 1m (30s..5m)].",
        )
    reach = min(longest, Fraction(MAX_SECONDS))  # what --minutes may ask for
    wider = (
        "--skip a part or --level gentle makes it shorter"
        if target < shortest
        else "--level deep makes it longer"
    )
    return LengthError(
        f"{title} cannot last {asked}: it can last from {low} to {high}",
        fix=f"Choose --minutes from {_minutes(shortest, up=True)} to {_minutes(reach, up=False)}; "
        f"{wider}.",
    )


def _minutes(value: Fraction, up: bool) -> str:
    tenths = value * 10 / 60
    rounded = -(-tenths // 1) if up else tenths // 1
    return f"{float(rounded / 10):g}"
