"""What reaches the listener's ears: lengths as people write them are read as lengths, and no typo
(a misspelt placeholder, a directive left at the end of a line) is ever spoken aloud."""

from fractions import Fraction

import pytest

from generator.base.durations import Duration
from generator.errors import MarkupError, Source
from generator.markup.cues import At, BellSchedule, Breathe, Hold, Pause, Speech, Window
from generator.markup.parser import parse_cues
from tests.conftest import lines


def seconds(*values: int) -> tuple[Fraction, ...]:
    return tuple(Fraction(value) for value in values)


@pytest.mark.parametrize(
    ("markup", "seconds"),
    [
        ("[pause 5 seconds]", 5),
        ("[pause 1 second]", 1),
        ("[pause 90 sec]", 90),
        ("[pause 90 secs]", 90),
        ("[pause 1.5 min]", 90),
        ("[pause 1.5 mins]", 90),
        ("[pause 1 minute]", 60),
        ("[pause 2 minutes]", 120),
        ("[pause 1 hour]", 3600),
        ("[pause 2 hours]", 7200),
        ("[pause 1m30s]", 90),
    ],
)
def test_a_pause_takes_every_written_length(markup: str, seconds: int) -> None:
    (pause,) = parse_cues(lines(markup))
    assert pause == Pause(Duration(Fraction(seconds)), Source("t.txt", 1))


def test_every_directive_with_a_length_takes_the_word_forms() -> None:
    cues = parse_cues(
        lines(
            "[for 4 seconds] Breathe in\n"
            "[hold 1.5 mins pose pigeon side left]\n"
            "[at 30 sec] Halfway.\n"
            "[at 10 seconds to go] Nearly.\n"
            "[end hold]\n"
            "[breathe box for 2 minutes]\n"
            "[pause 20 minutes every 5 minutes bell chime]\n"
            "[pause 1.5 min..2.5 min]\n"
            "[pause 1 minute (30 seconds..3 minutes)]\n"
        )
    )
    window, hold, breathe, interval, elastic, nominal = cues
    assert isinstance(window, Window)
    assert window.duration == Duration(Fraction(4))
    assert isinstance(hold, Hold)
    assert hold.duration == Duration(Fraction(90))
    assert [cue.offset for cue in hold.body if isinstance(cue, At)] == [
        Duration(Fraction(30)),
        Duration(Fraction(10)),
    ]
    assert isinstance(breathe, Breathe)
    assert breathe.length == Duration(Fraction(120))
    assert interval == Pause(
        Duration(Fraction(1200)),
        Source("t.txt", 7),
        bells=BellSchedule("chime", 1, Duration(Fraction(300))),
    )
    assert isinstance(elastic, Pause)
    assert elastic.bounds(Fraction(1)) == seconds(90, 90, 150)
    assert isinstance(nominal, Pause)
    assert nominal.bounds(Fraction(1)) == seconds(30, 60, 180)


def test_a_pause_from_the_bell_follows_its_bell() -> None:
    cues = parse_cues(
        lines("[bell]\n[chapter Quiet]\n[pause 20m (10s..12h) from the bell every 5m bell chime]\n")
    )
    pause = cues[-1]
    assert isinstance(pause, Pause)
    assert pause.from_bell
    assert pause.bounds(Fraction(1)) == seconds(10, 1200, 12 * 3600)
    assert pause.bells == BellSchedule("chime", 1, Duration(Fraction(300)))
    _, short = parse_cues(lines("[bell x3]\n[pause 2 minutes from bell]"))  # "the" is optional
    assert short == Pause(Duration(Fraction(120)), Source("t.txt", 2), from_bell=True)


@pytest.mark.parametrize(
    "markup",
    ["Hello.\n[pause 5m from the bell]", "[bell]\nHello.\n[pause 5m from the bell]"],
)
def test_a_pause_from_the_bell_without_a_bell_just_before_is_an_error(markup: str) -> None:
    with pytest.raises(MarkupError, match=r"does not follow a \[bell\]") as caught:
        parse_cues(lines(markup))
    assert caught.value.where == Source("t.txt", markup.count("\n") + 1)
    assert (
        caught.value.fix
        == "Strike one on the line before it: [bell], then [pause 20m from the bell]."
    )


@pytest.mark.parametrize(
    ("markup", "line", "message"),
    [
        ("Rest here. [pause 5s]", 1, "a directive in the middle of a line: [pause 5s]"),
        ("Settle in.\nRest here. [Bell chime]\n", 2, "middle of a line: [Bell chime]"),
        ("[for 4s] Breathe in [pause 2s]", 1, "middle of a line: [pause 2s]"),
        ("[say slowly] Rest [hold 4 breaths]", 1, "middle of a line: [hold 4 breaths]"),
        ("[prompt] What is here? [end hold]", 1, "middle of a line: [end hold]"),
        ("Rest. [paus 5s]", 1, "[paus 5s] in the middle of a line looks like a directive"),
        ("Rest. [bel]", 1, "[bel] in the middle of a line looks like a directive"),
        ("Rest for {silense}.\n[pause 5s]", 1, "unknown placeholder {silense} in spoken text"),
        ("One.\nTwo for {Silence}.\n[pause 5s]", 2, "unknown placeholder {Silence}"),
        ("[for 4s] Breathe for { silence }\n[pause 5s]", 1, "unknown placeholder { silence }"),
        ("Hello {listener}.", 1, "unknown placeholder {listener}"),
        ("[say 110] Hello {name}.", 1, "unknown placeholder {name}"),
    ],
)
def test_what_would_be_read_aloud_by_mistake_is_an_error_at_its_line(
    markup: str, line: int, message: str
) -> None:
    with pytest.raises(MarkupError) as caught:
        parse_cues(lines(markup))
    assert message in caught.value.what
    assert caught.value.where == Source("t.txt", line)


def test_the_fixes_say_what_to_do() -> None:
    with pytest.raises(MarkupError) as placeholder:
        parse_cues(lines("Rest for {silense}.\n[pause 5s]"))
    assert placeholder.value.message() == (
        "t.txt:1: unknown placeholder {silense} in spoken text. Did you mean {silence}? Only "
        "{silence} is replaced (by the length of the next silence); write any other words out."
    )
    with pytest.raises(MarkupError) as other:
        parse_cues(lines("Hello {listener}."))
    assert other.value.fix.startswith("Only {silence} is replaced")  # nothing near to suggest
    with pytest.raises(MarkupError) as inline:
        parse_cues(lines("Rest here. [pause 5s]"))
    assert inline.value.message() == (
        "t.txt:1: a directive in the middle of a line: [pause 5s]. Put [pause 5s] on a line of "
        "its own; words after it go on the next line."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Say it [softly] to yourself.",
        "As the teacher said [sic], let go.",
        "See note [1].",
        "[laughs] is not a directive when it follows words: Smile [laughs].",
        "An open bracket [ and a close one ] apart.",
        "Count {1, 2, 3} and a lone { brace: no word in braces, {silence} is one.",
    ],
)
def test_brackets_and_braces_that_are_no_directive_stay_words(text: str) -> None:
    if text.startswith("[laughs]"):  # at the start of a line a bracket is a directive, as ever
        with pytest.raises(MarkupError, match="unknown directive"):
            parse_cues(lines(text))
        text = text.split(": ", 1)[1]
    cues = parse_cues(lines(f"{text}\n[pause 5s]"))
    assert cues[0] == Speech(text, Source("t.txt", 1))


def test_every_problem_of_every_line_is_collected() -> None:
    problems: list[MarkupError] = []
    parse_cues(lines("Rest {silense}.\nRest here. [pause 5s]\n[pause 5 secnds]\n"), problems)
    assert [problem.where for problem in problems] == [Source("t.txt", n) for n in (1, 2, 3)]


@pytest.mark.parametrize(
    ("listed", "times"),
    [
        ("2m, 7m, 15m", (120, 420, 900)),
        ("2m 7m", (120, 420)),  # spaces part a list, as ever
        ("2 minutes, 7 minutes", (120, 420)),
        ("2 minutes 7 minutes", (120, 420)),
        ("1 min 30 sec, 5 minutes", (90, 300)),  # one time in words, read whole
    ],
)
def test_bells_at_listed_times_take_the_word_forms(listed: str, times: tuple[int, ...]) -> None:
    (pause,) = parse_cues(lines(f"[pause 20m at {listed}]"))
    assert isinstance(pause, Pause)
    assert pause.bells is not None
    assert pause.bells.at == tuple(Duration(Fraction(time)) for time in times)
