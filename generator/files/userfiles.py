"""Reading the files a user writes: text that must be UTF-8, TOML with its errors at file:line,
and paths shown the way the user would type them.

Recipes, programs, the config file, lexicons and templates are all read through here, so each
one's problems are told alike: what, the file and line, and how to fix it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from generator.errors import Source, StillpointError


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
