"""Stage 1: a session recipe (TOML) becomes settings plus an ordered list of template parts.

A recipe may also be a single ``.j2`` or ``.txt`` script: then it is one part with default settings.
``--set KEY=VALUE`` overrides (``overrides.py``) are applied to it once, so later stages see one
final recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from generator.base.text import CONTROL_CHARS
from generator.errors import RecipeError, SettingsError, Source, closest
from generator.files.userfiles import KeyLocator, display_path, parse_toml, read_text
from generator.recipes.settings import Settings, build_settings, reject_unknown

RECIPE_KEYS = ("title", "description", "settings", "part")
PART_KEYS = ("template", "leave_out", "flex")  # a part's own keys: every other is a variable


@dataclass(frozen=True)
class Part:
    """One template to render and the variables it sees, and what a length asked for may change
    of it over what its template declares (``leave_out``, ``flex``; see markup/variables.py)."""

    template: str
    variables: Mapping[str, object]
    source: Source
    leave_out: int | bool | None = (
        None  # an order to be left out in; False: never; None: as declared
    )
    flex: Mapping[str, tuple[int, int] | tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))
        object.__setattr__(self, "flex", MappingProxyType(dict(self.flex)))


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    title: str
    description: str
    settings: Settings
    parts: tuple[Part, ...]
    overrides: Mapping[str, object] = field(default_factory=dict)
    own_settings: frozenset[str] = frozenset()  # the keys its [settings] table sets

    @property
    def folder(self) -> Path:
        return self.path.parent


def load_recipe(path: Path, defaults: Mapping[str, object] | None = None) -> Recipe:
    """Read a recipe file, or wrap a single script file as a one-part recipe.

    ``defaults`` (the user's config) lie under the recipe's own [settings].
    """
    if path.suffix != ".toml":
        part = Part(template=path.name, variables={}, source=Source(display_path(path), 1))
        settings = Settings(**(defaults or {}))  # type: ignore[arg-type]  # validated config
        return Recipe(path.stem, path, _title_of(path), "", settings, (part,))
    text = read_text(path, RecipeError)
    fix = "Fix the recipe's syntax (strings need quotes, tables need [brackets])."
    data = parse_toml(text, display_path(path), RecipeError, fix)
    return _build_recipe(path, text, data, defaults or {})


def _build_recipe(
    path: Path, text: str, data: dict[str, Any], defaults: Mapping[str, object]
) -> Recipe:
    where = display_path(path)
    locate = KeyLocator(where, text)
    hint = "Template variables go in a [[part]]."
    reject_unknown(data, RECIPE_KEYS, locate, RecipeError, "key", hint)
    title = data.get("title", _title_of(path))
    description = data.get("description", "")
    for key, value in (("title", title), ("description", description)):
        if not isinstance(value, str):
            raise RecipeError(f"{key} must be a string", where=locate(key), fix='Quote it: "…".')
        # Both reach the terminal and the MP3's tags: an ESC there is mischief, not a title.
        if CONTROL_CHARS.search(value if key == "title" else value.replace("\n", "")):
            raise RecipeError(
                f"{key} holds a control character", where=locate(key), fix="Remove it."
            )
    settings_data = data.get("settings", {})
    if not isinstance(settings_data, dict):
        raise RecipeError(
            "settings must be a table", where=locate("settings"), fix="Use [settings]."
        )
    build_settings(settings_data, locate)  # the recipe's own values, checked where written
    settings = build_settings({**defaults, **settings_data}, locate)
    raw_parts = data.get("part", [])
    if not isinstance(raw_parts, list) or not raw_parts:
        raise RecipeError(
            "the recipe has no parts",
            where=where,
            fix='Add at least one [[part]] with template = "NAME.j2".',
        )
    parts = tuple(_build_part(index, raw, locate) for index, raw in enumerate(raw_parts))
    return Recipe(
        path.stem, path, title, description, settings, parts, {}, frozenset(settings_data)
    )


def _title_of(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").title()


def _build_part(index: int, raw: object, locate: KeyLocator) -> Part:
    source = locate.part(index)
    if not isinstance(raw, dict):
        raise RecipeError("a part must be a table", where=source, fix="Write it as [[part]].")
    template = raw.get("template")
    if not isinstance(template, str) or not template.strip():
        raise RecipeError(
            "this part has no template",
            where=source,
            fix='Add template = "NAME.j2" (see scripts/templates for the built-in ones).',
        )
    variables = {key: value for key, value in raw.items() if key not in PART_KEYS}
    leave_out = raw.get("leave_out")
    if leave_out is not None and not (
        leave_out is False or (type(leave_out) is int and leave_out >= 1)
    ):
        raise RecipeError(
            f"leave_out = {leave_out!r} is not an order",
            where=locate.in_table(source, "leave_out"),
            fix="Write leave_out = 1 (left out first to meet a length), or false (never).",
        )
    flex = _flex(raw.get("flex", {}), locate.in_table(source, "flex"))
    return Part(template, variables, source, leave_out, flex)


def _flex(raw: object, where: Source | str) -> dict[str, tuple[int, int] | tuple[str, ...]]:
    """A part's ``flex = { hold_breaths = [6, 20], arrival_length = ["short", "full"] }``: the
    range of whole numbers, or the variants shortest first, a length may choose from."""
    fix = (
        'Write flex = { hold_breaths = [6, 20] } or flex = { arrival_length = ["short", "full"] }.'
    )
    if not isinstance(raw, dict):
        raise RecipeError("flex must be a table", where=where, fix=fix)
    found: dict[str, tuple[int, int] | tuple[str, ...]] = {}
    for name, span in raw.items():
        if isinstance(span, list) and len(span) == 2 and all(type(n) is int for n in span):
            if not 0 <= span[0] <= span[1]:
                raise RecipeError(f"flex {name} = {span}: low above high", where=where, fix=fix)
            found[name] = (span[0], span[1])
        elif isinstance(span, list) and len(span) >= 2 and all(isinstance(s, str) for s in span):
            found[name] = tuple(span)
        else:
            raise RecipeError(
                f"flex {name} = {span!r} is not a range or variants", where=where, fix=fix
            )
    return found


def without_parts(
    recipe: Recipe,
    skip: Sequence[str],
    names: Callable[[], Sequence[Sequence[str]]],
    strict: bool = True,
) -> Recipe:
    """The recipe without the parts ``skip`` names: by a pose they guide, their template's name
    or a chapter they hold (``names``: each part's, asked for only when something is skipped).

    A name no part answers to is an error when ``strict`` (a typo on the command line); a skip
    that leaves only the arrival and the closing, or nothing, is one too.
    """
    if not skip:
        return recipe
    called = [{name.casefold() for name in part_names} for part_names in names()]
    every = [name for part_names in names() for name in part_names]
    known = list({name.casefold(): name for name in reversed(every)}.values())[::-1]
    for name in skip:
        if strict and not any(name.casefold() in part for part in called):
            raise SettingsError(
                f"--skip {name}: {recipe.name} has no part of that name",
                fix=f"{closest(name, known)} Its parts: {_listed(known)}.".strip(),
            )
    asked = {name.casefold() for name in skip}
    kept = tuple(p for p, part in zip(recipe.parts, called, strict=True) if not part & asked)
    framing = {"arrival", "closing"}
    if not any(Path(part.template).stem not in framing for part in kept):
        raise SettingsError(
            f"--skip {', '.join(skip)} leaves nothing of {recipe.name} but its "
            + ("arrival and closing" if kept else "title"),
            fix="Choose another session, or skip fewer parts.",
        )
    return replace(recipe, parts=kept)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(names)) or "none"
