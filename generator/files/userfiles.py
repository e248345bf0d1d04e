"""Reading the files a user writes: text that must be UTF-8, TOML with its errors at file:line,
and paths shown the way the user would type them.

Recipes, programs, the config file, lexicons and templates are all read through here, so each
one's problems are told alike: what, the file and line, and how to fix it.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from generator.errors import Source, StillpointError

# A recipe, script, template, lexicon or config file: the longest built-in one is about 15 kB.
MAX_TEXT_BYTES = 8_000_000


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


class Unreadable(Exception):
    """A file that is not one to read: why, in a few words (``it is a named pipe (FIFO), not a
    regular file``), for a message that names the file itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def file_kind(mode: int) -> str:
    """What a stat mode says a file is, as a person would call it: ``a named pipe (FIFO)``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def size_of_regular(path: Path) -> int:
    """The size in bytes of the regular file at path; Unreadable otherwise (FileNotFoundError
    when there is nothing there). A folder, a device (``/dev/zero``), a pipe or a socket is
    refused before it is opened: a pipe would be waited on for ever, a device read without end.
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise Unreadable(f"it cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(status.st_mode):
        raise Unreadable(f"it is {file_kind(status.st_mode)}, not a regular file")
    return status.st_size


def read_bounded(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit`` of them; Unreadable otherwise (and
    FileNotFoundError when there is nothing there)."""
    too_large = f"it is larger than {limit / 1_000_000:g} MB"
    if size_of_regular(path) > limit:
        raise Unreadable(too_large)
    try:  # O_NONBLOCK: a file swapped for a pipe since the stat does not make this wait
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        raise Unreadable(f"it cannot be read ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise Unreadable("it is not a regular file")
        try:
            data = file.read(limit + 1)  # a file that grew since it was measured is cut here
        except OSError as error:
            raise Unreadable(f"it cannot be read ({error.strerror})") from None
    if len(data) > limit:
        raise Unreadable(too_large)
    return data


def regular_file(path: Path, error_type: type[StillpointError], fix: str) -> int:
    """The size in bytes of the regular file at path; ``error_type`` naming it otherwise."""
    try:
        return size_of_regular(path)
    except FileNotFoundError:
        raise error_type(f"{display_path(path)} does not exist", fix=fix) from None
    except Unreadable as error:
        raise error_type(_named(path, error.reason), fix=fix) from None


def read_bytes(path: Path, error_type: type[StillpointError], limit: int, fix: str) -> bytes:
    """A regular file's bytes, at most ``limit`` of them; ``error_type`` naming it otherwise."""
    try:
        return read_bounded(path, limit)
    except FileNotFoundError:
        raise error_type(f"{display_path(path)} does not exist", fix=fix) from None
    except Unreadable as error:
        raise error_type(_named(path, error.reason), fix=fix) from None


def _named(path: Path, reason: str) -> str:
    """``it is a device, …`` said of the file by its name: ``/dev/zero is a device, …``."""
    return f"{display_path(path)} {reason.removeprefix('it ')}"


def read_text(path: Path, error_type: type[StillpointError]) -> str:
    """A UTF-8 file's text; one that cannot be read or is not UTF-8 is ``error_type`` naming it
    (and the line of the first bad byte). At most MAX_TEXT_BYTES: a script, not a disk."""
    data = read_bytes(path, error_type, MAX_TEXT_BYTES, "Check the path.")
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
        pattern = _key_pattern(key)
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return Source(self.where, number)
        return self.where

    def in_table(self, header: Source, key: str) -> Source:
        """Where ``key`` is set in the table whose header is at ``header`` (a [[part]]'s own
        hold_breath, not another part's); the header itself when it is not found there."""
        pattern = _key_pattern(key)
        for number in range(header.line + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if _TABLE_HEADER.match(line):
                break  # the next table: the key is not in this one
            if pattern.match(line):
                return Source(self.where, number)
        return header

    def part(self, index: int) -> Source:
        return self.table("part", index)

    def table(self, name: str, index: int) -> Source:
        """Where the index-th [[name]] table starts."""
        header = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
        starts = [n for n, line in enumerate(self.lines, 1) if header.match(line)]
        return Source(self.where, starts[index] if index < len(starts) else 1)


# [settings] or [[part]] on a line of its own (an array's ["a", "b"], line is not one)
_TABLE_HEADER = re.compile(r"^\s*\[\[?[^\[\]=]+\]\]?\s*(?:#.*)?$")


def _key_pattern(key: str) -> re.Pattern[str]:
    """A line that sets ``key`` (bare or quoted), or a table header naming it."""
    return re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
