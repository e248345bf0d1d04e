"""The solver alone (one stage, lengths made up): the order things give way, and its bounds."""

from __future__ import annotations

from fractions import Fraction

from generator.timeline.shaping import (
    LEAVE_OUT,
    Knob,
    Lengths,
    Shape,
    extreme,
    shaped,
    start,
)

HOLD = Knob(0, "hold_breaths", tuple(range(3, 21)), 5)  # 8 breaths, 3..20
ROUNDS = Knob(1, "box_rounds", tuple(range(2, 13)), 4)  # 6 rounds, 2..12
TALK = Knob(2, "arrival_length", ("brief", "short", "full"), 2)
OPTIONAL = Knob(1, LEAVE_OUT, (False, True), 1, 1)
KNOBS = (HOLD, ROUNDS, TALK, OPTIONAL)
SECONDS = {"brief": 20, "short": 60, "full": 120}


def value(shape: Shape, knob: Knob) -> object:
    """The knob's value in the shape, or its start when the shape has no such knob."""
    return knob.values[shape.chosen.get(knob, knob.start)]


def lengths(shape: Shape) -> Lengths:
    """A session of a hold (20 s a breath, each side), a box breathing part (16 s a round) that
    may be left out, and an arrival: 30 s of pauses that may halve or double."""
    hold = 2 * 20 * int(value(shape, HOLD))  # type: ignore[call-overload]
    rounds = int(value(shape, ROUNDS))  # type: ignore[call-overload]
    box = 16 * rounds if value(shape, OPTIONAL) else 0
    usual = Fraction(hold + box + SECONDS[str(value(shape, TALK))] + 30)
    return usual - 15, usual, usual + 30


def test_at_its_own_length_nothing_changes() -> None:
    assert shaped(KNOBS, lengths(start(KNOBS))[1], lengths) == start(KNOBS)


def test_shorter_takes_the_talk_first_then_the_practice_evenly() -> None:
    usual = lengths(start(KNOBS))[1]  # 320 + 96 + 120 + 30 = 566 s
    shape = shaped(KNOBS, usual - 150, lengths)
    assert shape.value(TALK) == "brief"  # 100 s saved by the talk
    assert shape.value(OPTIONAL) is True  # the parts are the last to go
    assert {shape.value(HOLD), shape.value(ROUNDS)} != {8, 6}  # the practice gave the rest
    assert lengths(shape)[1] <= usual - 150 <= lengths(shape)[2]


def test_far_shorter_leaves_a_part_out_only_when_the_practice_is_at_its_floors() -> None:
    kept_last = Knob(0, LEAVE_OUT, (False, True), 1, 2)  # the hold's part may go too, second
    knobs = (*KNOBS, kept_last)
    shape = shaped(knobs, Fraction(200), lengths)
    assert shape.value(OPTIONAL) is False
    assert shape.value(kept_last) is True  # a session keeps the last part that may go
    assert shape.value(HOLD) == 3  # a hold never under its floor
    assert lengths(shape)[0] <= 200


def test_longer_grows_the_practice_before_the_talk() -> None:
    usual = lengths(start(KNOBS))[1]
    shape = shaped(KNOBS, usual + 200, lengths)
    assert shape.value(TALK) == "full"
    assert int(shape.value(HOLD)) > 8  # type: ignore[call-overload]
    assert lengths(shape)[0] <= usual + 200 <= lengths(shape)[2]


def test_the_same_request_gives_the_same_shape() -> None:
    assert shaped(KNOBS, Fraction(300), lengths) == shaped(KNOBS, Fraction(300), lengths)


def test_the_extremes_keep_the_last_part_that_may_go() -> None:
    two = (HOLD, OPTIONAL, Knob(0, LEAVE_OUT, (False, True), 1, 2))
    shortest = extreme(two, longest=False)
    assert [shortest.value(knob) for knob in two[1:]] == [False, True]
    assert extreme(two, longest=True).value(HOLD) == 20


def test_a_step_past_what_the_pauses_reach_is_passed_over() -> None:
    # Leaving the breathing out (-96 s) would overshoot 520 s beyond the pauses' reach (+30 s),
    # so the holds give instead.
    only = (HOLD, OPTIONAL)
    target = lengths(start(only))[1] - 40
    shape = shaped(only, target, lengths)
    assert shape.value(OPTIONAL) is True
    assert lengths(shape)[1] <= target <= lengths(shape)[2]
