"""`stillpoint list`: every session with its estimated length and the range --minutes reaches.

Working those out renders every session's templates and reshapes each to its shortest and
longest (0.6 s of CPU for the sixteen built-in sessions, measured; 1.2 s before a session's
extremes were placed whole, each part no longer alone at three stretches). The rows
depend only on the scripts and sounds folders, the user's config and Stillpoint's version, so
they are kept in the cache folder under a digest of all of those, the folders' files read
whole: run again with nothing changed, `list` reads them back instead (a few milliseconds);
change any file and the next `list` works them out afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from generator import __version__
from generator.base.durations import format_clock
from generator.base.text import counted
from generator.errors import StillpointError
from generator.files.atomic import write_atomically
from generator.recipes.catalogue import Catalogue
from generator.recipes.program import load_program
from generator.session import prepare, reach, usual_length

LISTING_FILE = "list.json"
MAX_FILES = 5_000  # files read for the digest; a scripts folder past this is not cached
MAX_FILE_BYTES = 1_000_000  # larger files (sound files) enter the digest by size and time


@dataclass(frozen=True)
class Listed:
    """One line of the list: a session's or program's name, length, range and title."""

    name: str
    length: str  # "47:18", or "program"
    span: str  # "7:28-2:01:28", "fixed", or ""
    title: str

    def line(self) -> str:
        if self.length == "program":
            return f"{self.name:<24}  program                 {self.title}"
        return f"{self.name:<24} ~{self.length}  {self.span:<15}  {self.title}"


def listing(catalogue: Catalogue, defaults: Mapping[str, object], cache: Path) -> list[Listed]:
    """Every session and program: the rows kept in ``cache`` when nothing they depend on has
    changed, else worked out and kept."""
    key = _digest(catalogue, defaults)
    kept = _kept(cache / LISTING_FILE, key) if key else None
    if kept is not None:
        return kept
    rows = [*(_session(name, catalogue, defaults) for name in catalogue.sessions()),
            *(_program(name, path) for name, path in catalogue.programs().items())]  # fmt: skip
    if key:
        _keep(cache / LISTING_FILE, key, rows)
    return rows


def _session(name: str, catalogue: Catalogue, defaults: Mapping[str, object]) -> Listed:
    try:
        prepared = prepare(name, catalogue, defaults=defaults)
        usual = usual_length(prepared, catalogue)
        shortest, longest = reach(prepared, catalogue)
    except StillpointError as error:
        return Listed(name, "  ?  ", "", f"(broken: {error.message()})")
    span = "fixed"
    if longest - shortest >= 1:
        span = f"{format_clock(float(shortest))}-{format_clock(float(longest))}"
    return Listed(name, format_clock(float(usual)), span, prepared.recipe.title)


def _program(name: str, path: Path) -> Listed:
    try:
        program = load_program(path)
    except StillpointError as error:
        return Listed(name, "program", "", f"(broken: {error.message()})")
    return Listed(name, "program", "", f"{program.title} ({counted(len(program.days), 'day')})")


def _digest(catalogue: Catalogue, defaults: Mapping[str, object]) -> str:
    """A digest of everything the rows depend on, or "" when the folders are too large to read
    (then nothing is kept)."""
    digest = hashlib.sha256(f"{__version__}\n{sorted(map(repr, defaults.items()))}".encode())
    for count, path in enumerate(_files(catalogue), 1):
        if count > MAX_FILES:
            return ""
        digest.update(_fingerprint(path))
    return digest.hexdigest()


def _files(catalogue: Catalogue) -> Iterator[Path]:
    for root in (*catalogue.script_roots, *catalogue.sound_dirs):
        if root.is_dir():
            yield root  # its name: a folder given in another order lists differently
            yield from sorted(path for path in root.rglob("*") if path.is_file())


def _fingerprint(path: Path) -> bytes:
    """The path and its content (a small file), or its size and time (a large one)."""
    try:
        status = path.stat()
        if path.is_dir() or status.st_size > MAX_FILE_BYTES:
            return f"{path}\0{status.st_size}\0{status.st_mtime_ns}\n".encode()
        return f"{path}\0".encode() + hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return f"{path}\0unreadable\n".encode()


def _kept(path: Path, key: str) -> list[Listed] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("key") != key:
            return None
        return [Listed(**row) for row in document["rows"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # absent, torn, older
        return None


def _keep(path: Path, key: str, rows: list[Listed]) -> None:
    """Keep the rows; a cache that cannot be written only costs the next list its time."""
    document = {"key": key, "rows": [asdict(row) for row in rows]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(document, ensure_ascii=False) + "\n")
    except OSError:
        pass
