"""What made a file, kept inside it: the recipe, its templates, the settings, the length asked for.

Embedded as JSON in the file's tags (an MP3's ``stillpoint`` TXXX frame, an M4B's
``----:com.stillpoint:record`` atom, an Opus file's ``STILLPOINT_RECORD`` comment: ``tags.py``).
``stillpoint render --from FILE`` reads it back, lays the files out in a temporary scripts folder
and renders the same session with the same settings: the same script, so (with the clips in the
speech cache) the same audio, even after the library or the user's templates have changed since.
Sound files (bells of the user's own, music, ambience files) are referred to by name or path, not
embedded.
"""

from __future__ import annotations

import json
import re
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
from generator.base.durations import MAX_SECONDS
from generator.errors import SettingsError
from generator.files.userfiles import display_path, regular_file
from generator.recipes.overrides import Overrides
from generator.recipes.recipe import Recipe
from generator.recipes.settings import Settings
from generator.speech.lexicon import Lexicon
from generator.writing.tags import UnreadableTag, read_record

FORMAT = 1
SESSION_FOLDER = "sessions"
# A shared file is anyone's: the record inside it is read within bounds. hip-release's record is
# about 40,000 characters and 4 levels deep.
MAX_RECORD_CHARS = 4_000_000
MAX_RECORD_DEPTH = 32
MAX_NAME_BYTES = 255  # of a file name, or a part of a path: what Linux file systems allow
_FRACTION = re.compile(r"-?[0-9]{1,30}(/[0-9]{1,30})?")  # the form Fraction's str() gives
TEMPLATE_FOLDER = "templates"
_GIVE = "Give an MP3 Stillpoint made (or an M4B or Opus file)."


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


def read(path: Path) -> Record:
    """The record inside a file Stillpoint made (MP3, M4B or Opus); SettingsError if there is
    none or it cannot be trusted. A shared file is anyone's: every value is checked here, with
    bounds, before use."""
    shown = display_path(path)
    regular_file(path, SettingsError, _GIVE)
    try:
        text = read_record(path)
    except (MutagenError, OSError, UnreadableTag) as error:
        raise SettingsError(f"cannot read {shown}: {error}", fix=_GIVE) from None
    if text is None:
        raise SettingsError(
            f"{shown} has no Stillpoint recipe inside",
            fix="Give an MP3 rendered by Stillpoint 0.1 or later, or an M4B or Opus file by a "
            "later one.",
        )
    try:
        return _record(_parsed(text))
    except _Untrusted as error:
        raise SettingsError(
            f"the recipe inside {shown} cannot be used: {error}",
            fix="It was made by another version of Stillpoint, or damaged or altered since.",
        ) from None


class _Untrusted(Exception):
    """A record's value is of the wrong kind, out of bounds, or names a place it may not."""


def _parsed(text: str) -> dict[str, Any]:
    if len(text) > MAX_RECORD_CHARS:
        raise _Untrusted(f"it is over {MAX_RECORD_CHARS:,} characters")
    if _depth(text) > MAX_RECORD_DEPTH:
        raise _Untrusted(f"it nests deeper than {MAX_RECORD_DEPTH} levels")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise _Untrusted(f"it is not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _Untrusted(f"format {data.get('format') if isinstance(data, dict) else data!r}")
    return data


def _depth(text: str) -> int:
    """How deep brackets nest in JSON text, strings skipped: checked before the parser recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> object:
    raise _Untrusted(f"it holds {name}, which is not a number")


def _record(data: dict[str, Any]) -> Record:
    files = _files(data.get("files"))
    recipe_file = _string(data.get("recipe_file"), "recipe_file")
    if recipe_file not in files or not recipe_file.startswith(f"{SESSION_FOLDER}/"):
        raise _Untrusted(f"recipe_file {recipe_file!r} is not one of its own session files")
    skip = data.get("skip")
    if not isinstance(skip, list) or not all(isinstance(name, str) for name in skip):
        raise _Untrusted("skip is not a list of names")
    return Record(
        name=_name(data.get("name")),
        recipe_file=recipe_file,
        files=files,
        settings={key: _value(value, key) for key, value in _table(data, "settings").items()},
        variables=dict(_table(data, "variables")),
        skip=tuple(skip),
        target=_target(data.get("target")),
        version=_string(data.get("stillpoint"), "stillpoint"),
    )


def _string(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise _Untrusted(f"{key} is not text")
    return value


def _name(value: object) -> str:
    name = _string(value, "name")
    if not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
        raise _Untrusted(f"name {name!r} is not a file name")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise _Untrusted(f"name is longer than {MAX_NAME_BYTES} bytes")
    return name


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _Untrusted(f"{key} is not a table")
    return value


def _files(value: object) -> dict[str, str]:
    """The record's files: relative paths inside the folder they will be laid out in, none a
    folder of another, each part a legal file name."""
    if not isinstance(value, dict) or not value:
        raise _Untrusted("files is not a table of texts")
    for key, text in value.items():
        if not isinstance(text, str):
            raise _Untrusted(f"file {key!r} is not text")
        _relative(key)
    folders = {"/".join(key.split("/")[:n]) for key in value for n in range(1, key.count("/") + 1)}
    for key in value:
        if key in folders:
            raise _Untrusted(f"{key!r} is both a file and a folder")
    return dict(value)


def _relative(key: str) -> None:
    parts = key.split("/")
    if not key or "\0" in key or "\\" in key or key.startswith("/"):
        raise _Untrusted(f"file name {key!r} is not a relative path")
    for part in parts:
        if part in ("", ".", ".."):
            raise _Untrusted(f"file name {key!r} leads outside its folder")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise _Untrusted(f"file name {key[:40]!r}… has a part over {MAX_NAME_BYTES} bytes")


def _value(value: object, key: str) -> object:
    """A setting's value: text, a number or an exact fraction written as {"fraction": "n/d"}."""
    if isinstance(value, dict):
        if set(value) != {"fraction"} or not isinstance(value["fraction"], str):
            raise _Untrusted(f"setting {key!r} is not a value")
        return _fraction(value["fraction"], key)
    if isinstance(value, str | int | float | bool):
        return value
    raise _Untrusted(f"setting {key!r} is not a value")


def _fraction(text: str, key: str) -> Fraction:
    if not _FRACTION.fullmatch(text):
        raise _Untrusted(f"{key} {text[:40]!r} is not a fraction such as 45/2")
    numerator, _, denominator = text.partition("/")
    if denominator and int(denominator) == 0:
        raise _Untrusted(f"{key} {text!r} divides by zero")
    return Fraction(int(numerator), int(denominator or 1))


def _target(value: object) -> Fraction | None:
    """The length asked for, in seconds, within what --minutes allows."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"fraction"}:
        raise _Untrusted("target is not a length")
    target = _fraction(str(value["fraction"]), "target")
    if not 0 < target <= MAX_SECONDS:
        raise _Untrusted(f"target {float(target):g} s is not a length of up to 12 hours")
    return target


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
