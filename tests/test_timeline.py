"""The timeline stage alone, with clips of known lengths standing in for speech."""

from fractions import Fraction

import pytest

from generator.errors import MarkupError
from generator.markup.breathing import ToneKind
from generator.markup.cues import Cue
from generator.markup.parser import parse_cues
from generator.recipes.settings import Settings
from generator.timeline.events import ClipRef, Timeline
from generator.timeline.placement import LEAD_IN, TAIL, build_timeline
from tests.conftest import lines

RATE = 1000  # one sample a millisecond keeps the arithmetic readable


class FakeClips:
    """Speech lasts 100 ms per word; a bell 2 s; a tone as long as asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int]] = []  # (text, voice, rate) of every utterance

    def speech(self, text: str, voice: str, rate: int) -> ClipRef:
        self.asked.append((text, voice, rate))
        return ClipRef(text, len(text.split()) * 100)

    def bell(self, name: str) -> ClipRef:
        return ClipRef(f"bell:{name}", 2 * RATE)

    def tone(self, kind: ToneKind, samples: int) -> ClipRef:
        return ClipRef(f"tone:{kind}", samples)


def place(markup: str, stretch: Fraction = Fraction(0), **settings: object) -> Timeline:
    cues: tuple[Cue, ...] = parse_cues(lines(markup))
    return build_timeline("T", cues, Settings(**settings), FakeClips(), RATE, stretch)  # type: ignore[arg-type]


def spans(timeline: Timeline) -> list[tuple[str, int, int]]:
    return [(e.kind, e.start, e.end) for e in timeline.events]


def test_cues_follow_each_other_after_the_lead_in() -> None:
    timeline = place("one two\n[pause 2s]\n[bell chime]\nthree\n", gap="1s")
    lead = int(LEAD_IN * RATE)
    assert spans(timeline) == [
        ("speech", lead, lead + 200),
        ("pause", lead + 200, lead + 2200),
        ("bell", lead + 2200, lead + 4200),
        ("speech", lead + 4200, lead + 4300),
    ]
    assert timeline.length == lead + 4300 + int(TAIL * RATE)
    assert timeline.events[2].sound == "chime"


def test_consecutive_utterances_get_the_gap() -> None:
    timeline = place("one\n\ntwo\n", gap="1.5s")
    first, second = timeline.events
    assert second.start - first.end == 1500


def test_windows_are_exact_however_long_their_speech() -> None:
    markup = "[for 4s] Breathe in\n[for 4s] Hold\n[for 4s]\n[for 4s] Out\n" * 100
    timeline = place(markup)
    speech = [e for e in timeline.events if e.kind == "speech"]
    lead = int(LEAD_IN * RATE)
    # every spoken window starts exactly on the 4-second grid: no drift over 400 windows
    starts = [e.start - lead for e in speech]
    assert all(start % 4000 == 0 for start in starts)
    assert speech[-1].start == lead + 399 * 4000
    assert timeline.length == lead + 400 * 4000 + int(TAIL * RATE)
    assert timeline.warnings == ()


def test_breath_durations_use_the_breath_setting() -> None:
    timeline = place("[pause 3 breaths]\n", breath="8s")
    assert spans(timeline)[0][2] - spans(timeline)[0][1] == 24_000


def test_fractional_seconds_do_not_drift() -> None:
    timeline = build_timeline(
        "T", parse_cues(lines("[pause 0.3333s]\n" * 3000)), Settings(), FakeClips(), 44_100
    )
    expected_end = round((LEAD_IN + 3000 * Fraction("0.3333")) * 44_100)
    assert timeline.events[-1].end == expected_end


def test_speech_longer_than_its_window_extends_it_with_a_warning() -> None:
    timeline = place(
        "[for 1s] one two three four five six seven eight nine ten eleven twelve\n[for 1s]\n"
    )
    speech, silence = timeline.events
    assert speech.end - speech.start == 1200
    assert silence.start == speech.end  # no overlap: the next cue waits
    assert len(timeline.warnings) == 1
    assert "t.txt:1" in timeline.warnings[0]
    assert "[for 1s]" in timeline.warnings[0]


def test_chapters_run_to_the_next_chapter_or_the_end() -> None:
    timeline = place("[chapter A]\none\n[pause 1s]\n[chapter B]\ntwo\n")
    first, second = timeline.chapters
    assert (first.title, second.title) == ("A", "B")
    assert first.start == int(LEAD_IN * RATE)
    assert first.end == second.start == first.start + 100 + 1000
    assert second.end == timeline.length


def bell_starts(timeline: Timeline) -> list[int]:
    return [event.start for event in timeline.events if event.kind == "bell"]


def test_a_pause_from_the_bell_counts_from_its_strike_not_its_ring() -> None:
    """The timer's arithmetic: intervals and the next cue fall at exact multiples of the
    interval after the opening strike, whatever the bell rings (2 s here) or the warm-up."""
    timeline = place("[bell]\n[pause 3m from the bell every 1m]\n[bell x3]\n", warmup="2.5s")
    opening, *others = bell_starts(timeline)
    assert opening == LEAD_IN * RATE + 2500
    assert [start - opening for start in others] == [60_000, 120_000, 180_000, 182_500, 185_000]
    (silence,) = [event for event in timeline.events if event.kind == "pause" and event.source]
    assert (silence.start, silence.end) == (opening + 2000, opening + 180_000)  # after the ring
    assert silence.detail == "counted from the bell's strike"


def test_from_the_bell_is_exact_to_the_sample_at_an_awkward_rate_and_length() -> None:
    """44.1 kHz, a 1/3 s warm-up and a 45 s interval: every bell on its exact sample."""
    markup = "[bell]\n[pause 2.5 minutes from the bell every 45 seconds]\n[bell]\n"
    cues = parse_cues(lines(markup))
    settings = Settings(warmup=Fraction(1, 3))
    timeline = build_timeline("T", cues, settings, FakeClips(), 44_100)
    opening, *others = bell_starts(timeline)
    assert opening == round((LEAD_IN + Fraction(1, 3)) * 44_100)
    assert [start - opening for start in others] == [45 * 44_100 * k for k in (1, 2, 3)] + [
        150 * 44_100
    ]


def test_a_struck_bell_counts_from_its_first_strike_and_no_bell_from_where_it_would_ring() -> None:
    triple = place("[bell x3]\n[pause 20s from the bell]\nNext.\n")
    assert triple.events[-1].start - bell_starts(triple)[0] == 20_000
    quiet = place("Hello.\n[bell]\n[pause 20s from the bell at 5s]\nNext.\n", bell="none")
    hello, silence, next_words = (e for e in quiet.events if e.kind != "bell")
    assert silence.start == hello.end
    assert next_words.start - hello.end == 20_000
    assert bell_starts(quiet) == []  # the at-bell rings the session's bell: none


def test_a_pause_from_the_bell_that_ends_within_the_ring_is_an_error() -> None:
    with pytest.raises(MarkupError) as caught:
        place("[bell]\n[pause 1s from the bell]\nNext.\n")
    assert caught.value.message() == (
        "t.txt:2: [pause … from the bell] lasts 1s from the strike, but the bell before it rings "
        "for 2s. Make the pause at least 2s, or ring a shorter bell."
    )
    exact = place("[bell]\n[pause 2s from the bell]\nNext.\n")  # ends as the ring does
    assert exact.events[-1].start - bell_starts(exact)[0] == 2000


def test_a_stretchable_pause_from_the_bell_fits_with_the_rest() -> None:
    """render timer --minutes: the file's length, the pause measured from the strike."""
    markup = "[bell]\n[pause 1m (10s..10m) from the bell every 30s]\n[bell]\n"
    shortest = place(markup, stretch=Fraction(-1))
    assert bell_starts(shortest)[-1] - bell_starts(shortest)[0] == 10_000
    longest = place(markup, stretch=Fraction(1))
    starts = bell_starts(longest)
    assert starts[-1] - starts[0] == 600_000
    assert [start - starts[0] for start in starts[1:4]] == [30_000, 60_000, 90_000]


def test_an_announcement_says_the_length_from_the_bell() -> None:
    timeline = place("Sit for {silence}.\n[bell]\n[pause 20m from the bell]\n[bell]\n")
    assert timeline.events[0].text == "Sit for twenty minutes."
