"""Stage 1: a session recipe (TOML) becomes settings plus an ordered list of template parts.

A recipe may also be a single ``.j2`` or ``.txt`` script: then it is one part with default settings.
``--set KEY=VALUE`` overrides are applied here, once, so later stages see one final recipe.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

from generator.durations import parse_seconds
from generator.errors import RecipeError, SettingsError, Source, StillpointError
from generator.variables import closest

RATE_RANGE = (60, 400)  # words per minute eSpeak NG handles without garbling
BREATH_RANGE = (Fraction(2), Fraction(60))
GAP_RANGE = (Fraction(0), Fraction(30))
WARMUP_RANGE = (Fraction(0), Fraction(600))
PAN_RANGE = (Fraction(0), Fraction(1))
VOLUME_RANGE = (Fraction(1, 20), Fraction(1))
RECIPE_KEYS = ("title", "description", "settings", "part")
# How long holds last at each level, as a share of what the script says (8 breaths: 5, 8, 12).
LEVELS = {"gentle": Fraction(5, 8), "standard": Fraction(1), "deep": Fraction(3, 2)}
DURATION_SETTINGS = ("breath", "gap", "warmup")  # the settings that are lengths of time
MAX_LISTENER = 40  # characters: a name, not a speech

CONTROL_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # Unicode's Cc, but the tab

Locate = Callable[[str], Source | str]  # finds where a key was written, for error messages


class SettingValueError(ValueError):
    """A setting's value is wrong, and which setting it is (the message may not say)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


def _seconds(value: object, name: str) -> Fraction:
    if isinstance(value, bool):
        raise ValueError(f'{name} must be a duration such as "10s", not {value!r}')
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | float):
        return _finite(value, name)
    if isinstance(value, str):
        try:
            return parse_seconds(value)
        except ValueError as error:  # its message names the value, not the setting
            raise SettingValueError(name, str(error)) from None
    raise ValueError(f'{name} must be a duration such as "10s", not {value!r}')


def _fraction(value: object, name: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _finite(value, name)
    raise ValueError(f"{name} must be a number such as 0.6, not {value!r}")


def _finite(value: int | float, name: str) -> Fraction:
    if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf
        raise ValueError(f"{name} must be a number, not {value}")
    return Fraction(str(value))


@dataclass(frozen=True)
class Settings:
    """Session-wide settings, validated once here. Durations are exact seconds."""

    breath: Fraction = Fraction(10)  # one breath, for durations written in breaths
    rate: int = 145  # words per minute: unhurried, as guided practice wants
    voice: str = "auto"
    bell: str = "bowl"  # the sound a bare [bell] rings
    gap: Fraction = Fraction(3, 2)  # silence between two utterances that follow each other
    warmup: Fraction = Fraction(
        0
    )  # silence before the first cue: time to settle after pressing play
    side_pan: Fraction = Fraction(0)  # 0: mono; up to 1: a two-sided hold's cues come from its side
    volume: Fraction = Fraction(1)  # of the voice, on every engine alike (a gain on its clips)
    listener: str = ""  # the listener's name, for a greeting and a thank-you; empty: none
    level: str = "standard"  # gentle, standard or deep: scales every hold (LEVELS)
    ambience: str = "off"  # a bed under the whole session: brown, pink, ocean, drone or a file
    cover: str = ""  # the MP3's cover art: a PNG or JPEG file; empty: one made for the session

    def __post_init__(self) -> None:
        for name in DURATION_SETTINGS:
            object.__setattr__(self, name, _seconds(getattr(self, name), name))
        for name in ("side_pan", "volume"):
            object.__setattr__(self, name, _fraction(getattr(self, name), name))
        if isinstance(self.rate, bool) or not isinstance(self.rate, int):
            raise ValueError(f"rate must be a whole number of words per minute, not {self.rate!r}")
        _check_range("rate", self.rate, RATE_RANGE, " words per minute")
        _check_range("breath", self.breath, BREATH_RANGE, "s")
        _check_range("gap", self.gap, GAP_RANGE, "s")
        _check_range("warmup", self.warmup, WARMUP_RANGE, "s")
        _check_range("side_pan", self.side_pan, PAN_RANGE, "")
        _check_range("volume", self.volume, VOLUME_RANGE, "")
        for name in ("voice", "bell", "ambience"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty name, not {value!r}")
        if not isinstance(self.cover, str):
            raise ValueError(f"cover must be the path of a PNG or JPEG file, not {self.cover!r}")
        if not isinstance(self.level, str) or self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if not isinstance(self.listener, str) or len(self.listener) > MAX_LISTENER:
            raise ValueError(f"listener must be a name of at most {MAX_LISTENER} characters")
        if any(not (char.isalnum() or char in " -'.") for char in self.listener):
            raise ValueError(
                f"listener must be a name (letters, spaces, - ' .), not {self.listener!r}"
            )

    @property
    def hold_scale(self) -> Fraction:
        return LEVELS[self.level]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _check_range(name: str, value: Fraction | int, bounds: tuple[Any, Any], unit: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(
            f"{name} must be between {low}{unit} and {high}{unit}, not {_shown(value)}{unit}"
        )


def _shown(value: Fraction | int) -> str:
    """A number as a person reads it: 1e+300, not three hundred digits."""
    try:
        return f"{float(value):.6g}"
    except OverflowError:
        return "a number beyond any range"


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


def parse_toml(text: str, where: str, error: type[StillpointError], fix: str) -> dict[str, Any]:
    """TOML text as a dict; a syntax error becomes ``error`` naming the file and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        line = re.search(r"line (\d+)", str(problem))
        raise error(
            f"TOML syntax error: {problem}",
            where=Source(where, int(line[1])) if line else where,
            fix=fix,
        ) from None


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


def reject_unknown(
    keys: Iterable[str],
    known: Sequence[str],
    locate: Locate,
    error: type[StillpointError],
    label: str,
    hint: str = "",
) -> None:
    """Raise error for the first key that is not known, naming where it is and what is known."""
    for key in keys:
        if key not in known:
            fix = f"{closest(key, known)} Known {label}s: {', '.join(known)}. {hint}".strip()
            raise error(f"unknown {label} {key!r}", where=locate(key), fix=fix)


def build_settings(
    values: Mapping[str, object], locate: Locate, extra: Sequence[str] = ()
) -> Settings:
    """Settings from values, each checked; ``extra`` keys are allowed and ignored here."""
    reject_unknown(values, (*Settings.names(), *extra), locate, SettingsError, "setting")
    values = {key: value for key, value in values.items() if key not in extra}
    try:
        return Settings(**values)  # type: ignore[arg-type]  # checked in __post_init__
    except (ValueError, ZeroDivisionError) as error:
        named = error.setting if isinstance(error, SettingValueError) else None
        bad = named or next((key for key in values if key in str(error)), "settings")
        raise SettingsError(str(error), where=locate(bad), fix="Change the value.") from None


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


@dataclass(frozen=True)
class Overrides:
    """Settings and variables chosen over the recipe's: --set, a program's day, its ramp.

    A settings key changes the setting, any other key a template variable in every part.
    ``optional`` keys apply only where a template uses them (a program's ramp); any other key
    no setting or template knows is an error.
    """

    values: Mapping[str, object] = field(default_factory=dict)
    locate: Locate = field(default=lambda key: "--set")
    optional: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    @classmethod
    def from_pairs(
        cls, pairs: Mapping[str, str], labels: Mapping[str, str] | None = None
    ) -> Overrides:
        """``--set KEY=VALUE`` pairs: values read as TOML when they parse (6, true, ["a"]).

        ``labels`` name how a key was given when not by --set (``--voice nobody``).
        """
        values = {key: parse_value(value) for key, value in pairs.items()}
        return cls(values, _OverrideLocator(pairs, labels or {}))

    def under(self, stronger: Overrides) -> Overrides:
        """These overrides with ``stronger`` ones on top (a day's --set over its program's)."""
        values = {**self.values, **stronger.values}
        mine = self.locate

        def locate(key: str) -> Source | str:
            return stronger.locate(key) if key in stronger.values else mine(key)

        optional = (self.optional - stronger.values.keys()) | stronger.optional
        return Overrides(values, locate, frozenset(optional))


def apply_overrides(recipe: Recipe, overrides: Overrides) -> Recipe:
    """The recipe with the overrides' settings and variables applied, each value checked."""
    if not overrides.values:
        return recipe
    values = overrides.values
    setting_values = {key: value for key, value in values.items() if key in Settings.names()}
    variables = {key: value for key, value in values.items() if key not in setting_values}
    current = {name: getattr(recipe.settings, name) for name in Settings.names()}
    settings = build_settings({**current, **setting_values}, overrides.locate)
    parts = tuple(replace(part, variables={**part.variables, **variables}) for part in recipe.parts)
    return replace(recipe, settings=settings, parts=parts, overrides=values)


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


def parse_value(text: str) -> object:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path, error_type: type[StillpointError]) -> str:
    """A UTF-8 file's text; one that cannot be read or is not UTF-8 is ``error_type`` naming it
    (and the line of the first bad byte)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise error_type(
            f"cannot read: {error.strerror}", where=display_path(path), fix="Check the path."
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise not_utf8(error, display_path(path), error_type) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # newlines as a text file reads


def not_utf8(
    error: UnicodeDecodeError, where: str, error_type: type[StillpointError]
) -> StillpointError:
    """The error to raise for a file that is not UTF-8: it names the line of the first bad byte."""
    line = error.object[: error.start].count(b"\n") + 1
    return error_type(
        f"not UTF-8 text (byte {error.object[error.start]:#04x})",
        where=Source(where, line),
        fix="Save it as UTF-8 (your editor's Save As… has an encoding choice).",
    )


class KeyLocator:
    """Finds the line of a key in a recipe's text (tomllib keeps no positions)."""

    def __init__(self, where: str, text: str) -> None:
        self.where = where
        self.lines = text.splitlines()

    def __call__(self, key: str) -> Source | str:
        pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return Source(self.where, number)
        return self.where

    def part(self, index: int) -> Source:
        return self.table("part", index)

    def table(self, name: str, index: int) -> Source:
        """Where the index-th [[name]] table starts."""
        header = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
        starts = [n for n, line in enumerate(self.lines, 1) if header.match(line)]
        return Source(self.where, starts[index] if index < len(starts) else 1)


class _OverrideLocator:
    def __init__(self, overrides: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self.overrides = overrides
        self.labels = labels

    def __call__(self, key: str) -> str:
        if key in self.labels:
            return self.labels[key]
        value = self.overrides.get(key)
        return f"--set {key}={value}" if value is not None else "--set"
