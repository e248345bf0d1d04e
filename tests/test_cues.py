from fractions import Fraction

import pytest

from generator.cues import Bell, Chapter, Pause, Speech, Window, parse_cues
from generator.durations import Duration
from generator.errors import MarkupError, Source
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
        ("Hi\n[pause 5 seconds]", "not a duration"),
        ("Hi\n[pause -5s]", "not a duration"),
        ("Hi\n[pause]", "not a duration"),
        ("Hi\n[pause 5s] and words", "text after"),
        ("Hi\n[chapter]", "needs a title"),
        ("Hi\n[bell two words]", "one word"),
        ("Hi\n[pause 5s", "unclosed bracket"),
        ("Hi\n[]", "unknown directive"),
    ],
)
def test_markup_mistakes_name_the_line(markup: str, message: str) -> None:
    with pytest.raises(MarkupError, match=message) as caught:
        parse_cues(lines(markup, "my.j2"))
    assert caught.value.where == Source("my.j2", 2)
