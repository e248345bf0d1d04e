"""The offline library page: one self-contained ``index.html`` listing every session in a folder.

It reads what a render leaves beside each MP3 (``X.json``: title, duration, chapters, speech;
``X.vtt``: the transcript) and what a program leaves in its folder (an ``.m3u8`` giving the days'
order and titles), and writes a page with inline CSS and JavaScript that works opened straight
from the disk: no server, no network. The page is ``page.html.j2`` rendered by Jinja with
autoescaping on, with ``page.css`` and ``page.js`` inlined. The data travels in the page as JSON;
the script builds the list from it with ``textContent`` only, so no title or transcript line is
ever parsed as HTML.

It lists MP3, M4B and Opus files (a browser's audio element plays all three), each with what its
own tags say for a listener (the description and the cover, through ``tags.read_listing``), and
what tells apart two renders of one session (mono or stereo, the ambience, the voice: from the
timeline JSON). The page shows no absolute path: files by their path within the folder, the
folder by its name. The script remembers, in the browser's storage, where each file was left
and which were played; ``feed.py`` writes the same folder as a podcast feed.

The folder may hold files Stillpoint did not write, and the page is still written: an audio
file whose name is not UTF-8, or that is a pipe, a device or a socket, is left out; a JSON, VTT
or playlist beside it that is too large, damaged or not a regular file is not read; a cover too
large for the page is left out of it. Each is said in one line of ``Library.warnings``, for the
command to print. A pipe or device is never opened.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import os
import re
import shlex
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import jinja2
from markupsafe import Markup

from generator.base.text import counted, printable
from generator.commands.library_page.covers import (
    MAX_PAGE_COVER_BYTES,
    MAX_PAGE_COVERS_BYTES,
    Picture,
    picture,
)
from generator.commands.library_page.feed import write_feed
from generator.commands.library_page.sessions import Group, Session, player_clock
from generator.errors import OutputError
from generator.files.atomic import write_atomically
from generator.files.userfiles import file_kind
from generator.writing.sidecar import Line, Why, read_beside, read_sidecar
from generator.writing.tags import LISTED_SUFFIXES, read_listing

PAGE_NAME = "index.html"
ASSETS = Path(__file__).parent  # page.html.j2, page.css and page.js
PAGE_TEMPLATE = "page.html.j2"
_VTT_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})\.(\d{3})$")
# MP3s from which a terminal is shown a progress bar. From the page cache 1,000 foreign MP3s are
# read in 50 ms (measured); from a cold disk each costs a seek or two (some 10 ms each on a
# spinning disk, more on a network share), so from about 100 the wait can pass a second.
MANY_FILES = 100
READING = "Reading"  # the progress bar's label

Warn = Callable[[str], None]  # told one line: a file left out, or beside an MP3 and not read
Progress = Callable[[str, int, int], None]  # (stage, done, total), as cli's _Progress takes it


@dataclass(frozen=True)
class Playlist:
    """What a folder's .m3u8 files say: the order of their entries and each entry's title."""

    title: str
    order: Mapping[str, int]  # file name in the folder -> position
    titles: Mapping[str, str]


@dataclass(frozen=True)
class Found:
    """The sessions under a folder, and one line for each file left out or not read."""

    groups: tuple[Group, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Library:
    """What ``stillpoint library`` wrote: the page, and what it says on stderr after it."""

    page: Path
    warnings: tuple[str, ...] = ()
    feed: Path | None = None  # the podcast feed, when one was asked for


@dataclass(frozen=True)
class Covers:
    """The covers a page embeds: each distinct picture once, and the sessions' index into them."""

    pictures: tuple[Picture, ...]
    index: Mapping[str, int]  # a session's file -> its picture
    left_out: tuple[str, ...] = ()  # one line for each cover too large for the page


@dataclass(frozen=True)
class _Place:
    """A folder's MP3s to list: names that are UTF-8, of regular files."""

    here: Path
    prefix: str  # the folder relative to the page, POSIX, "/"-ended; "" for the page's own
    names: tuple[str, ...]


def write_library(
    folder: Path, progress: Progress | None = None, feed: str | None = None
) -> Library:
    """Write folder/index.html listing every session under folder; with ``feed`` (the URL the
    folder is served at, see ``feed.feed_base``) folder/feed.xml too, and the chapters and
    covers it points at, beside each file.

    ``progress`` is told (stage, done, total) as the files are read, when there are MANY_FILES.
    """
    if not folder.exists():
        raise OutputError(
            f"the folder {printable(str(folder))} does not exist",
            fix="Give the folder your sessions were rendered into (output/ unless you chose -o).",
        )
    if not folder.is_dir():
        raise OutputError(
            f"{printable(str(folder))} is not a folder", fix="Give the folder that holds the MP3s."
        )
    page = folder / PAGE_NAME
    found = survey(folder, progress)
    covers = page_covers(found.groups)
    text = page_html(found.groups, folder_name(folder), covers)
    write_or_explain(page, text)
    warnings = found.warnings + tuple(
        f"{line} Give it a smaller cover (--set cover=FILE) to see it there."
        for line in covers.left_out
    )
    if feed is None:
        return Library(page, warnings)
    apart = distinctions([session for group in found.groups for session in group.sessions])
    return Library(page, warnings, write_feed(folder, found.groups, feed, apart))


def write_or_explain(path: Path, data: str | bytes) -> None:
    """Write the file atomically, or say in one line why it cannot be written."""
    try:
        write_atomically(path, data)
    except OSError as error:  # read-only folder, disk full…
        raise OutputError(
            f"cannot write {printable(str(path))}: {error.strerror or error}",
            fix="Check that the folder is writable and the disk has space.",
        ) from None


def folder_name(folder: Path) -> str:
    """The folder as the page shows it: its own name, never the path above it ("output")."""
    return printable(folder.resolve().name or "/")


def write_library_page(folder: Path) -> Path:
    """Write folder/index.html (see write_library); return its path, leaving out the warnings."""
    return write_library(folder).page


def find_sessions(folder: Path) -> tuple[Group, ...]:
    """Every audio file under folder, grouped by folder (survey's groups, without warnings)."""
    return survey(folder).groups


def survey(folder: Path, progress: Progress | None = None) -> Found:
    """Every audio file (MP3, M4B, Opus) under folder, grouped by folder: the folder itself
    first, then its subfolders; and one warning line for each file left out or beside one and
    not read."""
    warnings: list[str] = []
    places = _places(folder, warnings.append)
    total = sum(len(place.names) for place in places)
    done = itertools.count(1)

    def read_one() -> None:
        if progress is not None and total >= MANY_FILES:
            progress(READING, next(done), total)

    groups = tuple(_group(place, warnings.append, read_one) for place in places)
    return Found(groups, tuple(warnings))


def _group(place: _Place, warn: Warn, read_one: Callable[[], None]) -> Group:
    """The sessions of one folder, in its playlist's order, then by name."""
    playlist = read_playlists(place.here, warn)
    names = sorted(
        place.names,
        key=lambda name: (playlist.order.get(name, len(playlist.order)), natural_key(name)),
    )
    sessions = []
    for name in names:
        title = playlist.titles.get(name, "")
        sessions.append(session_for(place.here / name, place.prefix + name, title, warn))
        read_one()
    folder = place.prefix.rstrip("/")
    return Group(folder, playlist.title or folder, tuple(sessions), bool(playlist.order))


def _places(folder: Path, warn: Warn) -> list[_Place]:
    """The folders under folder that hold audio files to list, hidden ones (".cache") left out."""

    def unreadable(error: OSError) -> None:
        where, reason = printable(str(error.filename or folder)), error.strerror
        warn(f"skipped the folder {where}: it cannot be read ({reason}). Check its permissions.")

    places = []
    for root, dirs, files in os.walk(folder, onerror=unreadable):
        here = Path(root)  # its files, then its folders, each by name: the warnings in order
        names = tuple(
            name for name in sorted(files, key=natural_key) if _listable(here, name, warn)
        )
        dirs[:] = [
            name
            for name in sorted(dirs, key=natural_key)
            if not name.startswith(".") and _named(here, name, "the folder ", warn)
        ]
        if names:
            relative = here.relative_to(folder).as_posix()
            places.append(_Place(here, "" if relative == "." else f"{relative}/", names))
    return places


def _listable(here: Path, name: str, warn: Warn) -> bool:
    """Whether here/name is an audio file to list; warn says why one is not (never opening it)."""
    if not name.lower().endswith(LISTED_SUFFIXES) or name.startswith("."):
        return False
    if not _named(here, name, "", warn):
        return False
    path = here / name
    try:
        mode = path.stat().st_mode  # a symbolic link's target: a link to an MP3 is listed
    except OSError as error:  # a link to nothing, or a folder that cannot be searched
        warn(
            f"skipped {printable(str(path))}: it cannot be read ({error.strerror}). "
            "Check it, or remove it."
        )
        return False
    if not stat.S_ISREG(mode):  # a pipe would be waited on for ever, a device read without end
        warn(
            f"skipped {printable(str(path))}: it is {file_kind(mode)}, not a regular file. "
            "Remove it, or move it out of the folder."
        )
        return False
    return True


def _named(here: Path, name: str, what: str, warn: Warn) -> bool:
    """Whether name is UTF-8: a page can link only to such a name (os.walk gives a byte that is
    not UTF-8 back as a surrogate, and the page's text cannot be written with one)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        warn(
            f"skipped {what}{printable(str(here / name))}: its name is not valid UTF-8. Rename it."
        )
        return False
    return True


def session_for(
    audio: Path, file: str, playlist_title: str = "", warn: Warn | None = None
) -> Session:
    """One audio file with what its sidecars and its own tags say; a file without sidecars is
    still listed, by its name, with the length its headers give (None: the page reads it from
    the audio as it loads)."""
    json_file, vtt, tell = audio.with_suffix(".json"), audio.with_suffix(".vtt"), warn or _untold
    lost = f"so {printable(str(audio.name))} is listed without"
    sidecar = read_sidecar(audio, _ignored(json_file, f"{lost} its title and chapters", tell))
    transcript = read_vtt(vtt, _ignored(vtt, f"{lost} the transcript it holds", tell))
    tags = read_listing(audio)
    if sidecar is None:
        name = audio.stem.replace("_", " ").replace("-", " ").strip() or audio.name
        return Session(
            playlist_title or name, file, tags.seconds, (), transcript, tags.description, tags.cover
        )
    return Session(
        playlist_title or sidecar.title or audio.stem,  # a program's day title says which day
        file,
        sidecar.seconds if sidecar.seconds is not None else tags.seconds,
        sidecar.chapters,
        transcript or sidecar.speech,
        tags.description,
        tags.cover,
        sidecar.voices,
        sidecar.ambiences,
        sidecar.channels,
    )


def _ignored(path: Path, lost: str, warn: Warn) -> Why:
    """Why a file beside an audio file was not read, as warn's one line: what, where, the fix."""
    return lambda reason: warn(
        f"ignored {printable(str(path))}: {reason}, {lost}. Remove it, or render the session again."
    )


def read_vtt(path: Path, why: Why | None = None) -> tuple[Line, ...]:
    """The cues of a WebVTT file (the subset export.py writes), or () when there is none or it
    cannot be read (``why`` is told why, see read_beside)."""
    tell = why or _untold
    data = read_beside(path, tell)
    if data is None:
        return ()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        tell("it is not UTF-8 text")
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


def read_playlists(folder: Path, warn: Warn | None = None) -> Playlist:
    """The order and titles the folder's playlists give its files (a program's days)."""
    order: dict[str, int] = {}
    titles: dict[str, str] = {}
    heading = ""
    for path in sorted(folder.glob("*.m3u*"), key=lambda p: natural_key(p.name)):
        if path.suffix.lower() not in (".m3u", ".m3u8") or path.name.startswith("."):
            continue
        data = read_beside(path, _playlist_ignored(path, warn or _untold))
        if data is None:
            continue
        text = data.decode("utf-8-sig", errors="replace")
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


def _playlist_ignored(path: Path, warn: Warn) -> Why:
    """Why a playlist was not read, as warn's one line: what, where, how to fix it."""
    return lambda reason: warn(
        f"ignored {printable(str(path))}: {reason}, so the folder's sessions are listed by name. "
        "Remove it."
    )


def _untold(reason: str) -> None:
    """Why a file was not read, when the caller did not ask."""


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts day-2 before day-10, ignoring case."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", name)
        if part
    )


def page_data(groups: Sequence[Group], covers: Covers | None = None) -> str:
    """The page's data as JSON that is safe inside a <script> element.

    '<', '>' and '&' only occur inside JSON strings, so writing them as \\u escapes changes no
    value while making '</script>' and '<!--' impossible in the element's text. Times are
    seconds: the page's script writes every one of them, as the audio player writes its own.
    """
    shown = covers if covers is not None else page_covers(groups)
    apart = distinctions([session for group in groups for session in group.sessions])
    document = {
        "covers": [
            {"src": cover.uri, "type": cover.mime, "sizes": cover.sizes} for cover in shown.pictures
        ],
        "groups": [
            {
                "folder": group.folder,
                "title": group.title,
                "program": group.program,
                "sessions": [
                    _session_data(session, shown.index.get(session.file), apart[session.file])
                    for session in group.sessions
                ],
            }
            for group in groups
        ],
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _session_data(session: Session, cover: int | None, apart: Sequence[str]) -> dict[str, object]:
    return {
        "title": session.title,
        "file": session.file,
        "src": session.src,
        "seconds": session.seconds,
        "description": session.description,
        "cover": cover,
        "apart": list(apart),
        "chapters": [{"title": c.title, "start": c.start} for c in session.chapters],
        "transcript": [
            {"start": line.start, "end": line.end, "text": line.text} for line in session.transcript
        ],
    }


def page_covers(groups: Sequence[Group]) -> Covers:
    """The covers the page embeds: each distinct one once, none over MAX_PAGE_COVER_BYTES, and
    none past MAX_PAGE_COVERS_BYTES in all; a line for each left out."""
    pictures: list[Picture] = []
    seen: dict[bytes, int] = {}
    index: dict[str, int] = {}
    left_out: list[str] = []
    total = 0
    for session in (session for group in groups for session in group.sessions):
        image = picture(session.cover) if session.cover else None
        if image is None:
            continue
        if image.data not in seen:
            megabytes = f"{len(image.data) / 1_000_000:.1f} MB"
            if len(image.data) > MAX_PAGE_COVER_BYTES:
                left_out.append(
                    f"left the cover of {printable(session.file)} out of the page: it is "
                    f"{megabytes}, over the {MAX_PAGE_COVER_BYTES // 1_000_000} MB a page embeds."
                )
                continue
            if total + len(image.data) > MAX_PAGE_COVERS_BYTES:
                left_out.append(
                    f"left the cover of {printable(session.file)} out of the page: its covers "
                    f"came to {MAX_PAGE_COVERS_BYTES // 1_000_000} MB, as many as a page holds."
                )
                continue
            seen[image.data] = len(pictures)
            pictures.append(image)
            total += len(image.data)
        index[session.file] = seen[image.data]
    return Covers(tuple(pictures), index, tuple(left_out))


def distinctions(sessions: Sequence[Session]) -> dict[str, tuple[str, ...]]:
    """What tells apart sessions of one title, each file's in a few words ("stereo", "ocean
    ambience", "voice joe"): only what differs among them (the length the page shows anyway);
    nothing for a title that only one session has."""
    same_title: dict[str, list[Session]] = {}
    for session in sessions:
        same_title.setdefault(session.title.casefold(), []).append(session)
    apart: dict[str, tuple[str, ...]] = {session.file: () for session in sessions}
    for namesakes in same_title.values():
        if len(namesakes) < 2:
            continue
        facets = [tuple(facet(session) for facet in FACETS) for session in namesakes]
        differing = [n for n in range(len(FACETS)) if len({labels[n] for labels in facets}) > 1]
        for session, labels in zip(namesakes, facets, strict=True):
            apart[session.file] = tuple(labels[n] for n in differing if labels[n])
    return apart


def _channels_label(session: Session) -> str:
    return {1: "mono", 2: "stereo"}.get(session.channels or 0, "")


def _ambience_label(session: Session) -> str:
    """ "ocean ambience", "no ambience"; nothing where no timeline says (a foreign file)."""
    if session.channels is None:
        return ""
    names = ", ".join(_sound_name(name) for name in session.ambiences)
    return f"{names} ambience" if names else "no ambience"


def _voice_label(session: Session) -> str:
    names = ", ".join(_sound_name(voice) for voice in session.voices)
    return f"{'voices' if len(session.voices) > 1 else 'voice'} {names}" if names else ""


FACETS: tuple[Callable[[Session], str], ...] = (_channels_label, _ambience_label, _voice_label)


def _sound_name(name: str) -> str:
    """A voice or a sound as a listener knows it, never a path: "piper:joe" -> "joe",
    "pyttsx3:gmw/en-us" -> "en-us", "/home/sam/rain.wav" -> "rain"."""
    last = re.split(r"[:/\\]", name.strip())[-1]
    return (last.rsplit(".", 1)[0] if "." in last[1:] else last) or "unnamed"


def page_html(groups: Sequence[Group], folder_name: str, covers: Covers | None = None) -> str:
    """The whole page: the list when there are sessions, else how to render the first one.

    ``folder_name`` is the folder's own name (folder_name()): the page shows no path above it."""
    sessions = [session for group in groups for session in group.sessions]
    known = [session.seconds for session in sessions if session.seconds is not None]
    total = f" ({player_clock(sum(known))})" if sessions and len(known) == len(sessions) else ""
    template = _templates().get_template(PAGE_TEMPLATE)
    return template.render(
        sessions=bool(sessions),
        summary=(counted(len(sessions), "session") + total) if sessions else "No sessions yet",
        folder=folder_name,
        example=shlex.quote(f"{folder_name.rstrip('/') or '.'}/hip-release.mp3"),
        style=Markup(_asset("page.css")),  # noqa: S704 - our own file, not a user's text
        script=Markup(_asset("page.js")),  # noqa: S704 - our own file, not a user's text
        data=Markup(page_data(groups, covers)),  # noqa: S704 - JSON with <, > and & escaped
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
