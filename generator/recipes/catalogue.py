"""Where sessions, templates and sounds are found: the user's scripts folders, then the built-ins.

A user's file shadows a built-in of the same name, so copying one template into a scripts
folder and editing it changes every session that uses it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from generator.errors import EnvironmentProblem, SessionNotFoundError
from generator.recipes.program import is_program

SCRIPT_SUFFIXES = (".toml", ".j2", ".txt")
SOUND_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
LEXICON = "lexicon.toml"


@functools.cache  # asked 300 times by a first `list` (its every template search): 10 ms
def builtin_root() -> Path:
    """The folder holding the built-in ``scripts/`` and ``sounds/``.

    Inside an installed wheel they travel in the package (``_library``); in a checkout or an
    editable install they are the repository's own top-level folders.
    """
    package = Path(__file__).resolve().parent.parent  # generator/
    for root in (package / "_library", package.parent):
        if (root / "scripts" / "sessions").is_dir() and (root / "sounds").is_dir():
            return root
    raise EnvironmentProblem(
        f"Stillpoint's built-in library is missing (looked in {package / '_library'})",
        fix="Reinstall stillpoint.",
    )


def user_scripts_dir() -> Path:
    """The user's own scripts folder (searched when it exists; `stillpoint new` writes there)."""
    return platformdirs.user_data_path("stillpoint") / "scripts"


@dataclass(frozen=True)
class Catalogue:
    """The scripts folders to search, most specific first; the built-in library is last."""

    user_dirs: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        for folder in self.user_dirs:
            if not folder.is_dir():
                raise SessionNotFoundError(
                    f"scripts folder {folder} does not exist",
                    fix="Pass an existing folder to --scripts (or STILLPOINT_SCRIPTS).",
                )

    @property
    def script_roots(self) -> tuple[Path, ...]:
        return (*self.user_dirs, builtin_root() / "scripts")

    @property
    def template_dirs(self) -> tuple[Path, ...]:
        return tuple(root / "templates" for root in self.script_roots)

    @property
    def sound_dirs(self) -> tuple[Path, ...]:
        return (*(folder / "sounds" for folder in self.user_dirs), builtin_root() / "sounds")

    @property
    def lexicon_files(self) -> tuple[Path, ...]:
        """Pronunciation lexicons, built-in first: a user's entries win."""
        roots = reversed(self.script_roots)
        return tuple(root / LEXICON for root in roots if (root / LEXICON).is_file())

    def sessions(self) -> dict[str, Path]:
        """Every session recipe by name; a user's recipe hides a built-in of the same name."""
        found: dict[str, Path] = {}
        for root in reversed(self.script_roots):
            for recipe in sorted((root / "sessions").glob("*.toml")):
                found[recipe.stem] = recipe
        return dict(sorted(found.items()))

    def find_session(self, ref: str) -> Path:
        """Resolve SESSION: a recipe name, or a path to a .toml recipe or a .j2/.txt script."""
        path = Path(ref).expanduser()
        if path.suffix in SCRIPT_SUFFIXES and path.is_file():
            return path
        sessions = self.sessions()
        if ref in sessions:
            return sessions[ref]
        if path.suffix in SCRIPT_SUFFIXES or "/" in ref:
            raise SessionNotFoundError(
                f"no such file: {ref}", fix="Check the path, or give a session name."
            )
        raise SessionNotFoundError(
            f"no session named {ref!r}",
            fix=f"Known sessions: {', '.join(sessions) or 'none'} (see `stillpoint list`).",
        )

    def programs(self) -> dict[str, Path]:
        """Every program (sessions over days) by name; a user's hides a built-in of its name."""
        found: dict[str, Path] = {}
        for root in reversed(self.script_roots):
            for program in sorted((root / "programs").glob("*.toml")):
                found[program.stem] = program
        return dict(sorted(found.items()))

    def find_program(self, ref: str) -> Path | None:
        """The program REF names (a program name or a path to one), or None if it is no program."""
        path = Path(ref).expanduser()
        if path.suffix == ".toml" and path.is_file():
            return path if is_program(path) else None
        return self.programs().get(ref)

    def sounds(self) -> dict[str, Path]:
        """Every sound by name (file stem); a user's sound hides a built-in of the same name."""
        found: dict[str, Path] = {}
        for folder in reversed(self.sound_dirs):
            for sound in sorted(folder.glob("*")):
                if sound.suffix.lower() in SOUND_SUFFIXES:
                    found[sound.stem] = sound
        return dict(sorted(found.items()))
