"""Script markup into cues: every directive, the blocks of a hold, and mistakes named by line."""

from fractions import Fraction

import pytest

from generator.base.durations import Duration
from generator.errors import MarkupError, Source
from generator.markup.cues import (
    At,
    Bell,
    BellSchedule,
    Breathe,
    Chapter,
    Hold,
    Pause,
    RateChange,
    Speech,
    VoiceChange,
    Window,
    scaled_holds,
)
from generator.markup.parser import parse_cues
from tests.conftest import lines


def test_every_directive_becomes_a_typed_cue_with_its_line() -> None:
    cues = parse_cues(
        lines(
            "[chapter Pigeon pose]\n"
            "Settle in.\nSoften the jaw.\n\n"
            "Next thought.\n"
            "[pause 3 breaths]\n"
            "[for 4s] Breathe in\n"
            "[for 2s]\n"
            "[bell]\n"
            "[bell chime]\n"
        )
    )
    assert cues == (
        Chapter("Pigeon pose", Source("t.txt", 1)),
        Speech("Settle in. Soften the jaw.", Source("t.txt", 2)),
        Speech("Next thought.", Source("t.txt", 5)),
        Pause(Duration(breaths=Fraction(3)), Source("t.txt", 6)),
        Window(Duration(Fraction(4)), "Breathe in", Source("t.txt", 7)),
        Window(Duration(Fraction(2)), "", Source("t.txt", 8)),
        Bell("", Source("t.txt", 9)),
        Bell("chime", Source("t.txt", 10)),
    )


def test_a_directive_ends_the_utterance_and_whitespace_is_folded() -> None:
    cues = parse_cues(lines("  One   two\n[pause 1s]\nthree\n"))
    assert [type(c).__name__ for c in cues] == ["Speech", "Pause", "Speech"]
    assert isinstance(cues[0], Speech)
    assert cues[0].text == "One two"


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        (
            "Hi\n[pasue 5s]",
            r"unknown directive \[pasue 5s\].*\[pause\], \[for\], \[bell\], \[chapter\]",
        ),
        ("Hi\n[pause 5 secnds]", r"not a duration \(did you mean '5 seconds'\? use 5s, 5 seco"),
        ("Hi\n[pause 5ms]", r"not a duration \(use 5s"),
        ("Hi\nRest here. [pause 5s]", r"a directive in the middle of a line: \[pause 5s\]"),
        ("Hi\nSoften {silense}.\n[pause 5s]", r"unknown placeholder \{silense\} in spoken"),
        ("Hi\n[for 4s] In {Silence}", r"unknown placeholder \{Silence\}"),
        ("[hold 4 breaths]\n[at 2 breaths] Soften. [bell]\n[end hold]", "middle of a line"),
        ("Hi\n[pause 5m from the bell]", r"\[pause … from the bell\] does not follow a \[bell\]"),
        ("Hi\n[pause -5s]", "not a duration"),
        ("Hi\n[pause]", "needs a length"),
        ("Hi\n[pause 5s] and words", "text after"),
        ("Hi\n[chapter]", "needs a title"),
        ("Hi\n[bell two words]", "one word"),
        ("Hi\n[pause 5s", "unclosed bracket"),
        ("Hi\n[]", "unknown directive"),
        ("Hi\n[pause 3m..1m]", "shortest must not exceed"),
        ("Hi\n[pause 2m (3m..5m)]", "shortest must not exceed"),
        ("Hi\n[pause 1m..5 breaths]", "same unit"),
        ("Hi\n[pause 20m every 0s]", "longer than 0"),
        ("Hi\n[pause 20m bell chime]", "say when the bells ring"),
        ("Hi\n[pause 20m at 2m, soon]", "not a duration"),
        ("Hi\n[bell bowl x0]", "1 to 9 times"),
        ("Hi\n[bell bowl x12]", "1 to 9 times"),
        ("Hi\n[breathe box]", "needs a pattern, then xROUNDS or for LENGTH"),
        ("Hi\n[breathe square x4]", "not a breath pattern"),
        ("Hi\n[breathe 4-0-4 x0]", "at least one round"),
        ("Hi\n[breathe 0-4 x3]", "cannot be 0"),
        ("Hi\n[breathe 4-7-80 x3]", "longer than 60s"),
        ("Hi\n[breathe box for soon]", "not a duration"),
        ("Hi\n[breathe box x999999999]", "longer than 12 hours"),
        ("Hi\n[at 2 breaths] Soften.", r"\[at …\] outside a \[hold\]"),
        ("Hi\n[end hold]", "without a \\[hold\\]"),
        ("Hi\n[hold 8 breaths]\nSettle.", "never closed"),
        ("Hi\n[hold]\n[end hold]", "needs a length"),
        ("[bell]\nSilence for {silence}.\n[bell]", "no \\[pause\\] or \\[hold\\] follows"),
    ],
)
def test_markup_mistakes_name_the_line(markup: str, message: str) -> None:
    with pytest.raises(MarkupError, match=message) as caught:
        parse_cues(lines(markup, "my.j2"))
    assert caught.value.where == Source("my.j2", 2)


def seconds(*values: int) -> tuple[Fraction, ...]:
    return tuple(Fraction(value) for value in values)


def test_stretchable_pauses_and_their_usual_length() -> None:
    plain, lower, usual, breaths = parse_cues(
        lines("[pause 5s]\n[pause 30s..3m]\n[pause 1m (30s..3m)]\n[pause 2 breaths..6 breaths]")
    )
    assert isinstance(plain, Pause)
    assert not plain.elastic
    assert plain.seconds(Fraction(10), Fraction(1)) == 5  # a fixed pause never stretches
    assert isinstance(lower, Pause)
    assert lower.bounds(Fraction(10)) == seconds(
        30, 30, 180
    )  # without a usual length: the shortest
    assert isinstance(usual, Pause)
    assert usual.bounds(Fraction(10)) == seconds(30, 60, 180)
    assert usual.seconds(Fraction(10), Fraction(1, 2)) == 120  # half its room up
    assert usual.seconds(Fraction(10), Fraction(-1, 2)) == 45  # half its room down
    assert isinstance(breaths, Pause)
    assert breaths.bounds(Fraction(8)) == seconds(16, 16, 48)


def test_bells_inside_a_pause_and_struck_bells() -> None:
    every, at, double = parse_cues(
        lines("[pause 20m every 5m]\n[pause 20m at 2m, 7m 15m bell chime x2]\n[bell bowl x3]")
    )
    assert isinstance(every, Pause)
    assert every.bells == BellSchedule(every=Duration(Fraction(300)))
    assert isinstance(at, Pause)
    assert at.bells is not None
    assert [d.seconds for d in at.bells.at] == [120, 420, 900]
    assert (at.bells.sound, at.bells.strikes) == ("chime", 2)
    assert double == Bell("bowl", Source("t.txt", 3), strikes=3)
    assert parse_cues(lines("[bell x2]")) == (Bell("", Source("t.txt", 1), strikes=2),)


def test_breathe_takes_a_pattern_rounds_or_length_and_options() -> None:
    rounds, length = parse_cues(lines("[breathe box x6]\n[breathe 4-7-8 for 3m say 2 tones count]"))
    assert isinstance(rounds, Breathe)
    assert (rounds.pattern.name, rounds.rounds, rounds.length) == ("box", 6, None)
    assert (rounds.spoken_rounds, rounds.tones, rounds.count) == (None, False, False)
    assert isinstance(length, Breathe)
    assert length.length == Duration(Fraction(180))
    assert (length.spoken_rounds, length.tones, length.count) == (2, True, True)
    assert [phase.seconds for phase in length.pattern.phases] == [4, 7, 8]


def test_a_hold_collects_its_cues_and_marks() -> None:
    (hold,) = parse_cues(
        lines(
            "[hold 8 breaths pose pigeon side Left]\n"
            "Settle.\n"
            "[at 4 breaths] Halfway.\n"
            "[at 2 breaths to go]\n"
            "Two more.\n"
            "[end hold]\n"
        )
    )
    assert isinstance(hold, Hold)
    assert (hold.pose, hold.side, hold.duration) == (
        "pigeon",
        "left",
        Duration(breaths=Fraction(8)),
    )
    assert hold.body == (
        Speech("Settle.", Source("t.txt", 2)),
        At(Duration(breaths=Fraction(4)), False, Source("t.txt", 3)),
        Speech("Halfway.", Source("t.txt", 3)),
        At(Duration(breaths=Fraction(2)), True, Source("t.txt", 4)),
        Speech("Two more.", Source("t.txt", 5)),
    )


@pytest.mark.parametrize(
    ("markup", "message", "line"),
    [
        ("[hold 1m]\n[hold 1m]\n[end hold]", "inside another", 2),
        ("[hold 1m]\n[end breathe]\n", "only a hold can be ended", 2),
        ("[hold 1m]\n[chapter X]\n[end hold]", "inside a \\[hold\\]", 2),
        ("[hold 1m]\n[breathe box x2]\n[end hold]", "inside a \\[hold\\]", 2),
        ("[hold 1m]\nGo for {silence}.\n[end hold]\n[pause 5s]", "inside this hold", 2),
    ],
)
def test_what_a_hold_cannot_contain(markup: str, message: str, line: int) -> None:
    with pytest.raises(MarkupError, match=message) as caught:
        parse_cues(lines(markup))
    assert caught.value.where == Source("t.txt", line)


def test_voice_rate_and_say_directives() -> None:
    cues = parse_cues(
        lines(
            "[voice piper:joe]\n"
            "[rate 120]\n"
            "[say slowly] Let the breath\n"
            "slow down.\n\n"
            "[say 100]\n"
            "Rest.\n"
            "[rate default]\n"
            "[voice default]\n"
        )
    )
    assert cues == (
        VoiceChange("piper:joe", Source("t.txt", 1)),
        RateChange(120, Source("t.txt", 2)),
        Speech("Let the breath slow down.", Source("t.txt", 3), pace=Fraction(4, 5)),
        Speech("Rest.", Source("t.txt", 7), rate=100),
        RateChange(None, Source("t.txt", 8)),
        VoiceChange("default", Source("t.txt", 9)),
    )


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("Hi\n[voice]", "needs one voice id"),
        ("Hi\n[voice piper joe]", "needs one voice id"),
        ("Hi\n[rate fast]", "words per minute, 60 to 240"),
        ("Hi\n[rate 1000]", "words per minute, 60 to 240"),
        ("Hi\n[say loudly] Hello.", "say how"),
        ("Hi\n[say 20] Hello.", "words per minute"),
    ],
)
def test_voice_and_rate_mistakes_name_the_line(markup: str, message: str) -> None:
    with pytest.raises(MarkupError, match=message) as caught:
        parse_cues(lines(markup, "my.j2"))
    assert caught.value.where == Source("my.j2", 2)


def test_a_window_can_play_music_under_it() -> None:
    (window,) = parse_cues(lines("[for 4m music /home/me/My Song.mp3] Dance.\n"))
    assert window == Window(
        Duration(Fraction(240)), "Dance.", Source("t.txt", 1), "/home/me/My Song.mp3"
    )
    with pytest.raises(MarkupError, match="needs a sound file"):
        parse_cues(lines("[for 4m music]\n"))


def test_every_problem_is_collected_when_asked() -> None:
    problems: list[MarkupError] = []
    parse_cues(lines("[pause 5q]\nWords.\n[bel]\n[hold 2 breaths]\n"), problems)
    assert [str(problem.where) for problem in problems] == ["t.txt:1", "t.txt:3", "t.txt:4"]


def test_levels_scale_holds_in_whole_breaths_and_move_marks_from_the_start() -> None:
    cues = parse_cues(
        lines(
            "[hold 8 breaths]\nIn.\n[at 4 breaths] Half.\n[at 2 breaths to go] Two.\n[end hold]\n"
        )
    )
    (gentle,) = scaled_holds(cues, Fraction(5, 8))
    (deep,) = scaled_holds(cues, Fraction(3, 2))
    assert isinstance(gentle, Hold)
    assert isinstance(deep, Hold)
    assert gentle.duration == Duration(breaths=Fraction(5))
    assert deep.duration == Duration(breaths=Fraction(12))
    marks = [cue for cue in gentle.body if isinstance(cue, At)]
    assert marks[0].offset == Duration(breaths=Fraction(3))  # 2.5 rounds half up
    assert marks[1].offset == Duration(breaths=Fraction(2))
    assert marks[1].from_end
    assert scaled_holds(cues, Fraction(1)) == cues
