"""Programs: sessions over days, with settings that progress, rendered into one folder.

A program file (``scripts/programs/NAME.toml``)::

    title = "7-Day Hip Release"
    [settings]              # for every day, over each session's own
    breath = "10s"
    [ramp]                  # grows evenly from the first day's value to the last day's
    hold_breaths = [5, 10]
    [[day]]
    session = "morning-hips"
    title = "Day 1: Arrive"  # optional
    minutes = 12             # optional: the day's exact length
    set = { level = "gentle" }   # optional: this day's own settings and variables

A ramp applies to the days whose session uses it; ``set`` keys must be known to the day's session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from generator.base.durations import MAX_SECONDS
from generator.errors import RecipeError, Source
from generator.files.userfiles import KeyLocator, display_path, parse_toml, read_text
from generator.recipes.overrides import Overrides
from generator.recipes.settings import Locate, reject_unknown

PROGRAM_KEYS = ("title", "description", "settings", "ramp", "day")
DAY_KEYS = ("session", "title", "minutes", "set", "skip")


@dataclass(frozen=True)
class Day:
    number: int
    session: str
    title: str  # empty: the session's own title
    overrides: Overrides
    source: Source
    minutes: float | None = None
    skip: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        """The day's file name without suffix: sorts in order in any file list."""
        return f"{self.number:02d}-{self.session.rsplit('/', 1)[-1].removesuffix('.toml')}"


@dataclass(frozen=True)
class Program:
    name: str
    path: Path
    title: str
    description: str
    days: tuple[Day, ...] = field(default=())


def is_program(path: Path) -> bool:
    """A .toml file is a program when it lists days (sessions list parts)."""
    if path.suffix != ".toml" or not path.is_file():
        return False
    try:
        text = read_text(path, RecipeError)
    except RecipeError:  # unreadable, not text, or not a file: no program
        return False
    return any(line.strip().startswith("[[day]]") for line in text.splitlines())


def load_program(path: Path) -> Program:
    """Read and check a program file; errors name its file and line."""
    where = display_path(path)
    text = read_text(path, RecipeError)
    fix = "Fix the program's syntax (strings need quotes, tables need [brackets])."
    data = parse_toml(text, where, RecipeError, fix)
    locate = KeyLocator(where, text)
    reject_unknown(data, PROGRAM_KEYS, locate, RecipeError, "key")
    title, description = data.get("title", path.stem), data.get("description", "")
    if not isinstance(title, str) or not isinstance(description, str):
        raise RecipeError("title and description must be strings", where=where, fix='"…"')
    shared = _table(data, "settings", locate)
    ramp = _table(data, "ramp", locate)
    raw_days = data.get("day")
    if not isinstance(raw_days, list) or not raw_days:
        raise RecipeError(
            "the program has no days", where=where, fix='Add [[day]] tables with session = "…".'
        )
    days = tuple(
        _day(index, raw, len(raw_days), shared, ramp, locate) for index, raw in enumerate(raw_days)
    )
    return Program(path.stem, path, title, description, days)


def _table(data: dict[str, Any], key: str, locate: Locate) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RecipeError(f"{key} must be a table", where=locate(key), fix=f"Write it as [{key}].")
    return value


def _day(
    index: int,
    raw: object,
    total: int,
    shared: dict[str, Any],
    ramp: dict[str, Any],
    locate: KeyLocator,
) -> Day:
    source = locate.table("day", index)
    if not isinstance(raw, dict):
        raise RecipeError("a day must be a table", where=source, fix="Write it as [[day]].")
    reject_unknown(raw, DAY_KEYS, lambda key: source, RecipeError, "day key")
    session = raw.get("session")
    if not isinstance(session, str) or not session.strip():
        raise RecipeError(
            "this day has no session",
            where=source,
            fix='Add session = "NAME" (see stillpoint list).',
        )
    title = raw.get("title", "")
    minutes = raw.get("minutes")
    skip = raw.get("skip", [])
    own = raw.get("set", {})
    if not isinstance(title, str):
        raise RecipeError("title must be a string", where=source, fix='Quote it: "…".')
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int | float)):
        raise RecipeError("minutes must be a number", where=source, fix="Write minutes = 12.")
    if minutes is not None and not 0 < minutes <= MAX_SECONDS // 60:  # nan fails this too
        raise RecipeError(
            f"minutes = {minutes} is not a session length",
            where=source,
            fix=f"Give a number of minutes above 0 and at most {MAX_SECONDS // 60}.",
        )
    if not isinstance(skip, list) or not all(isinstance(name, str) for name in skip):
        raise RecipeError("skip must be a list of poses", where=source, fix='skip = ["lizard"]')
    if not isinstance(own, dict):
        raise RecipeError("set must be a table", where=source, fix="set = { hold_breaths = 6 }")
    ramped = {key: _ramped(key, span, index, total, locate) for key, span in ramp.items()}
    overrides = (
        Overrides(shared, locate)
        .under(Overrides(ramped, locate, frozenset(ramped)))
        .under(Overrides(own, lambda key: source))
    )
    return Day(index + 1, session, title, overrides, source, minutes, tuple(skip))


def _ramped(key: str, span: object, index: int, total: int, locate: Locate) -> object:
    """Day ``index`` of ``total``'s value on an even ramp from span[0] to span[1]."""
    if (
        not isinstance(span, list)
        or len(span) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in span)
    ):
        raise RecipeError(
            f"ramp {key} must be [first, last] numbers",
            where=locate(key),
            fix=f"Write it like {key} = [5, 10].",
        )
    first, last = (Fraction(str(value)) for value in span)
    value = first + (last - first) * Fraction(index, max(1, total - 1))
    if all(isinstance(v, int) for v in span):
        return math.floor(value + Fraction(1, 2))  # whole numbers stay whole: breaths, rounds
    return float(value)
