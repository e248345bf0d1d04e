"""The user's config file: their own defaults, under every recipe.

``config.toml`` in the platform's config folder (``~/.config/stillpoint/`` on Linux;
``STILLPOINT_CONFIG`` names another file). Precedence, strongest first: the command line, the
recipe's ``[settings]``, this file, the built-in defaults.

    voice = "piper:joe"
    rate = 140
    breath = "12s"
    bell = "chime"
    listener = "Sam"
    level = "gentle"
    output = "~/Music/Stillpoint"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import platformdirs

from generator.errors import RecipeError, SettingsError, Source
from generator.files.userfiles import KeyLocator, display_path, parse_toml, read_text
from generator.recipes.overrides import Overrides
from generator.recipes.recipe import Recipe
from generator.recipes.settings import Settings, build_settings

CONFIG_ENV = "STILLPOINT_CONFIG"
OUTPUT_KEY = "output"  # the folder renders go to when no -o is given


@dataclass(frozen=True)
class Config:
    settings: Mapping[str, object] = field(default_factory=dict)  # validated Settings values
    output: Path = Path("output")
    path: Path | None = None  # the file read, if any

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))


def config_path() -> Path:
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named).expanduser()
    return platformdirs.user_config_path("stillpoint") / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """The user's defaults; an absent file means none. Every value is checked here, once."""
    path = path or config_path()
    if not path.is_file():
        if os.environ.get(CONFIG_ENV):
            raise SettingsError(
                f"config file {path} " + ("is a folder" if path.is_dir() else "does not exist"),
                where=f"{CONFIG_ENV}={path}",
                fix=f"Create it, or unset {CONFIG_ENV}.",
            )
        return Config()
    text = read_text(path, SettingsError)
    fix = 'Fix the syntax: one setting a line, like  breath = "12s".'
    data = parse_toml(text, str(path), SettingsError, fix)
    locate = KeyLocator(str(path), text)
    output = data.pop(OUTPUT_KEY, None)
    if output is not None and (not isinstance(output, str) or not output.strip()):
        raise SettingsError(
            "output must be a folder path", where=locate(OUTPUT_KEY), fix='Quote it: "~/Music".'
        )
    build_settings(data, locate, extra=(OUTPUT_KEY,))  # validates: a bad value names its line
    folder = Path(output).expanduser() if output else Path("output")
    return Config({key: data[key] for key in data if key in Settings.names()}, folder, path)


def setting_source(
    name: str, recipe: Recipe, overrides: Overrides, defaults: Mapping[str, object]
) -> Source | str | None:
    """Where a setting's value was given, strongest first: the command line (or a program's
    day), the recipe's line, the config file's line; None for the built-in default."""
    if name in overrides.values:
        return overrides.locate(name)
    if name in recipe.own_settings:
        return KeyLocator(display_path(recipe.path), read_text(recipe.path, RecipeError))(name)
    path = config_path()
    if name in defaults and path.is_file():
        return KeyLocator(str(path), read_text(path, SettingsError))(name)
    return None
