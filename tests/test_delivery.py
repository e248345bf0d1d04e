"""Delivery alone (one stage, a fake engine): phrases, pauses, and the length a rate asks for."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest

from generator.base.samples import Samples, frozen
from generator.speech.delivery import (
    COMMA_SHARE,
    PACE_TOLERANCE,
    PAUSE_GIVE,
    SLOWEST,
    PhraseMark,
    deliver,
    estimated_marks,
    pace,
    phrases,
    word_count,
    written_marks,
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
    spoken = deliver(text, 120, Fraction(1), engine.speak)
    assert spoken.sample_rate == RATE
    assert spoken.samples.size / RATE == pytest.approx(
        word_count(text) * 60 / 120, rel=PACE_TOLERANCE
    )


def test_an_engine_far_off_its_calibration_reads_once_more() -> None:
    engine = FakeEngine(0.6)  # no pauses to give: one phrase
    text = "Take a moment to notice how the hips feel now."
    samples = deliver(text, 120, Fraction(1), engine.speak).samples
    assert engine.readings == 2
    assert samples.size / RATE == pytest.approx(10 * 60 / 120, rel=0.03)
    steady = FakeEngine(1.0)
    deliver(text, 120, Fraction(1), steady.speak)
    assert steady.readings == 1


def test_pauses_give_at_most_their_bounds() -> None:
    engine = FakeEngine(0.2)  # far too fast, even after a second reading
    samples = deliver("Rest. Rest. Rest.", 120, Fraction(1), engine.speak).samples
    nominal = 2 * 1.0  # two sentence pauses of 1 s at 120
    silence = int(np.sum(samples == 0)) / RATE
    assert silence <= nominal * float(PAUSE_GIVE[1]) + 0.002


def test_each_phrase_is_marked_where_it_is_heard() -> None:
    text = "Let the weight sink into the floor. Breathe in, and let it go. Rest."
    spoken = deliver(text, 120, Fraction(1), FakeEngine(1.0).speak)
    marks = spoken.phrases
    assert [mark.text for mark in marks] == [phrase.text for phrase in phrases(text)]
    assert marks[0].start == 0
    assert marks[-1].end == spoken.samples.size
    sounding = spoken.samples != 0  # the fake engine's words are never silent
    for mark, following in pairwise(marks):
        assert sounding[mark.start : mark.end].all()  # the phrase's words, all heard
        assert not sounding[mark.end : following.start].any()  # then our pause, silent
        assert following.start > mark.end


def test_estimated_marks_follow_the_pace() -> None:
    text = "Rest here and let the body settle. Let the breath slow, and soften the jaw."
    marks = estimated_marks(text, 120, Fraction(1), RATE)
    assert [mark.text for mark in marks] == [
        "Rest here and let the body settle.",
        "Let the breath slow,",
        "and soften the jaw.",
    ]
    assert marks[0].start == 0
    assert marks[-1].end == 15 * 60 / 120 * RATE  # fifteen words at 120 a minute, pauses in
    sentence, comma = (b.start - a.end for a, b in pairwise(marks))
    assert sentence == pytest.approx(1.0 * RATE, abs=1)  # the nominal pauses at 120
    assert comma == pytest.approx(float(COMMA_SHARE) * RATE, abs=1)
    words = [(mark.end - mark.start) / word_count(mark.text) for mark in marks]
    assert max(words) == pytest.approx(min(words), abs=1)  # every word its equal share


def marks_of(*texts: str) -> list[PhraseMark]:
    return [PhraseMark(100 * n, 100 * n + 80, text) for n, text in enumerate(texts)]


def test_marks_of_a_respelled_text_show_the_words_as_written() -> None:
    spoken = marks_of("Sit in Bahdah Konahsana,", "and rest.")
    written = written_marks(spoken, "Sit in Baddha Konasana, and rest.")
    assert [mark.text for mark in written] == ["Sit in Baddha Konasana,", "and rest."]
    assert [(mark.start, mark.end) for mark in written] == [(0, 80), (100, 180)]
    # Not word for word: phrase i is phrase i while both have as many.
    counted = marks_of("Breathe four seven eight,", "slowly.")
    assert [m.text for m in written_marks(counted, "Breathe 4-7-8, slowly.")] == [
        "Breathe 4-7-8,",
        "slowly.",
    ]
    # A phrase divided where the engine breathed, and the words changed: one mark for all.
    divided = marks_of("Breathe four seven eight", "into the belly", "slowly.")
    assert written_marks(divided, "Breathe 4-7-8 into the belly slowly.") == (
        PhraseMark(0, 280, "Breathe 4-7-8 into the belly slowly."),
    )


def test_a_dash_standing_alone_stays_with_the_words_before_it() -> None:
    text = "Now \u2014 soften the jaw."
    spoken = marks_of(*(phrase.text for phrase in phrases(text)))
    assert [mark.text for mark in written_marks(spoken, text)] == ["Now \u2014", "soften the jaw."]
