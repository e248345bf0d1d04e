"""What the library lists: a session (an audio file, with what its tags and timeline say of
it) and a group of them (a folder, or a program's days); the page and the feed are written from
these."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote

from generator.writing.sidecar import Chapter, Line


@dataclass(frozen=True)
class Session:
    title: str
    file: str  # path relative to the page, POSIX, as shown to the listener
    seconds: float | None  # None: unknown here (the page reads it from the audio as it loads)
    chapters: tuple[Chapter, ...] = ()
    transcript: tuple[Line, ...] = ()
    description: str = ""  # the file's own (ID3 COMM, MP4 desc, Opus DESCRIPTION)
    cover: bytes = b""  # PNG or JPEG, from the file's tags
    voices: tuple[str, ...] = ()  # as the timeline names them: "piper:joe"
    ambiences: tuple[str, ...] = ()  # "ocean", or a sound file's path
    channels: int | None = None  # 1 or 2; None when no timeline says (a file not rendered here)

    @property
    def src(self) -> str:
        """The file as a relative URL: spaces, '#', '?' and non-ASCII names must be encoded."""
        return quote(self.file, safe="/")

    @property
    def length(self) -> str:
        return player_clock(self.seconds) if self.seconds is not None else ""


@dataclass(frozen=True)
class Group:
    """The sessions of one folder, in order: the page's own folder, or a program's subfolder."""

    folder: str  # relative to the page, POSIX; "" for the page's own folder
    title: str  # the program's playlist title, else the folder's path
    sessions: tuple[Session, ...]
    program: bool = False  # a playlist gives the order: its sessions are days, played in turn


def player_clock(seconds: float) -> str:
    """A length as the browser's audio player writes it (Chromium's controls: whole seconds,
    truncated, m:ss or h:mm:ss), so a card's length and its player's agree: 554.7 s is 9:14.
    page.js's clock() is the same rule, and writes every time the page shows."""
    whole = max(0, math.floor(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
