"""Settings and variables chosen over a recipe's: ``--set``, a program's day, its ramp.

Applied once, by ``apply_overrides``: a settings key changes the setting, any other key a
template variable in every part; every value is checked as a setting is where it is built.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from generator.errors import Source
from generator.recipes.recipe import Recipe
from generator.recipes.settings import Locate, Settings, build_settings


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


def parse_value(text: str) -> object:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


class _OverrideLocator:
    def __init__(self, overrides: Mapping[str, str], labels: Mapping[str, str]) -> None:
        self.overrides = overrides
        self.labels = labels

    def __call__(self, key: str) -> str:
        if key in self.labels:
            return self.labels[key]
        value = self.overrides.get(key)
        return f"--set {key}={value}" if value is not None else "--set"
