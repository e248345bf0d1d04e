"""Numbers and lengths in words, as the voice says them."""

from fractions import Fraction

import pytest

from generator.markup.breathing import SIGH, parse_pattern
from generator.markup.wording import number_words, spoken_length


@pytest.mark.parametrize(
    ("number", "words"),
    [(0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (45, "forty-five"),
     (100, "one hundred"), (120, "one hundred and twenty"), (999, "nine hundred and ninety-nine")],
)  # fmt: skip
def test_number_words(number: int, words: str) -> None:
    assert number_words(number) == words


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (8, "eight seconds"),
        (45, "forty-five seconds"),
        (44, "forty-five seconds"),  # within a second: no "about"
        (60, "one minute"),
        (90, "one and a half minutes"),
        (300, "five minutes"),
        (317, "about five and a half minutes"),
        (1200, "twenty minutes"),
        (2440, "about forty-one minutes"),
        (3600, "one hour"),
        (5400, "one hour and thirty minutes"),
    ],
)
def test_spoken_length(seconds: int, said: str) -> None:
    assert spoken_length(Fraction(seconds)) == said


def test_named_and_custom_breath_patterns() -> None:
    assert parse_pattern("box").describe() == (
        "inhale 4s + hold 4s + exhale 4s + hold-empty 4s = 16s a round"
    )
    assert [p.seconds for p in parse_pattern("4-7-8").phases] == [4, 7, 8]
    assert [p.name for p in parse_pattern("resonance").phases] == ["inhale", "exhale"]
    assert parse_pattern("diaphragmatic").round_seconds == 10
    assert parse_pattern("Sigh") is SIGH
    assert [p.name for p in SIGH.phases] == ["inhale", "top-up", "exhale"]
    assert [p.name for p in parse_pattern("4-0-6-2").phases] == ["inhale", "exhale", "hold-empty"]
    assert parse_pattern("5.5-5.5").round_seconds == 11
    assert [p.tone for p in parse_pattern("box").phases] == ["rise", None, "fall", None]
