"""What a template asks for: the variables its header declares, with defaults and meanings.

A template's first Jinja comment declares one variable a line::

    {#- Pose hold: one pose held on each side.
        var pose: the pose to hold, a file name in poses/ without .j2
        var hold_breaths = 8: breaths held on each side
    -#}

``var NAME = VALUE: meaning`` (VALUE written as TOML: ``8``, ``"2m"``, ``true``, ``["a", "b"]``)
gives a default; ``var NAME: meaning`` makes the variable required. The header is the one place a
default lives: the renderer passes it in, so the template uses the plain name.

What ``--minutes`` may change is declared here too, so a session reshapes itself to a length:

    var hold_breaths = 8 (3..40): breaths held on each side        whole numbers in a range
    var arrival_length = "full" ("brief" | "short" | "full"): ...  variants, shortest first
    leave out: 2                                                   the part may be left out,
                                                                   in this order (1 first)
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

from generator.errors import Source, TemplateError

# Every template may read these: the listener's name and level from the settings, and held(N),
# the breaths a hold of N breaths lasts at that level.
GLOBALS = ("listener", "level", "held")
NOTHING = object()  # the default of a required variable

_HEADER = re.compile(r"\A\s*\{#-?(?P<body>.*?)-?#\}", re.DOTALL)
_DECLARATION = re.compile(r"^\s*var\s+(?P<rest>.*)$")
_NAME = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*(?P<after>.*)$")
_LEAVE_OUT = re.compile(r"^\s*leave out:\s*(?P<order>.*?)\s*$")
_FLEX = re.compile(r"^(?P<value>.*?)\s*\((?P<flex>[^()]*)\)\s*$")
_SPAN = re.compile(r"^\s*(?P<low>\d+)\s*\.\.\s*(?P<high>\d+)\s*$")


@dataclass(frozen=True)
class Variable:
    """One declared variable of a template."""

    name: str
    meaning: str
    source: Source
    default: object = NOTHING
    span: tuple[int, int] | None = None  # whole numbers --minutes may choose from, inclusive
    choices: tuple[str, ...] = ()  # variants --minutes may choose from, shortest first

    @property
    def required(self) -> bool:
        return self.default is NOTHING

    @property
    def flexible(self) -> bool:
        return self.span is not None or bool(self.choices)


def read_declarations(text: str, where: str) -> tuple[Variable, ...]:
    """The variables declared in a template's header; TemplateError names a malformed line."""
    header = _HEADER.match(text)
    if header is None:
        return ()
    first_line = text[: header.start("body")].count("\n") + 1
    declared: dict[str, Variable] = {}
    for offset, line in enumerate(header["body"].splitlines()):
        match = _DECLARATION.match(line)
        if match is None:
            continue
        source = Source(where, first_line + offset)
        variable = _declaration(match["rest"], source)
        if variable.name in declared:
            raise TemplateError(
                f"variable {variable.name!r} is declared twice",
                where=source,
                fix=f"Keep one declaration (the other is at {declared[variable.name].source}).",
            )
        declared[variable.name] = variable
    return tuple(declared.values())


def _declaration(rest: str, source: Source) -> Variable:
    fix = 'Write  var NAME = DEFAULT: meaning  (DEFAULT like 8, "2m", true) or  var NAME: meaning.'
    named = _NAME.match(rest.strip())
    if named is None:
        raise TemplateError(
            f"cannot read the declaration 'var {rest.strip()}'", where=source, fix=fix
        )
    name, after = named["name"], named["after"]
    if name in GLOBALS:
        raise TemplateError(
            f"{name!r} is a setting every template can read, not a variable to declare",
            where=source,
            fix="Remove this line; set it with --set or in [settings].",
        )
    if after.startswith(":"):
        return Variable(name, after[1:].strip(), source)
    if not after.startswith("="):
        raise TemplateError(f"cannot read the declaration of {name!r}", where=source, fix=fix)
    value, flex, meaning = _value_and_meaning(after[1:], source, fix)
    span, choices = _flex(name, value, flex, source)
    return Variable(name, meaning, source, value, span, choices)


def _value_and_meaning(text: str, source: Source, fix: str) -> tuple[object, str, str]:
    """Split ``VALUE (FLEX): meaning`` at the first colon after which VALUE parses as TOML."""
    for split in (match.start() for match in re.finditer(":", text)):
        written, flex = text[:split].strip(), ""
        parts = _FLEX.match(written)
        if parts is not None:
            written, flex = parts["value"], parts["flex"]
        try:
            value = tomllib.loads(f"value = {written}")["value"]
        except tomllib.TOMLDecodeError:
            continue
        return value, flex, text[split + 1 :].strip()
    raise TemplateError(f"cannot read the default in 'var …={text.strip()}'", where=source, fix=fix)


def _flex(
    name: str, value: object, flex: str, source: Source
) -> tuple[tuple[int, int] | None, tuple[str, ...]]:
    """What --minutes may choose for the variable: a range of whole numbers, or variants."""
    if not flex:
        return None, ()
    span = _SPAN.match(flex)
    if span is not None:
        low, high = int(span["low"]), int(span["high"])
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise TemplateError(
                f"{name}'s default {value!r} is not a whole number in {low}..{high}",
                where=source,
                fix=f"Write it like  var {name} = {low} ({low}..{high}): meaning.",
            )
        return (low, high), ()
    try:
        choices = tuple(str(tomllib.loads(f"v = {c.strip()}")["v"]) for c in flex.split("|"))
    except tomllib.TOMLDecodeError:
        choices = ()
    if len(choices) < 2 or value not in choices:
        raise TemplateError(
            f"cannot read what --minutes may choose for {name!r}: ({flex})",
            where=source,
            fix=f"Write a range  ({name} = 8 (3..40))  or variants, shortest first, holding the "
            'default:  = "full" ("short" | "full").',
        )
    return None, choices


def leave_out_order(text: str, where: str) -> int | None:
    """``leave out: N`` in a template's header: the part may be left out to meet a length, in
    this order among the parts (1 first); None when it is never left out."""
    header = _HEADER.match(text)
    if header is None:
        return None
    for line in header["body"].splitlines():
        match = _LEAVE_OUT.match(line)
        if match is not None:
            if not match["order"].isdigit() or int(match["order"]) < 1:
                line_number = text[: header.start("body")].count("\n") + 1
                raise TemplateError(
                    f"'leave out: {match['order']}' is not an order",
                    where=Source(where, line_number),
                    fix="Write  leave out: 1  (parts with lower numbers are left out first).",
                )
            return int(match["order"])
    return None


def defaults(declared: Iterable[Variable]) -> dict[str, object]:
    return {variable.name: variable.default for variable in declared if not variable.required}
