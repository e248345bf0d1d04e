"""What a template asks for: the variables its header declares, with defaults and meanings.

A template's first Jinja comment declares one variable a line::

    {#- Pose hold: one pose held on each side.
        var pose: the pose to hold, a file name in poses/ without .j2
        var hold_breaths = 8: breaths held on each side
    -#}

``var NAME = VALUE: meaning`` (VALUE written as TOML: ``8``, ``"2m"``, ``true``, ``["a", "b"]``)
gives a default; ``var NAME: meaning`` makes the variable required. The header is the one place a
default lives: the renderer passes it in, so the template uses the plain name.
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


@dataclass(frozen=True)
class Variable:
    """One declared variable of a template."""

    name: str
    meaning: str
    source: Source
    default: object = NOTHING

    @property
    def required(self) -> bool:
        return self.default is NOTHING


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
    value, meaning = _value_and_meaning(after[1:], source, fix)
    return Variable(name, meaning, source, value)


def _value_and_meaning(text: str, source: Source, fix: str) -> tuple[object, str]:
    """Split ``VALUE: meaning`` at the first colon after which VALUE parses as TOML."""
    for split in (match.start() for match in re.finditer(":", text)):
        try:
            value = tomllib.loads(f"value = {text[:split].strip()}")["value"]
        except tomllib.TOMLDecodeError:
            continue
        return value, text[split + 1 :].strip()
    raise TemplateError(f"cannot read the default in 'var …={text.strip()}'", where=source, fix=fix)


def defaults(declared: Iterable[Variable]) -> dict[str, object]:
    return {variable.name: variable.default for variable in declared if not variable.required}
