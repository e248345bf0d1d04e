"""A program's playlist: an extended M3U (UTF-8, .m3u8) with relative paths, titles, lengths."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from generator.base.text import one_line


@dataclass(frozen=True)
class Entry:
    file: str  # relative to the playlist, so the folder can be copied anywhere
    title: str
    seconds: float


def m3u8(title: str, entries: Sequence[Entry]) -> str:
    """The playlist's text; lengths are whole seconds, rounded up as players expect."""
    lines = ["#EXTM3U", f"#PLAYLIST:{one_line(title)}"]
    for entry in entries:
        lines.append(f"#EXTINF:{math.ceil(entry.seconds)},{one_line(entry.title)}")
        lines.append(entry.file)
    return "\n".join(lines) + "\n"
