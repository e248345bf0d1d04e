"""Every built-in session guides the practice it promises, at the length it promises.

Checked on each session's timeline (estimated speech lengths, no audio: the e2e tests render them):
its words, holds, breath patterns, silences and bells.
"""

import re
from collections.abc import Callable
from fractions import Fraction

import pytest

from generator.recipes.catalogue import Catalogue
from generator.session import estimate, estimated_lengths, prepare
from generator.timeline.events import Timeline

LIBRARY = Catalogue()
MINUTE = 60


def timeline_of(name: str) -> Timeline:
    return estimate(prepare(name, LIBRARY), LIBRARY)


def words(timeline: Timeline) -> str:
    return " ".join(event.text for event in timeline.events if event.kind == "speech").lower()


def holds(timeline: Timeline) -> dict[tuple[str, str], int]:
    """(pose, side) -> samples held."""
    return {(s.pose, s.side): s.end - s.start for s in timeline.spans if s.kind == "hold"}


def patterns(timeline: Timeline) -> list[str]:
    return [span.label for span in timeline.spans if span.kind == "breathe"]


def silences(timeline: Timeline) -> list[float]:
    """Lengths of the pauses, in seconds."""
    return [timeline.seconds(e.end - e.start) for e in timeline.events if e.kind == "pause"]


def bells_between(timeline: Timeline, start: float, end: float) -> int:
    return sum(
        1 for e in timeline.events if e.kind == "bell" and start <= timeline.seconds(e.start) < end
    )


def both_sides_equal(timeline: Timeline, pose: str) -> bool:
    held = holds(timeline)
    return held.get((pose, "right")) == held.get((pose, "left")) and (pose, "right") in held


def chapters(timeline: Timeline) -> list[str]:
    return [mark.title.lower() for mark in timeline.chapters]


def has(*phrases: str) -> Callable[[Timeline], bool]:
    return lambda timeline: all(re.search(p, words(timeline)) for p in phrases)


def longest_silence_with_bells(timeline: Timeline) -> tuple[float, int]:
    pause = max((e for e in timeline.events if e.kind == "pause"), key=lambda e: e.end - e.start)
    start, end = timeline.seconds(pause.start), timeline.seconds(pause.end)
    return end - start, bells_between(timeline, start, end)


PROMISES: dict[str, list[Callable[[Timeline], bool]]] = {
    "hip-release": [
        lambda t: all(both_sides_equal(t, pose) for pose in ("pigeon", "lizard")),
        lambda t: ("bound-angle", "") in holds(t),
        lambda t: "box" in patterns(t),
        lambda t: {"pelvic tilts", "body scan", "meditation", "closing"} <= set(chapters(t)),
        has(r"warm", r"light"),
    ],
    "morning-hips": [lambda t: len(holds(t)) >= 2],
    "evening-unwind": [lambda t: len(holds(t)) >= 3],
    "pigeon": [lambda t: both_sides_equal(t, "pigeon"), lambda t: len(holds(t)) == 2],
    "lizard": [lambda t: both_sides_equal(t, "lizard"), has(r"forearms")],
    "bound-angle": [lambda t: set(holds(t)) == {("bound-angle", "")}, has(r"feet together")],
    "pelvic-tilts": [has(r"tilt", r"lower back"), lambda t: "pelvic tilts" in chapters(t)],
    "body-scan": [has(r"hips", r"head"), lambda t: max(silences(t)) >= 30],
    "breathwork": [lambda t: patterns(t)[:1] == ["diaphragmatic"] and "box" in patterns(t)],
    "foam-rolling": [
        has(r"glute", r"hip flexor", r"gentl", r"breath", r"right", r"left", r"tight"),
    ],
    "journaling": [
        has(r"what am i holding in my body", r"what emotions are stored in my hips", r"censor"),
        lambda t: sum(1 for s in silences(t) if s >= MINUTE) >= 4,
        lambda t: sum(1 for e in t.events if e.kind == "bell") >= 5,
    ],
    "journaling-reflection": [has(r"came up|arose|surfaced"), lambda t: max(silences(t)) >= 60],
    "epsom-soak": [
        has(r"cups?", r"epsom", r"warm"),
        lambda t: longest_silence_with_bells(t)[0] >= 20 * MINUTE,
        lambda t: longest_silence_with_bells(t)[1] >= 3,
    ],
    "hip-meditation": [has(r"warm", r"light", r"dissolv|melt"), lambda t: max(silences(t)) >= 60],
    "hip-circles-and-dance": [
        has(r"counterclockwise|counter-clockwise|anticlockwise", r"clockwise", r"free"),
        lambda t: {"hip circles", "free movement"} <= set(chapters(t)),
    ],
    "timer": [lambda t: max(silences(t)) >= 10 * MINUTE],
}

# The lengths the library promises at default settings (minutes, with a tolerance).
LENGTHS = {"hip-release": (45, 4), "morning-hips": (10, 3), "evening-unwind": (20, 4)}


def test_every_builtin_session_has_promises_checked() -> None:
    assert set(PROMISES) == set(LIBRARY.sessions())


@pytest.mark.parametrize("name", sorted(PROMISES))
def test_session_guides_what_it_promises(name: str) -> None:
    timeline = timeline_of(name)
    for number, promise in enumerate(PROMISES[name], 1):
        assert promise(timeline), f"{name}: promise {number} not kept"
    assert not timeline.warnings, timeline.warnings


@pytest.mark.parametrize(("name", "expected"), sorted(LENGTHS.items()))
def test_session_lasts_about_what_it_promises(name: str, expected: tuple[int, int]) -> None:
    minutes, tolerance = expected
    _, usual, _ = estimated_lengths(prepare(name, LIBRARY), LIBRARY)
    assert abs(usual / MINUTE - minutes) <= tolerance, float(usual / MINUTE)


def test_closings_carry_the_care_notes_not_a_session() -> None:
    text = words(timeline_of("hip-release"))
    assert re.search(r"water|hydrat", text)
    assert re.search(r"therapist|bodyworker", text)
    assert re.search(r"greens|berries|turmeric|ginger|walnuts|fish", text)


def test_skipping_a_pose_keeps_the_session_flowing() -> None:
    timeline = estimate(prepare("hip-release", LIBRARY, skip=("lizard",)), LIBRARY)
    assert ("lizard", "right") not in holds(timeline)
    assert both_sides_equal(timeline, "pigeon")
    assert "lizard" not in words(timeline)
    assert not timeline.warnings


def test_the_deep_level_holds_longer_than_gentle() -> None:
    def pigeon_seconds(level: str) -> Fraction:
        prepared = prepare("pigeon", LIBRARY, defaults={"level": level})
        return Fraction(holds(estimate(prepared, LIBRARY))[("pigeon", "right")], 44100)

    assert pigeon_seconds("gentle") < pigeon_seconds("standard") < pigeon_seconds("deep")
