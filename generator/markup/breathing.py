"""Breath patterns: named ones (box, 4-7-8, resonance, diaphragmatic, sigh) and custom counts.

A custom pattern is written as seconds per phase joined by dashes: ``in-out`` (``5-5``),
``in-hold-out`` (``4-7-8``) or ``in-hold-out-hold`` (``4-4-4-4``); a 0 leaves a phase out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

ToneKind = Literal["rise", "fall"]
MAX_PHASE = Fraction(60)  # a longer "phase" is a typo: nobody holds a breath for minutes

_CUSTOM = re.compile(r"^\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?){1,3}$")


@dataclass(frozen=True)
class Phase:
    name: str  # inhale, hold, exhale, hold-empty, top-up: the timeline JSON's "phase"
    seconds: Fraction
    word: str  # spoken at the phase's start in the rounds that are spoken
    tone: ToneKind | None  # the soft tone of the later rounds; None: quiet

    def __post_init__(self) -> None:
        if not 0 < self.seconds <= MAX_PHASE:
            raise ValueError(f"a breath phase lasts more than 0s and at most {MAX_PHASE}s")


@dataclass(frozen=True)
class Pattern:
    name: str
    phases: tuple[Phase, ...]

    @property
    def round_seconds(self) -> Fraction:
        return sum((phase.seconds for phase in self.phases), Fraction(0))

    def describe(self) -> str:
        """The arithmetic of one round: 'inhale 4s + hold 4s + exhale 4s = 12s a round'."""
        parts = " + ".join(f"{phase.name} {_seconds(phase.seconds)}" for phase in self.phases)
        return f"{parts} = {_seconds(self.round_seconds)} a round"


def _inhale(seconds: Fraction) -> Phase:
    return Phase("inhale", seconds, "Breathe in", "rise")


def _hold(seconds: Fraction, name: str = "hold") -> Phase:
    return Phase(name, seconds, "Hold", None)


def _exhale(seconds: Fraction) -> Phase:
    return Phase("exhale", seconds, "Breathe out", "fall")


def _hold_empty(seconds: Fraction) -> Phase:
    return _hold(seconds, "hold-empty")


# The physiological sigh: a full inhale, a short second inhale on top, then a long, slow exhale.
SIGH = Pattern(
    "sigh",
    (
        Phase("inhale", Fraction(3), "Breathe in", "rise"),
        Phase("top-up", Fraction(1), "And more", "rise"),
        Phase("exhale", Fraction(6), "Long breath out", "fall"),
    ),
)
NAMED = {"box": "4-4-4-4", "resonance": "5-5", "diaphragmatic": "4-6", "4-7-8": "4-7-8"}
NAMES = (*NAMED, "sigh")


def parse_pattern(text: str) -> Pattern:
    """A named or custom pattern; ValueError says which forms exist."""
    name = text.strip().lower()
    if name == "sigh":
        return SIGH
    counts = NAMED.get(name, name)
    if not _CUSTOM.match(counts):
        raise ValueError(
            f"{text!r} is not a breath pattern (use {', '.join(NAMES)}, "
            "or seconds like 4-7-8 or 4-4-4-4)"
        )
    seconds = [Fraction(value) for value in counts.split("-")]
    if len(seconds) == 2:
        seconds = [seconds[0], Fraction(0), seconds[1]]
    if seconds[0] == 0 or seconds[2] == 0:
        raise ValueError(f"{text!r}: the inhale and the exhale cannot be 0")
    if max(seconds) > MAX_PHASE:
        raise ValueError(f"{text!r}: a phase longer than {MAX_PHASE}s")
    makers = (_inhale, _hold, _exhale, _hold_empty)
    phases = tuple(make(value) for make, value in zip(makers, seconds, strict=False) if value > 0)
    return Pattern(name, phases)


def _seconds(value: Fraction) -> str:
    return f"{float(value):g}s"
