"""What `stillpoint show` prints: a session's settings and every part's variables, with origins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from generator.base.durations import format_seconds
from generator.files.userfiles import display_path
from generator.markup.variables import Variable
from generator.recipes.program import Program
from generator.recipes.recipe import Part, Recipe
from generator.recipes.settings import DURATION_SETTINGS, Settings

PRECEDENCE = "command line > recipe > config > built-in"
VALUE_WIDTH = 18


def describe_lines(
    recipe: Recipe,
    config: Mapping[str, object],
    parts: Sequence[tuple[Part, Sequence[Variable]]],
) -> list[str]:
    """Lines describing the session as it would render now."""
    lines = [f"{recipe.title} ({display_path(recipe.path)})"]
    if recipe.description:
        lines.append(f"  {recipe.description}")
    lines += ["", f"Settings ({PRECEDENCE}):"]
    for name in Settings.names():
        setting = getattr(recipe.settings, name)
        value = format_seconds(setting) if name in DURATION_SETTINGS else _shown(setting)
        lines.append(f"  {name:<10} = {value:<22} {_setting_origin(name, recipe, config)}")
    lines += ["", "Parts (variables: --set NAME=VALUE changes one in every part):"]
    for index, (part, declared) in enumerate(parts, 1):
        lines.append(f"  {index}. {part.template}")
        for variable in declared:
            shown = _shown(part.variables.get(variable.name, variable.default))
            origin = _variable_origin(variable, part, recipe)
            if len(shown) > VALUE_WIDTH:  # a long text: its own line, the rest below it
                lines.append(f"       {variable.name:<16} = {shown}")
                shown = ""
            lines.append(
                f"       {variable.name if shown else '':<16} {'=' if shown else ' '} "
                f"{shown:<{VALUE_WIDTH}} {origin:<9} {variable.meaning}"
            )
        undeclared = set(part.variables) - {variable.name for variable in declared}
        for name in sorted(undeclared - set(recipe.overrides)):
            shown = _shown(part.variables[name])
            lines.append(f"       {name:<16} = {shown:<16} recipe    (the template declares none)")
    return lines


def _shown(value: object) -> str:
    if isinstance(value, Fraction):
        return f"{float(value):g}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return str(value)


def _setting_origin(name: str, recipe: Recipe, config: Mapping[str, object]) -> str:
    if name in recipe.overrides:
        return "command line"
    if name in recipe.own_settings:
        return "recipe"
    if name in config:
        return "config"
    return "built-in"


def _variable_origin(variable: Variable, part: Part, recipe: Recipe) -> str:
    if variable.name in recipe.overrides:
        return "--set"
    if variable.name in part.variables:
        return "recipe"
    return "required" if variable.required else "default"


def program_lines(program: Program) -> list[str]:
    """A program's days: the session, the day's title and what the day changes."""
    lines = [f"{program.title} ({display_path(program.path)}): {len(program.days)} days"]
    if program.description:
        lines.append(f"  {program.description}")
    for day in program.days:
        changes = ", ".join(
            f"{key}={_shown(value)}" + (" (where used)" if key in day.overrides.optional else "")
            for key, value in day.overrides.values.items()
        )
        minutes = f", {day.minutes:g} min" if day.minutes is not None else ""
        skip = f", skips {', '.join(day.skip)}" if day.skip else ""
        lines.append(f"  day {day.number}: {day.session}{minutes}{skip}  {day.title}")
        if changes:
            lines.append(f"         {changes}")
    return lines
