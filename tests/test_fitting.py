"""Meeting a total length: elastic pauses stretch or shrink, everything else stays put."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from generator.markup.parser import parse_cues
from generator.markup.wording import spoken_length
from generator.recipes.settings import Settings
from generator.timeline.events import Timeline
from generator.timeline.fitting import TOLERANCE, LengthError, fit, length_range, seconds
from generator.timeline.placement import build_timeline
from tests.conftest import lines
from tests.test_timeline import FakeClips

RATE = 44_100
SESSION = """\
[bell]
[breathe box x4 say 1 tones]
I'll leave you in silence for {silence}. Rest here.
[pause 2m (30s..10m)]
[hold 6 breaths pose pigeon side right]
Settle.
[at 2 breaths to go] Two more.
[end hold]
Now rest for {silence}.
[pause 1m..4m]
[bell x3]
"""


def timeline_at(stretch: Fraction, markup: str = SESSION) -> Timeline:
    return build_timeline("T", parse_cues(lines(markup)), Settings(), FakeClips(), RATE, stretch)


SHORTEST, LONGEST = length_range(timeline_at)


def closest_reachable(target: Fraction) -> Fraction:
    """How close any stretch comes to the target: the two lengths either side of it, found by
    bisection. A length jumps where an announcement ("for about two minutes") changes words."""
    low, high = Fraction(-1), Fraction(1)
    for _ in range(48):
        middle = (low + high) / 2
        low, high = (middle, high) if seconds(timeline_at(middle)) < target else (low, middle)
    return min(abs(seconds(timeline_at(end)) - target) for end in (low, high))


@settings(deadline=None, max_examples=60)
@given(st.fractions(min_value=SHORTEST, max_value=LONGEST, max_denominator=1000))
@example(Fraction(575032, 991))  # just under a 301-sample jump: 2.13 samples is the closest
def test_any_reachable_target_is_met(target: Fraction) -> None:
    timeline = fit(timeline_at, target)
    missed = abs(seconds(timeline) - target)
    assert missed <= TOLERANCE
    if missed > Fraction(2, RATE):  # then no length closer exists: {silence} says other words
        assert missed <= closest_reachable(target) + Fraction(1, RATE)
    fixed = [e for e in timeline.events if e.phase or e.side]  # breathing and the hold
    nominal = [e for e in timeline_at(Fraction(0)).events if e.phase or e.side]
    assert [e.end - e.start for e in fixed if e.kind == "pause"] == [
        e.end - e.start for e in nominal if e.kind == "pause"
    ]


def test_the_announcements_follow_the_fitted_silence() -> None:
    timeline = fit(timeline_at, Fraction(15 * 60))
    said = [e.text for e in timeline.events if "silence for" in e.text or "rest for" in e.text]
    pauses = [e for e in timeline.events if e.kind == "pause" and e.detail.startswith("stretch")]
    assert len(said) == len(pauses) == 2
    lengths = [spoken_length(Fraction(p.end - p.start, RATE)) for p in pauses]
    assert said == [
        f"I'll leave you in silence for {lengths[0]}. Rest here.",
        f"Now rest for {lengths[1]}.",
    ]
    assert lengths[0] != "two minutes"  # the 2m pause really was stretched


def test_an_unreachable_target_says_the_range() -> None:
    with pytest.raises(LengthError, match=r"cannot last 1:00:00: it can last from \d\d:\d\d to"):
        fit(timeline_at, Fraction(3600))
    with pytest.raises(LengthError, match="Choose --minutes from"):
        fit(timeline_at, Fraction(60))


def test_a_fixed_session_meets_only_its_own_length() -> None:
    def fixed(stretch: Fraction) -> Timeline:
        return timeline_at(stretch, "Hello.\n[pause 1m]\n")

    length = seconds(fixed(Fraction(0)))
    assert seconds(fit(fixed, length + TOLERANCE / 2)) == length
    with pytest.raises(LengthError, match="fixed length of 01:03"):
        fit(fixed, Fraction(600))
