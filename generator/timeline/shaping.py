"""Stage 5, when a length is asked for: the practice reshapes itself before its pauses stretch.

The templates declare what may change (``markup/variables.py``): whole numbers in a range (the
breaths of a hold, the rounds of a breath pattern), variants of a passage (shortest first), and
parts that may be left out, in an order. Recipes may change those bounds. Given the length the
listener has, the solver moves the session's usual length (its pauses as written) towards it,
one step at a time, in the order things give way:

- shorter: the talk first (a passage's shorter variant), then the practice evenly (a breath or
  a round off each knob in turn, never under its floor), then whole parts, in their order;
- longer: the practice first (more breaths and rounds), then the talk (fuller variants).

It stops at the step that reaches the length: from there the stretchable pauses make it exact
(``fitting.py``). A step that would put the length out of the pauses' reach is passed over.
Every choice is a function of the recipe and the length alone: the same request, the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

LEAVE_OUT = ""  # the knob of a part itself: its values are (left out, kept)

Lengths = tuple[Fraction, Fraction, Fraction]  # shortest, usual, longest: seconds


@dataclass(frozen=True)
class Knob:
    """One thing a length may change: a part's variable, or whether the part is kept."""

    part: int  # its index among the recipe's parts
    name: str  # the variable, or LEAVE_OUT
    values: tuple[object, ...]  # what it may be, shortest first
    start: int  # the index of the recipe's own value
    order: int = 0  # LEAVE_OUT knobs: the order parts are left out in (1 first)

    @property
    def is_number(self) -> bool:
        return self.name != LEAVE_OUT and all(type(value) is int for value in self.values)


@dataclass(frozen=True)
class Shape:
    """The value each knob takes (an index into its values)."""

    chosen: Mapping[Knob, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "chosen", MappingProxyType(dict(self.chosen)))

    def value(self, knob: Knob) -> object:
        return knob.values[self.chosen[knob]]

    def moved(self, knob: Knob, step: int) -> Shape:
        return Shape({**self.chosen, knob: self.chosen[knob] + step})

    def changes(self) -> Iterator[tuple[Knob, object, object]]:
        """Each knob not at its start: (knob, from, to)."""
        for knob, index in self.chosen.items():
            if index != knob.start:
                yield knob, knob.values[knob.start], knob.values[index]


def start(knobs: Sequence[Knob]) -> Shape:
    return Shape({knob: knob.start for knob in knobs})


def extreme(knobs: Sequence[Knob], longest: bool) -> Shape:
    """Every knob at its end: the shortest session (every part that may go, gone, but the last
    of them) or the longest."""
    chosen = {knob: len(knob.values) - 1 if longest else 0 for knob in knobs}
    leavable = sorted((k for k in knobs if k.name == LEAVE_OUT), key=lambda k: (k.order, k.part))
    if leavable and not longest:
        chosen[leavable[-1]] = 1  # a session keeps something of what it is for
    return Shape(chosen)


def shaped(knobs: Sequence[Knob], target: Fraction, lengths: Callable[[Shape], Lengths]) -> Shape:
    """The shape whose usual length is nearest ``target`` that the pauses can still stretch to
    it, reached step by step from the recipe's own."""
    shape = start(knobs)
    usual = lengths(shape)[1]
    shrinking = usual > target
    for knob, step in _moves(knobs, shrinking):
        if shape.chosen[knob] + step not in range(len(knob.values)):
            continue
        if knob.name == LEAVE_OUT and not _may_leave(shape, knob, knobs):
            continue
        candidate = shape.moved(knob, step)
        low, middle, high = lengths(candidate)
        if (shrinking and high < target) or (not shrinking and low > target):
            continue  # past what the pauses could reach: not this step
        shape, usual = candidate, middle
        if (usual <= target) if shrinking else (usual >= target):
            break
    return shape


def _moves(knobs: Sequence[Knob], shrinking: bool) -> Iterator[tuple[Knob, int]]:
    """The steps to try, in the order things give way (see the module's docstring)."""
    step = -1 if shrinking else 1
    variants = [k for k in knobs if k.name != LEAVE_OUT and not k.is_number]
    numbers = [k for k in knobs if k.is_number]
    parts = sorted((k for k in knobs if k.name == LEAVE_OUT), key=lambda k: (k.order, k.part))
    phases = [variants, numbers, parts] if shrinking else [numbers, variants]
    for phase in phases:
        reach = max((len(knob.values) for knob in phase), default=0)
        for _round in range(reach):  # round robin: one step of each knob in turn
            for knob in phase:
                yield knob, step


def _may_leave(shape: Shape, knob: Knob, knobs: Sequence[Knob]) -> bool:
    """A part may be left out while another of those that may be is kept."""
    kept = [k for k in knobs if k.name == LEAVE_OUT and shape.chosen[k] == 1 and k is not knob]
    return bool(kept)
