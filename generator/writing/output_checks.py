"""Where a render may write, checked before any work: the MP3 and the sidecars beside it.

A render that would fail at its very end (the output is a folder, its folder cannot be made)
should fail before minutes of speech synthesis; one that would write over a file it reads (the
recipe, a template, a sound) must not happen at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from generator.errors import OutputError
from generator.markup.cues import OFF, AmbienceChange, Cue, Window, walk
from generator.recipes.catalogue import Catalogue
from generator.recipes.recipe import Recipe

SIDECARS = (".json", ".vtt", ".lrc", ".prompts.txt")  # what render writes beside the MP3
_FIX = "Choose another output path with -o."


def beside(output: Path, suffix: str) -> Path:
    """The sidecar with this suffix (``.json``, ``.prompts.txt``) beside the MP3."""
    return output.with_name(output.stem + suffix)


def written_beside(output: Path) -> tuple[Path, ...]:
    """The MP3 and every sidecar a render of it may write."""
    return (output, *(beside(output, suffix) for suffix in SIDECARS))


def check_output(output: Path, inputs: Iterable[Path] = ()) -> None:
    """OutputError unless every file of the render can be written and none is one of inputs."""
    for path in written_beside(output):
        if path.is_dir():
            raise OutputError(f"{path} is a folder", fix="Give a file name such as session.mp3.")
    _check_folder(output.parent)
    check_not_input(output, inputs)


def check_not_input(output: Path, inputs: Iterable[Path]) -> None:
    """OutputError if the render would write over one of the files it reads."""
    read = {_real(path): path for path in inputs}
    for path in written_beside(output):
        source = read.get(_real(path))
        if source is None:
            continue
        written = output if path == output else f"{path}, written beside {output.name},"
        raise OutputError(f"{written} is a file this render reads ({source})", fix=_FIX)


def session_inputs(
    recipe: Recipe, templates: Mapping[str, Path], cues: Sequence[Cue], catalogue: Catalogue
) -> list[Path]:
    """Every file a render of the session reads: its recipe, templates, sounds and pictures."""
    files = [
        recipe.path,
        *templates.values(),
        *catalogue.lexicon_files,
        *catalogue.sounds().values(),
    ]
    beds = [recipe.settings.ambience]
    for cue in walk(cues):
        if isinstance(cue, Window) and cue.music:
            files.append(Path(cue.music))
        elif isinstance(cue, AmbienceChange):
            beds.append(cue.bed)
    files += [Path(bed) for bed in beds if bed.lower() != OFF]  # a built-in bed is no file
    if recipe.settings.cover:
        files.append(Path(recipe.settings.cover))
    return files


def _check_folder(folder: Path) -> None:
    """The folder exists and is writable, or the nearest existing one above it would let it be
    made (a file in the way, or no permission, are found here rather than after the work)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            break
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write into {folder}: {existing} is not a folder", fix=_FIX)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {folder}: permission denied", fix=_FIX)


def _real(path: Path) -> Path:
    """The file a path names, whatever links or relative parts lead to it."""
    return path.expanduser().resolve()
