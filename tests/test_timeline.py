"""The timeline stage alone, with clips of known lengths standing in for speech."""

from fractions import Fraction

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
