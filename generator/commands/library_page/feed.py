"""`stillpoint library DIR --feed BASE_URL`: the folder as a podcast feed, DIR/feed.xml.

Served from the folder (``python3 -m http.server --directory DIR``), the feed lets a phone's
podcast app subscribe and download every session, which then plays offline like any episode.
It is RSS 2.0 with the iTunes tags podcast apps read and the Podcast Namespace's chapters and
transcript: one item for each audio file the library page lists, in the page's order, its
enclosure at BASE_URL + the file's path within the folder. Beside each file it writes what the
feed points at: ``X.chapters.json`` (JSON Chapters 1.2.0, from the timeline JSON) and
``X.cover.png`` or ``X.cover.jpg`` (the cover in the file's own tags); the VTT a render left is
the transcript. The feed is written last, atomically, so it never names a file not yet there.

The XML is built by ``xml.etree.ElementTree``, which escapes every text and attribute; the
characters XML 1.0 cannot hold at all (control characters, lone surrogates) are dropped first.
Each item's date is its file's modification time in UTC: the same files give the same feed,
byte for byte, and a file rendered again is a new episode to the app (its guid, the path and
the size in bytes, changes too when its length does).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit
from xml.etree import ElementTree as ET

from generator import __version__
from generator.base.text import printable
from generator.commands.library_page.covers import picture
from generator.commands.library_page.sessions import Group, Session
from generator.errors import OutputError, SettingsError
from generator.files.atomic import write_atomically
from generator.files.userfiles import Unreadable, read_bounded

FEED_NAME = "feed.xml"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
# The enclosure's type, by the file's suffix (what the library lists: tags.LISTED_SUFFIXES).
CONTENT_TYPES = {".mp3": "audio/mpeg", ".m4b": "audio/mp4", ".opus": "audio/ogg"}
CHAPTERS_SUFFIX = ".chapters.json"
CHAPTERS_TYPE = "application/json+chapters"  # the Podcast Namespace's type for JSON Chapters
CHAPTERS_VERSION = "1.2.0"
COVER_SUFFIX = ".cover"  # + .png or .jpg
# podcast:guid is a UUIDv5 of the feed's URL (scheme and trailing slashes removed) in this
# namespace, as the Podcast Namespace specifies: the same folder served at the same address
# is the same podcast to every app.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
# What XML 1.0 cannot hold, even escaped: C0 controls but tab and newlines, lone surrogates,
# U+FFFE and U+FFFF. A title read from a foreign file may have them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SIDE_FILE_LIMIT = 16_000_000  # bytes of an existing chapters or cover file compared, not more
_BASE_FIX = (
    "Give the address the folder is served at, such as http://192.168.1.20:8000/ "
    "(python3 -m http.server 8000 --directory FOLDER serves it)."
)

for _prefix, _uri in (("itunes", ITUNES), ("podcast", PODCAST), ("atom", ATOM)):
    ET.register_namespace(_prefix, _uri)


@dataclass(frozen=True)
class Episode:
    """One item of the feed: an audio file as a podcast app is told of it."""

    title: str
    description: str
    url: str  # the enclosure
    size: int  # bytes
    content_type: str
    guid: str
    published: datetime  # UTC
    seconds: float | None
    cover: str = ""  # URLs of what is written beside the file; "" when there is none
    chapters: str = ""
    transcript: str = ""


@dataclass(frozen=True)
class Channel:
    title: str
    description: str
    base: str  # BASE_URL, "/"-ended
    cover: str = ""  # URL of the first episode's cover


def feed_base(text: str) -> str:
    """BASE_URL as the prefix of every URL in the feed: an http or https URL ending in "/", its
    path percent-encoded where it was not. SettingsError, one line, when it is none."""
    shown = printable(text)
    if not text or text != text.strip() or any(ch.isspace() or ch < " " for ch in text):
        raise SettingsError(f"--feed {shown!r} has spaces or control characters", fix=_BASE_FIX)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a port that is not a number raises ValueError here
    except ValueError:
        raise SettingsError(f"--feed {shown} is not a URL", fix=_BASE_FIX) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"--feed {shown} is not an http or https URL", fix=_BASE_FIX)
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise SettingsError(
            f"--feed {shown} has a query or a fragment: the files' paths follow it", fix=_BASE_FIX
        )
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")  # "%20" stays, " " would not pass here
    return urlunsplit((parts.scheme.lower(), parts.netloc, path.rstrip("/") + "/", "", ""))


def write_feed(
    folder: Path,
    groups: Sequence[Group],
    base: str,
    apart: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Write folder/feed.xml for these groups (the library page's), served at ``base``, and the
    chapters and cover files beside each audio file that it points at; return its path.

    ``apart`` is what tells apart sessions of one title (page.distinctions: a file -> "stereo",
    "ocean ambience"), added to their episodes' titles: a podcast app lists titles alone."""
    prefix = feed_base(base)
    told = apart or {}
    episodes = [
        episode
        for group in groups
        for session in group.sessions
        if (episode := _episode(folder, prefix, group, session, told.get(session.file, ())))
        is not None
    ]
    name = folder.resolve().name or "/"
    channel = Channel(
        f"Stillpoint sessions in {printable(name)}",
        "Guided sessions rendered by Stillpoint: they play offline once downloaded.",
        prefix,
        next((episode.cover for episode in episodes if episode.cover), ""),
    )
    feed = folder / FEED_NAME
    _write(feed, feed_xml(channel, episodes).encode("utf-8"))
    return feed


def _episode(
    folder: Path, prefix: str, group: Group, session: Session, apart: Sequence[str] = ()
) -> Episode | None:
    """The file as an item, its chapters and cover written beside it; None if it is gone."""
    audio = folder / session.file
    try:
        status = audio.stat()
    except OSError:  # removed since the page listed it: nothing to point at
        return None
    suffix = audio.suffix.lower()
    title = session.title
    if group.program and not title.casefold().startswith(group.title.casefold()):
        title = f"{group.title}: {title}"  # "Hip Week: Day 2" among other sessions
    if apart:
        title = f"{title} ({', '.join(apart)})"  # "Pigeon Pose (stereo, ocean ambience)"
    return Episode(
        title,
        session.description or session.title,
        prefix + quote(session.file, safe="/"),
        status.st_size,
        CONTENT_TYPES.get(suffix, "audio/mpeg"),
        f"stillpoint:{session.file}:{status.st_size}",
        datetime.fromtimestamp(status.st_mtime, UTC).replace(microsecond=0),
        session.seconds,
        _url(folder, prefix, _cover_file(audio, session)),
        _url(folder, prefix, _chapters_file(audio, session)),
        _url(folder, prefix, _transcript_file(audio)),
    )


def chapters_json(session: Session) -> str:
    """The session's chapters in the Podcast Namespace's JSON Chapters format (seconds)."""
    document = {
        "version": CHAPTERS_VERSION,
        "chapters": [
            {"startTime": round(chapter.start, 3), "title": chapter.title}
            for chapter in session.chapters
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _chapters_file(audio: Path, session: Session) -> Path | None:
    if not session.chapters:
        return None
    path = audio.with_name(audio.stem + CHAPTERS_SUFFIX)
    _write(path, chapters_json(session).encode("utf-8"))
    return path


def _cover_file(audio: Path, session: Session) -> Path | None:
    image = picture(session.cover) if session.cover else None
    if image is None:
        return None
    path = audio.with_name(audio.stem + COVER_SUFFIX + image.suffix)
    _write(path, image.data)
    return path


def _transcript_file(audio: Path) -> Path | None:
    vtt = audio.with_suffix(".vtt")
    return vtt if vtt.is_file() else None


def _url(folder: Path, prefix: str, path: Path | None) -> str:
    return prefix + quote(path.relative_to(folder).as_posix(), safe="/") if path else ""


def _write(path: Path, data: bytes) -> None:
    """Write the file atomically, unless it already holds these bytes (a feed made again leaves
    the folder as it was); OutputError in one line when it cannot be written."""
    try:
        if read_bounded(path, _SIDE_FILE_LIMIT) == data:
            return
    except (FileNotFoundError, Unreadable):  # none yet, or not a file to compare: written anew
        pass
    try:
        write_atomically(path, data)
    except OSError as error:  # read-only folder, disk full, a folder of that name…
        raise OutputError(
            f"cannot write {printable(str(path))}: {error.strerror or error}",
            fix="Check that the folder is writable and the disk has space.",
        ) from None


def feed_xml(channel: Channel, episodes: Sequence[Episode]) -> str:
    """The feed's text: RSS 2.0 with the iTunes and Podcast Namespace tags."""
    rss = ET.Element("rss", {"version": "2.0"})
    head = ET.SubElement(rss, "channel")
    _text(head, "title", channel.title)
    _text(head, "link", channel.base + "index.html")
    _text(head, "description", channel.description)
    _text(head, "language", "en")
    _text(head, "generator", f"Stillpoint {__version__}")
    if episodes:
        newest = max(episode.published for episode in episodes)
        _text(head, "lastBuildDate", format_datetime(newest, usegmt=True))
    ET.SubElement(
        head,
        f"{{{ATOM}}}link",
        {"href": channel.base + FEED_NAME, "rel": "self", "type": "application/rss+xml"},
    )
    _text(head, f"{{{ITUNES}}}author", "Stillpoint")
    _text(head, f"{{{ITUNES}}}explicit", "false")
    _text(head, f"{{{ITUNES}}}type", "episodic")
    ET.SubElement(head, f"{{{ITUNES}}}category", {"text": "Health & Fitness"})
    if channel.cover:
        ET.SubElement(head, f"{{{ITUNES}}}image", {"href": channel.cover})
    _text(head, f"{{{PODCAST}}}guid", str(podcast_guid(channel.base + FEED_NAME)))
    for episode in episodes:
        _item(head, episode)
    ET.indent(rss, space="  ")
    body = ET.tostring(rss, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _item(channel: ET.Element, episode: Episode) -> None:
    item = ET.SubElement(channel, "item")
    _text(item, "title", episode.title)
    _text(item, "description", episode.description)
    attributes = {"url": episode.url, "length": str(episode.size), "type": episode.content_type}
    ET.SubElement(item, "enclosure", attributes)
    _text(item, "guid", episode.guid).set("isPermaLink", "false")
    _text(item, "pubDate", format_datetime(episode.published, usegmt=True))
    if episode.seconds is not None:
        _text(item, f"{{{ITUNES}}}duration", str(int(episode.seconds)))  # whole seconds
    _text(item, f"{{{ITUNES}}}explicit", "false")
    _text(item, f"{{{ITUNES}}}episodeType", "full")
    if episode.cover:
        ET.SubElement(item, f"{{{ITUNES}}}image", {"href": episode.cover})
    if episode.chapters:
        chapters = {"url": episode.chapters, "type": CHAPTERS_TYPE}
        ET.SubElement(item, f"{{{PODCAST}}}chapters", chapters)
    if episode.transcript:
        transcript = {"url": episode.transcript, "type": "text/vtt", "rel": "captions"}
        ET.SubElement(item, f"{{{PODCAST}}}transcript", transcript)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = _NOT_XML.sub("", text)
    return element


def podcast_guid(feed_url: str) -> uuid.UUID:
    """The Podcast Namespace's guid for a feed: UUIDv5 of its URL without the scheme and the
    trailing slashes."""
    parts = urlsplit(feed_url)
    return uuid.uuid5(
        PODCAST_GUID_NAMESPACE, feed_url.removeprefix(f"{parts.scheme}://").rstrip("/")
    )
