"""The offline library page: one self-contained ``index.html`` listing every session in a folder.

It reads what a render leaves beside each MP3 (``X.json``: title, duration, chapters, speech;
``X.vtt``: the transcript) and what a program leaves in its folder (an ``.m3u8`` giving the days'
order and titles), and writes a page with inline CSS and JavaScript that works opened straight
from the disk: no server, no network. The page is ``page.html.j2`` rendered by Jinja with
autoescaping on, with ``page.css`` and ``page.js`` inlined. The data travels in the page as JSON;
the script builds the list from it with ``textContent`` only, so no title or transcript line is
ever parsed as HTML.
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import jinja2
from markupsafe import Markup

from generator.base.durations import format_clock
from generator.base.text import counted
from generator.errors import OutputError
from generator.files.atomic import write_atomically
from generator.files.ffmpeg import probe_seconds
from generator.writing.sidecar import Chapter, Line, read_sidecar

PAGE_NAME = "index.html"
ASSETS = Path(__file__).parent  # page.html.j2, page.css and page.js
PAGE_TEMPLATE = "page.html.j2"
_VTT_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})\.(\d{3})$")


@dataclass(frozen=True)
class Session:
    title: str
    file: str  # path relative to the page, POSIX, as shown to the listener
    seconds: float | None  # None: unknown here (the page reads it from the audio as it loads)
    chapters: tuple[Chapter, ...] = ()
    transcript: tuple[Line, ...] = ()

    @property
    def src(self) -> str:
        """The file as a relative URL: spaces, '#', '?' and non-ASCII names must be encoded."""
        return quote(self.file, safe="/")

    @property
    def length(self) -> str:
        return format_clock(self.seconds) if self.seconds is not None else ""


@dataclass(frozen=True)
class Group:
    """The sessions of one folder, in order: the page's own folder, or a program's subfolder."""

    folder: str  # relative to the page, POSIX; "" for the page's own folder
    title: str  # the program's playlist title, else the folder's path
    sessions: tuple[Session, ...]


@dataclass(frozen=True)
class Playlist:
    """What a folder's .m3u8 files say: the order of their entries and each entry's title."""

    title: str
    order: Mapping[str, int]  # file name in the folder -> position
    titles: Mapping[str, str]


def write_library_page(folder: Path) -> Path:
    """Write folder/index.html listing every session MP3 under folder; return its path."""
    if not folder.exists():
        raise OutputError(
            f"the folder {folder} does not exist",
            fix="Give the folder your sessions were rendered into (output/ unless you chose -o).",
        )
    if not folder.is_dir():
        raise OutputError(f"{folder} is not a folder", fix="Give the folder that holds the MP3s.")
    page = folder / PAGE_NAME
    text = page_html(find_sessions(folder), str(folder))
    try:
        write_atomically(page, text)
    except OSError as error:  # read-only folder, disk full…
        raise OutputError(
            f"cannot write {page}: {error.strerror or error}",
            fix="Check that the folder is writable and the disk has space.",
        ) from None
    return page


def find_sessions(folder: Path) -> tuple[Group, ...]:
    """Every MP3 under folder, grouped by folder: the folder itself first, then its subfolders."""
    groups = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted((name for name in dirs if not name.startswith(".")), key=natural_key)
        names = [
            name for name in files if name.lower().endswith(".mp3") and not name.startswith(".")
        ]
        if not names:
            continue
        here = Path(root)
        relative = here.relative_to(folder).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        playlist = read_playlists(here)
        names.sort(
            key=lambda name: (playlist.order.get(name, len(playlist.order)), natural_key(name))
        )
        sessions = tuple(
            session_for(here / name, prefix + name, playlist.titles.get(name, "")) for name in names
        )
        groups.append(Group(prefix.rstrip("/"), playlist.title or prefix.rstrip("/"), sessions))
    return tuple(groups)


def session_for(mp3: Path, file: str, playlist_title: str = "") -> Session:
    """One MP3 with what its sidecars say; an MP3 without them is still listed, by its name."""
    sidecar = read_sidecar(mp3)
    transcript = read_vtt(mp3.with_suffix(".vtt"))
    if sidecar is None:
        title = playlist_title or mp3.stem.replace("_", " ").replace("-", " ").strip() or mp3.name
        return Session(title, file, probe_seconds(mp3), (), transcript)
    return Session(
        playlist_title or sidecar.title or mp3.stem,  # a program's day title says which day
        file,
        sidecar.seconds if sidecar.seconds is not None else probe_seconds(mp3),
        sidecar.chapters,
        transcript or sidecar.speech,
    )


def read_vtt(path: Path) -> tuple[Line, ...]:
    """The cues of a WebVTT file (the subset export.py writes), or () when there is none."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ()
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.strip("\n").split("\n")
        timing = next((n for n, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue  # the header, a NOTE or a STYLE block
        start_text, _, rest = lines[timing].partition("-->")
        start, end = _vtt_seconds(start_text), _vtt_seconds(rest.split()[0] if rest.split() else "")
        words = " ".join(line.strip() for line in lines[timing + 1 :] if line.strip())
        if start is not None and end is not None and words:
            cues.append(Line(start, end, _vtt_text(words)))
    return tuple(sorted(cues, key=lambda line: line.start))


def read_playlists(folder: Path) -> Playlist:
    """The order and titles the folder's playlists give its files (a program's days)."""
    order: dict[str, int] = {}
    titles: dict[str, str] = {}
    heading = ""
    for path in sorted(folder.glob("*.m3u*"), key=lambda p: natural_key(p.name)):
        if path.suffix.lower() not in (".m3u", ".m3u8") or path.name.startswith("."):
            continue
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        title = ""
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("#PLAYLIST:"):
                heading = heading or line.removeprefix("#PLAYLIST:").strip()
            elif line.startswith("#EXTINF:"):
                title = line.partition(",")[2].strip()
            elif line and not line.startswith("#"):
                name = _entry_name(folder, line)
                if name is not None and name not in order:
                    order[name] = len(order)
                    if title:
                        titles[name] = title
                title = ""
    return Playlist(heading, order, titles)


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts day-2 before day-10, ignoring case."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", name)
        if part
    )


def page_data(groups: Sequence[Group]) -> str:
    """The page's data as JSON that is safe inside a <script> element.

    '<', '>' and '&' only occur inside JSON strings, so writing them as \\u escapes changes no
    value while making '</script>' and '<!--' impossible in the element's text.
    """
    document = {
        "groups": [
            {
                "folder": group.folder,
                "title": group.title,
                "sessions": [
                    {
                        "title": session.title,
                        "file": session.file,
                        "src": session.src,
                        "seconds": session.seconds,
                        "length": session.length,
                        "chapters": [
                            {"title": c.title, "start": c.start, "at": _at(c.start)}
                            for c in session.chapters
                        ],
                        "transcript": [
                            {
                                "start": line.start,
                                "end": line.end,
                                "at": _at(line.start),
                                "text": line.text,
                            }
                            for line in session.transcript
                        ],
                    }
                    for session in group.sessions
                ],
            }
            for group in groups
        ]
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_html(groups: Sequence[Group], folder_name: str) -> str:
    """The whole page: the list when there are sessions, else how to render the first one."""
    sessions = [session for group in groups for session in group.sessions]
    known = [session.seconds for session in sessions if session.seconds is not None]
    total = f" ({format_clock(sum(known))})" if sessions and len(known) == len(sessions) else ""
    template = _templates().get_template(PAGE_TEMPLATE)
    return template.render(
        sessions=bool(sessions),
        summary=(counted(len(sessions), "session") + total) if sessions else "No sessions yet",
        folder=folder_name,
        example=shlex.quote(f"{folder_name.rstrip('/') or '.'}/hip-release.mp3"),
        style=Markup(_asset("page.css")),  # noqa: S704 - our own file, not a user's text
        script=Markup(_asset("page.js")),  # noqa: S704 - our own file, not a user's text
        data=Markup(page_data(groups)),  # noqa: S704 - JSON with <, > and & escaped (page_data)
    )


@functools.cache
def _templates() -> jinja2.Environment:
    """The page's templates, beside this module; every value is HTML-escaped unless it is Markup."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _at(seconds: float) -> str:
    """Where a chapter or line starts, never rounded up past it."""
    return format_clock(math.floor(seconds))


def _vtt_seconds(text: str) -> float | None:
    match = _VTT_TIME.match(text.strip())
    if match is None:
        return None
    hours, minutes, seconds, millis = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def _vtt_text(text: str) -> str:
    """Cue text as plain words: tags such as <v Name> dropped, character references decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def _entry_name(folder: Path, entry: str) -> str | None:
    """A playlist entry as the name of a file in folder, or None if it points elsewhere."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", entry):
        return None  # a stream or a file: URL, not one of this folder's files
    for candidate in (entry, unquote(entry)):
        path = Path(os.path.normpath(folder / candidate.replace("\\", "/")))
        if path.parent == Path(os.path.normpath(folder)) and path.is_file():
            return path.name
    return None
