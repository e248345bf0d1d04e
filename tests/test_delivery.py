"""Delivery alone (one stage, a fake engine): phrases, pauses, and the length a rate asks for."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest

from generator.base.samples import Samples, frozen
from generator.speech.delivery import (
    COMMA_SHARE,
    PACE_TOLERANCE,
    PAUSE_GIVE,
    SLOWEST,
    deliver,
    pace,
    phrases,
    word_count,
)

RATE = 1000  # samples a second of the fake engine: lengths read off in milliseconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there.", [("Hello there.", "end")]),
        ("Rest. Breathe in, and out; slowly.", [
            ("Rest.", "sentence"), ("Breathe in,", "comma"), ("and out;", "comma"),
            ("slowly.", "end"),
        ]),
        ("Now \u2014 soften the jaw. Good!", [
            ("Now", "comma"), ("soften the jaw.", "sentence"), ("Good!", "end"),
        ]),
        ('He said "rest." Then go.', [('He said "rest."', "sentence"), ("Then go.", "end")]),
        ("Wait... then go", [("Wait...", "sentence"), ("then go", "end")]),
        ("One, two, three", [("One,", "comma"), ("two,", "comma"), ("three", "end")]),
    ],
)  # fmt: skip
def test_an_utterance_is_read_in_phrases(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(phrase.text, phrase.after) for phrase in phrases(text)] == expected


def test_words_are_counted_as_a_listener_counts_them() -> None:
    assert word_count("Don't rush \u2014 it's fine, isn\u2019t it?") == 6


@pytest.mark.parametrize("rate", [90, 120, 180])
def test_the_length_is_the_words_at_the_rate_and_the_pauses_scale_with_it(rate: int) -> None:
    asked = pace("Rest here. Let the breath slow, and soften.", rate, Fraction(1))
    assert asked.seconds == Fraction(8 * 60, rate)
    sentence, comma = asked.pauses
    assert sentence == Fraction(120, rate)  # the 1 s setting holds at 120 words a minute
    assert comma == sentence * COMMA_SHARE


def test_a_slow_pace_divides_a_long_phrase_where_a_guide_would_breathe() -> None:
    text = "Let the weight of your body sink slowly into the warm floor beneath you."
    assert len(pace(text, 120, Fraction(1)).phrases) == 1
    slow = pace(text, 60, Fraction(1))
    starts = [phrase.text.split()[0] for phrase in slow.phrases]
    assert "into" in starts[1:]  # before a word a guide breathes before
    assert all(word_count(phrase.text) >= 3 for phrase in slow.phrases)
    assert " ".join(phrase.text for phrase in slow.phrases) == text
    assert slow.seconds_per_word <= float(SLOWEST)


class FakeEngine:
    """Speaks every word for ``factor`` times the seconds a word asked for (a real engine's
    error against its calibration), in silence-free samples; counts its readings."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.readings = 0

    def speak(self, texts: Sequence[str], seconds_per_word: float) -> tuple[list[Samples], int]:
        self.readings += 1
        seconds = [word_count(text) * seconds_per_word * self.factor for text in texts]
        return [frozen(np.full(round(s * RATE), 0.5)) for s in seconds], RATE


@pytest.mark.parametrize("factor", [0.7, 1.0, 1.25])
def test_the_pauses_take_up_what_the_engine_missed(factor: float) -> None:
    text = "Let the weight sink into the floor. Breathe in, and let it go. Rest."
    engine = FakeEngine(factor)
    samples, rate = deliver(text, 120, Fraction(1), engine.speak)
    assert rate == RATE
    assert samples.size / RATE == pytest.approx(word_count(text) * 60 / 120, rel=PACE_TOLERANCE)


def test_an_engine_far_off_its_calibration_reads_once_more() -> None:
    engine = FakeEngine(0.6)  # no pauses to give: one phrase
    text = "Take a moment to notice how the hips feel now."
    samples, _ = deliver(text, 120, Fraction(1), engine.speak)
    assert engine.readings == 2
    assert samples.size / RATE == pytest.approx(10 * 60 / 120, rel=0.03)
    steady = FakeEngine(1.0)
    deliver(text, 120, Fraction(1), steady.speak)
    assert steady.readings == 1


def test_pauses_give_at_most_their_bounds() -> None:
    engine = FakeEngine(0.2)  # far too fast, even after a second reading
    samples, _ = deliver("Rest. Rest. Rest.", 120, Fraction(1), engine.speak)
    nominal = 2 * 1.0  # two sentence pauses of 1 s at 120
    silence = int(np.sum(samples == 0)) / RATE
    assert silence <= nominal * float(PAUSE_GIVE[1]) + 0.002
