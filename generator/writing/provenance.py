"""What made a file, kept inside it: the recipe, its templates, the settings, the length asked for.

Embedded as JSON in the MP3's ``stillpoint`` TXXX frame. ``stillpoint render --from FILE.mp3``
reads it back, lays the files out in a temporary scripts folder and renders the same session with
the same settings: the same script, so (with the clips in the speech cache) the same audio, even
after the library or the user's templates have changed since. Sound files (bells of the user's
own, music, ambience files) are referred to by name or path, not embedded.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mutagen import MutagenError

from generator import __version__
from generator.errors import SettingsError
from generator.recipes.overrides import Overrides
from generator.recipes.recipe import Recipe
from generator.recipes.settings import Settings
from generator.speech.lexicon import Lexicon
from generator.writing.tags import read_record

FORMAT = 1
SESSION_FOLDER = "sessions"
TEMPLATE_FOLDER = "templates"


@dataclass(frozen=True)
class Record:
    """A render's inputs, enough to make it again."""

    name: str  # the recipe's name; its file is files[recipe_file]
    recipe_file: str  # where the recipe (or script) goes in the scripts folder
    files: Mapping[str, str]  # path in a scripts folder -> text: the recipe, templates, lexicon
    settings: Mapping[str, object]  # every setting's final value
    variables: Mapping[str, object]  # template variables set over the recipe (--set, a program)
    skip: tuple[str, ...] = ()
    target: Fraction | None = None  # the exact length asked for, in seconds
    version: str = __version__

    def __post_init__(self) -> None:
        for name in ("files", "settings", "variables"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def to_json(self) -> str:
        document = {
            "format": FORMAT,
            "stillpoint": self.version,
            "name": self.name,
            "recipe_file": self.recipe_file,
            "settings": {key: _plain(value) for key, value in self.settings.items()},
            "variables": dict(self.variables),
            "skip": list(self.skip),
            "target": _plain(self.target) if self.target is not None else None,
            "files": dict(sorted(self.files.items())),
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))

    @property
    def overrides(self) -> Overrides:
        values = {**self.variables, **self.settings}
        return Overrides(values, lambda key: f"the recipe record's {key}")


def make_record(
    recipe: Recipe,
    templates: Mapping[str, Path],
    lexicons: Mapping[str, Lexicon],
    skip: Sequence[str],
    target: Fraction | None,
) -> Record:
    """The record of a render of this recipe (its settings final, voices resolved)."""
    files = {f"{TEMPLATE_FOLDER}/{name}": _text(path) for name, path in templates.items()}
    recipe_file = f"{SESSION_FOLDER}/{recipe.path.name}"
    files[recipe_file] = _text(recipe.path)
    if lexicons:
        files["lexicon.toml"] = _lexicon_toml(lexicons)
    settings = {name: getattr(recipe.settings, name) for name in Settings.names()}
    variables = {k: v for k, v in recipe.overrides.items() if k not in Settings.names()}
    return Record(recipe.name, recipe_file, files, settings, variables, tuple(skip), target)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _lexicon_toml(lexicons: Mapping[str, Lexicon]) -> str:
    """The merged lexicon of each engine, as the engine tables of one file (it wins over all)."""
    lines = []
    for engine, lexicon in sorted(lexicons.items()):
        lines.append(f"[{engine}]")
        entries = sorted(lexicon.entries.items())
        lines += [f"{json.dumps(word)} = {json.dumps(said)}" for word, said in entries]
    return "\n".join(lines) + "\n"


def _plain(value: object) -> object:
    """A JSON value; exact fractions are kept exact as {"fraction": "n/d"}."""
    if isinstance(value, Fraction):
        return {"fraction": str(value)}
    return value


def _exact(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"fraction"}:
        return Fraction(str(value["fraction"]))
    return value


def read(path: Path) -> Record:
    """The record inside a file Stillpoint made; SettingsError if there is none."""
    try:
        text = read_record(path)
    except (MutagenError, OSError) as error:
        raise SettingsError(
            f"cannot read {path}: {error}", fix="Give an MP3 Stillpoint made."
        ) from None
    if text is None:
        raise SettingsError(
            f"{path} has no Stillpoint recipe inside",
            fix="Give an MP3 rendered by Stillpoint 0.1 or later.",
        )
    try:
        data: dict[str, Any] = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return Record(
            name=str(data["name"]),
            recipe_file=str(data["recipe_file"]),
            files={str(k): str(v) for k, v in data["files"].items()},
            settings={str(k): _exact(v) for k, v in data["settings"].items()},
            variables=dict(data["variables"]),
            skip=tuple(data["skip"]),
            target=_exact(data["target"]) if data["target"] is not None else None,  # type: ignore[arg-type]
            version=str(data["stillpoint"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SettingsError(
            f"the recipe inside {path} cannot be read ({error})",
            fix="It was made by another version of Stillpoint, or damaged.",
        ) from None


@contextmanager
def laid_out(record: Record) -> Iterator[Path]:
    """A temporary scripts folder holding the record's files; yields the recipe's path."""
    with tempfile.TemporaryDirectory(prefix="stillpoint-from-") as folder:
        root = Path(folder)
        for relative, text in record.files.items():
            target = (root / relative).resolve()
            if not target.is_relative_to(root.resolve()):  # a crafted record may not escape
                raise SettingsError(f"the record names a file outside its folder: {relative}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        yield root / record.recipe_file
