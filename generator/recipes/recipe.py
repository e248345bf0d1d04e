"""Stage 1: a session recipe (TOML) becomes settings plus an ordered list of template parts.

A recipe may also be a single ``.j2`` or ``.txt`` script: then it is one part with default settings.
``--set KEY=VALUE`` overrides (``overrides.py``) are applied to it once, so later stages see one
final recipe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from generator.base.text import CONTROL_CHARS
from generator.errors import RecipeError, SettingsError, Source, closest
from generator.files.userfiles import KeyLocator, display_path, parse_toml, read_text
from generator.recipes.settings import Settings, build_settings, reject_unknown

RECIPE_KEYS = ("title", "description", "settings", "part")


@dataclass(frozen=True)
class Part:
    """One template to render and the variables it sees."""

    template: str
    variables: Mapping[str, object]
    source: Source

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))


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
    variables = {key: value for key, value in raw.items() if key != "template"}
    return Part(template=template, variables=variables, source=source)


def without_poses(recipe: Recipe, skip: Sequence[str], strict: bool = True) -> Recipe:
    """The recipe without the parts that guide a skipped pose (parts with that ``pose``).

    A pose the recipe does not have is an error when ``strict`` (a typo on the command line).
    """
    if not skip:
        return recipe
    poses = [str(part.variables["pose"]) for part in recipe.parts if "pose" in part.variables]
    for name in skip:
        if strict and name not in poses:
            raise SettingsError(
                f"--skip {name}: {recipe.name} has no pose of that name",
                fix=f"{closest(name, poses)} Its poses: {_listed(poses)}.".strip(),
            )
    parts = tuple(part for part in recipe.parts if part.variables.get("pose") not in skip)
    if not parts:
        raise SettingsError(
            f"--skip {', '.join(skip)} leaves nothing of {recipe.name}",
            fix="Choose another session, or skip fewer poses.",
        )
    return replace(recipe, parts=parts)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(names)) or "none"
