"""The timing engine alone: breath patterns, holds, sides, bells and elastic silences, placed
with stand-in clips of known length (speech 100 ms a word, bells 2 s, tones as asked)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from generator.errors import MarkupError
from generator.markup.parser import parse_cues
from generator.recipes.settings import Settings
from generator.timeline.events import Event, Timeline
from generator.timeline.placement import LEAD_IN, STRIKE_SPACING, TAIL, build_timeline
from tests.conftest import lines
from tests.test_timeline import RATE, FakeClips, place

LEAD = int(LEAD_IN * RATE)


def phase_starts(timeline: Timeline) -> list[tuple[int, str, int]]:
    """(round, phase, start) of the first event of every breath phase."""
    seen: dict[tuple[int, str], int] = {}
    for event in timeline.events:
        if event.phase:
            seen.setdefault((event.round, event.phase), event.start)
    return [(rnd, phase, start) for (rnd, phase), start in seen.items()]


def test_breath_phases_of_a_long_session_land_on_the_exact_grid() -> None:
    """Thirty minutes of a 4.3-4.3-4.3-4.3 box at 44.1 kHz: no drift from rounding."""
    rate = 44_100
    cues = parse_cues(lines("Begin.\n[breathe 4.3-4.3-4.3-4.3 for 30m say 2 tones]\n"))
    timeline = build_timeline("T", cues, Settings(), FakeClips(), rate)
    (span,) = timeline.spans
    starts = phase_starts(timeline)
    rounds = int(1800 / Fraction("17.2"))
    assert len(starts) == rounds * 4
    for index, (_, _, start) in enumerate(starts):
        assert start == span.start + round(index * Fraction("4.3") * rate)
    assert span.end - span.start == 1800 * rate  # the rest after the last whole round is quiet
    last_round, last_phase, last_start = starts[-1]
    assert (last_round, last_phase) == (rounds, "hold-empty")
    assert last_start == span.start + round((rounds * 4 - 1) * Fraction("4.3") * rate)


def test_spoken_rounds_then_tones_then_quiet_holds() -> None:
    timeline = place("[breathe box x3 say 1 tones]\n")
    by_round = {n: [e for e in timeline.events if e.round == n] for n in (1, 2, 3)}
    spoken = [(e.phase, e.text) for e in by_round[1] if e.kind == "speech"]
    assert spoken == [
        ("inhale", "Breathe in"),
        ("hold", "Hold"),
        ("exhale", "Breathe out"),
        ("hold-empty", "Hold"),
    ]
    for number in (2, 3):
        tones = [(e.phase, e.sound) for e in by_round[number] if e.kind == "tone"]
        assert tones == [("inhale", "rise"), ("exhale", "fall")]  # holds stay quiet
        assert not [e for e in by_round[number] if e.kind == "speech"]
    tone = next(e for e in timeline.events if e.kind == "tone")
    assert tone.end - tone.start == 3750  # stops a quarter second before the phase ends
    silent = place("[breathe box x3 say 1]\n")
    assert {e.kind for e in silent.events if e.round > 1} == {"pause"}


def test_counting_says_each_second_of_a_spoken_phase() -> None:
    timeline = place("[breathe 4-7-8 x1 count]\n")
    exhale = [(e.start - LEAD, e.text) for e in timeline.events if e.phase == "exhale"]
    words = [item for item in exhale if item[1]]
    assert words[0] == (11_000, "Breathe out")
    assert words[1:] == [(11_000 + 1000 * n, f) for n, f in zip(range(1, 8), COUNTS, strict=False)]


COUNTS = ["two", "three", "four", "five", "six", "seven", "eight"]


def test_a_phase_word_longer_than_its_phase_is_a_warning() -> None:
    timeline = place("[breathe 1-1 x2]\n")  # "Breathe out" is 200 ms here: fits
    assert timeline.warnings == ()
    crowded = place("[breathe 0.1-0.1 x1]\n")
    assert "'Breathe in' is longer than its breath phase" in crowded.warnings[0]


def test_breathing_for_a_length_runs_whole_rounds_and_lasts_that_length() -> None:
    timeline = place("[breathe 4-7-8 for 1m]\nAfter.\n")
    assert max(e.round for e in timeline.events) == 3  # 3 x 19s fit in a minute
    after = timeline.events[-1]
    assert after.text == "After."
    assert after.start == LEAD + 60_000
    with pytest.raises(MarkupError, match="shorter than one round"):
        place("[breathe 4-7-8 for 10s]\n")


def hold_markup(side: str, breaths: int = 8) -> str:
    return (
        f"[hold {breaths} breaths pose pigeon side {side}]\n"
        "Settle in here.\n"
        "[at 4 breaths] Halfway.\n"
        "[at 2 breaths to go] Two more breaths.\n"
        "[end hold]\n"
    )


def test_guidance_in_a_hold_is_placed_by_breath_count_and_the_hold_keeps_its_length() -> None:
    timeline = place(hold_markup("right") + "Release.\n", breath="12s")
    said = {e.text: e.start - LEAD for e in timeline.events if e.kind == "speech"}
    assert said == {
        "Settle in here.": 0,
        "Halfway.": 4 * 12_000,
        "Two more breaths.": 6 * 12_000,
        "Release.": 8 * 12_000,  # the hold lasts exactly 8 breaths, whatever was said in it
    }
    inside = [e for e in timeline.events if e.start - LEAD < 8 * 12_000]
    assert all((e.side, e.pose) == ("right", "pigeon") for e in inside)
    (span,) = timeline.spans
    assert (span.kind, span.end - span.start) == ("hold", 96_000)
    assert span.detail == "8 breaths x 12s = 01:36.000"


def test_both_sides_get_equal_windows_and_the_switch_sits_between_them() -> None:
    markup = hold_markup("right") + "Change sides, take your time.\n" + hold_markup("left")
    timeline = place(markup)
    right, left = timeline.spans
    assert right.end - right.start == left.end - left.start == 80_000
    switch = next(e for e in timeline.events if e.text.startswith("Change"))
    assert right.end <= switch.start
    assert switch.end <= left.start
    with pytest.raises(MarkupError, match="left side of pigeon holds 1m, but the side at"):
        place(hold_markup("right") + hold_markup("left", breaths=6))


def test_words_that_outrun_a_mark_start_late_with_a_warning() -> None:
    long_words = " ".join(["word"] * 60)  # 6 s here
    timeline = place(f"[hold 1m]\n{long_words}\n[at 5s] Next.\n[end hold]\n")
    nxt = next(e for e in timeline.events if e.text == "Next.")
    assert nxt.start - LEAD == 6000
    assert "start late" in timeline.warnings[0]
    with pytest.raises(MarkupError, match="beyond the end"):
        place("[hold 1m]\n[at 2m] Late.\n[end hold]\n")


def test_interval_bells_ring_inside_the_silence_without_lengthening_it() -> None:
    timeline = place("[pause 20m every 5m]\nDone.\n")
    bells = [e.start - LEAD for e in timeline.events if e.kind == "bell"]
    assert bells == [300_000, 600_000, 900_000]  # none at the very end
    assert timeline.events[-1].start - LEAD == 1_200_000
    listed = place("[pause 10m at 1m, 2m30s bell chime x2]\n")
    rings = [(e.start - LEAD, e.sound) for e in listed.events if e.kind == "bell"]
    assert rings == [
        (60_000, "chime"),
        (60_000 + int(STRIKE_SPACING * RATE), "chime"),
        (150_000, "chime"),
        (150_000 + int(STRIKE_SPACING * RATE), "chime"),
    ]
    with pytest.raises(MarkupError, match="after the end"):
        place("[pause 1m at 2m]\n")


def test_struck_bells_no_bell_and_warm_up() -> None:
    triple = place("[bell chime x3]\nAfter.\n")
    strikes = [e.start - LEAD for e in triple.events if e.kind == "bell"]
    spacing = int(STRIKE_SPACING * RATE)
    assert strikes == [0, spacing, 2 * spacing]
    assert triple.events[-1].start - LEAD == 2 * spacing + 2000  # after the last ring
    quiet = place("[bell]\nAfter.\n", bell="none")
    assert [e.kind for e in quiet.events] == ["speech"]
    warm = place("Hello.\n", warmup="10s")
    assert warm.events[0].kind == "pause"
    assert warm.events[1].start == LEAD + 10_000


def test_elastic_pauses_stretch_proportionally_and_fixed_ones_never() -> None:
    markup = "[pause 1m (30s..3m)]\n[pause 10s..50s]\n[pause 5s]\n[breathe 5-5 x2]\n"

    def lengths(stretch: Fraction) -> list[int]:
        timeline = place(markup, stretch=stretch)
        return [e.end - e.start for e in timeline.events if e.kind == "pause" and not e.phase]

    assert lengths(Fraction(0)) == [60_000, 10_000, 5_000]
    assert lengths(Fraction(1)) == [180_000, 50_000, 5_000]
    assert lengths(Fraction(-1)) == [30_000, 10_000, 5_000]
    assert lengths(Fraction(1, 4)) == [90_000, 20_000, 5_000]  # a quarter of each one's room


def test_an_announcement_speaks_the_real_length_of_the_next_silence() -> None:
    markup = "I'll leave you in silence for {silence}.\n[pause 2m (1m..10m)]\n"
    assert place(markup).events[0].text == "I'll leave you in silence for two minutes."
    stretched = place(markup, stretch=Fraction(1, 2))
    assert stretched.events[0].text == "I'll leave you in silence for six minutes."
    odd = place(markup, stretch=Fraction(1, 10))
    assert odd.events[0].text == "I'll leave you in silence for about three minutes."
    held = place("Stay for {silence}.\n[hold 6 breaths]\n[end hold]\n", breath="5s")
    assert held.events[0].text == "Stay for thirty seconds."


def test_sides_can_come_from_their_own_side_in_stereo() -> None:
    markup = hold_markup("right") + hold_markup("left") + "Centre.\n"
    mono = place(markup)
    assert mono.channels == 1
    assert {e.pan for e in mono.events} == {0.0}
    stereo = place(markup, side_pan=0.8)
    assert stereo.channels == 2
    pans = {(e.side, e.pan) for e in stereo.events}
    assert pans == {("right", 0.8), ("left", -0.8), ("", 0.0)}


def test_the_length_is_lead_in_plus_cues_plus_tail() -> None:
    timeline = place("[pause 1m]\n")
    assert timeline.length == LEAD + 60_000 + int(TAIL * RATE)


def first(events: tuple[Event, ...], text: str) -> Event:
    return next(e for e in events if e.text == text)


def test_voice_and_rate_hold_from_their_cue_on_and_say_changes_one_utterance() -> None:
    clips = FakeClips()
    markup = (
        "One.\n[voice piper:joe]\nTwo.\n[rate 120]\n[say slowly] Three.\n\nFour.\n"
        "[breathe 4-4 x1]\n[say 100] Five.\n\n[voice default]\n[rate default]\nSix.\n"
    )
    settings = Settings(voice="pyttsx3:gmw/en-us", rate=150)
    timeline = build_timeline("T", parse_cues(lines(markup)), settings, clips, RATE)
    assert clips.asked == [
        ("One.", "pyttsx3:gmw/en-us", 150),
        ("Two.", "piper:joe", 150),
        ("Three.", "piper:joe", 96),  # four fifths of 120
        ("Four.", "piper:joe", 120),
        ("Breathe in", "piper:joe", 120),  # phase words speak in the current voice
        ("Breathe out", "piper:joe", 120),
        ("Five.", "piper:joe", 100),
        ("Six.", "pyttsx3:gmw/en-us", 150),
    ]
    said = [(e.text, e.voice, e.rate) for e in timeline.events if e.kind == "speech"]
    assert said == clips.asked
