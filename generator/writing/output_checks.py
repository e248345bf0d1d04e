"""Where a render may write, checked before any work: the audio file (MP3, M4B or Opus) and the
sidecars beside it.

A render that would fail at its very end (the output is a folder, its folder cannot be made)
should fail before minutes of speech synthesis; one that would write over a file it reads (the
recipe, a template, a sound) must not happen at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from generator.errors import OutputError
from generator.files.atomic import PART_SUFFIX
from generator.files.ffmpeg import SUFFIXES, Container
from generator.markup.cues import OFF, AmbienceChange, Chapter, Cue, Window, walk
from generator.recipes.catalogue import Catalogue
from generator.recipes.recipe import Recipe
from generator.sound.ambience import BEDS
from generator.writing.tags import MAX_OGG_CHAPTERS

SIDECARS = (".json", ".vtt", ".lrc", ".prompts.txt")  # what render writes beside the audio
_FIX = "Choose another output path with -o."
# What a hidden name adds to a file's: ".", then ".PID" (up to 7 digits), ".RANDOM" (8) and ".part".
PART_NAME_EXTRA = 1 + 8 + 9 + len(PART_SUFFIX)
DEFAULT_NAME_MAX = 255


def beside(output: Path, suffix: str) -> Path:
    """The sidecar with this suffix (``.json``, ``.prompts.txt``) beside the audio file."""
    return output.with_name(output.stem + suffix)


def written_beside(output: Path) -> tuple[Path, ...]:
    """The audio file and every sidecar a render of it may write."""
    return (output, *(beside(output, suffix) for suffix in SIDECARS))


def check_container(output: Path) -> Container:
    """The container output's suffix names; OutputError for any other suffix (a sidecar takes
    the output's name with its own suffix: ``-o x.json`` would be written over)."""
    container = Container.of(output)
    if container is None:
        raise OutputError(
            f"{output} does not end in {', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]}",
            fix="Name the output like session.mp3 (or session.m4b for audiobook and podcast "
            "apps, session.opus for the smallest file).",
        )
    return container


def check_chapters(output: Path, cues: Sequence[Cue]) -> None:
    """OutputError, before any work, when an Opus file is asked for more chapters than its
    comments can number (``CHAPTER001`` to ``CHAPTER999``: ``tags.py``), at the first too many."""
    if Container.of(output) is not Container.OPUS:
        return
    chapters = [cue for cue in walk(cues) if isinstance(cue, Chapter)]
    if len(chapters) > MAX_OGG_CHAPTERS:
        raise OutputError(
            f"an Opus file holds at most {MAX_OGG_CHAPTERS} chapters, and this session has "
            f"{len(chapters)}",
            where=chapters[MAX_OGG_CHAPTERS].source,
            fix="Render it as an MP3 or M4B (-o NAME.mp3), or give it fewer [chapter] lines.",
        )


def check_output(output: Path, inputs: Iterable[Path] = ()) -> None:
    """OutputError unless every file of the render can be written and none is one of inputs."""
    _check_name_lengths(output, _check_folder(output.parent))
    for path in written_beside(output):
        if path.is_dir():
            raise OutputError(f"{path} is a folder", fix="Give a file name such as session.mp3.")
    check_not_input(output, inputs)


def _check_name_lengths(output: Path, folder: Path) -> None:
    """Every name the render writes fits the file system: the audio file, each sidecar, and the
    hidden name each is first written under (``.NAME.PID.RANDOM.part``, PART_NAME_EXTRA bytes
    more)."""
    limit = _name_max(folder)
    for path in written_beside(output):
        size = len(os.fsencode(path.name)) + PART_NAME_EXTRA
        if size > limit:
            room = limit - PART_NAME_EXTRA - max(len(suffix) for suffix in (*SUFFIXES, *SIDECARS))
            raise OutputError(
                f"the output name is too long: {path.name[:40]}… (and its temporary name) would "
                f"be {size} bytes, over the {limit} a file name may have here",
                fix=f"Choose a name of at most {room} bytes before {output.suffix} with -o.",
            )


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, the folder's file system allows (255 on Linux's)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX


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
    files += [Path(bed) for bed in beds if bed.lower() != OFF and bed not in BEDS]
    if recipe.settings.cover:
        files.append(Path(recipe.settings.cover))
    return files


def _check_folder(folder: Path) -> Path:
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
    return existing


def _real(path: Path) -> Path:
    """The file a path names, whatever links or relative parts lead to it."""
    return path.expanduser().resolve()
