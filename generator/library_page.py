"""The offline library page: one self-contained ``index.html`` listing every session in a folder.

It reads what a render leaves beside each MP3 (``X.json``: title, duration, chapters, speech;
``X.vtt``: the transcript) and what a program leaves in its folder (an ``.m3u8`` giving the days'
order and titles), and writes a page with inline CSS and JavaScript that works opened straight
from the disk: no server, no network. The data travels in the page as JSON; the script builds the
list from it with ``textContent`` only, so no title or transcript line is ever parsed as HTML.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from generator.atomic import write_atomically
from generator.durations import format_clock
from generator.errors import OutputError

PAGE_NAME = "index.html"
PROBE_TIMEOUT = 20  # seconds for ffprobe to read one MP3's length (it reads only the headers)
_VTT_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})\.(\d{3})$")


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float  # seconds from the start of the file


@dataclass(frozen=True)
class Line:
    """One transcript cue: the words heard from start to end."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Sidecar:
    """What a render's timeline JSON says about its MP3 (only the parts a listener needs)."""

    title: str
    seconds: float | None
    chapters: tuple[Chapter, ...]
    speech: tuple[Line, ...]


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


def read_sidecar(mp3: Path) -> Sidecar | None:
    """The timeline JSON beside mp3, or None when it is missing or not a Stillpoint timeline."""
    try:
        document = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or not JSON: list the MP3 without it
        return None
    if not isinstance(document, dict):
        return None
    title = document.get("title")
    chapters, speech = [], []
    for item in _dicts(document.get("chapters")):
        name, start = item.get("title"), _seconds(item.get("start"))
        if isinstance(name, str) and start is not None:
            chapters.append(Chapter(name, start))
    for item in _dicts(document.get("events")):
        text, start, end = item.get("text"), _seconds(item.get("start")), _seconds(item.get("end"))
        if item.get("kind") != "speech" or not isinstance(text, str):
            continue
        if start is not None and end is not None:
            speech.append(Line(start, end, text))
    return Sidecar(
        title if isinstance(title, str) else "",
        _seconds(document.get("duration")),
        tuple(sorted(chapters, key=lambda chapter: chapter.start)),
        tuple(sorted(speech, key=lambda line: line.start)),
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


def probe_seconds(mp3: Path) -> float | None:
    """The MP3's length by ffprobe (it comes with ffmpeg), or None if it cannot tell."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None  # the page reads the length from the audio as it loads
    command = [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
    try:
        result = subprocess.run(
            [*command, str(mp3)], capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
        seconds = float(result.stdout.strip())
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


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
    if not sessions:
        example = shlex.quote(f"{folder_name.rstrip('/') or '.'}/hip-release.mp3")
        body = _EMPTY.replace("@FOLDER@", html.escape(folder_name)).replace(
            "@EXAMPLE@", html.escape(example)
        )
        summary = "No sessions yet"
    else:
        known = [session.seconds for session in sessions if session.seconds is not None]
        count = f"{len(sessions)} session{'s' if len(sessions) != 1 else ''}"
        total = f" ({format_clock(sum(known))})" if len(known) == len(sessions) else ""
        summary = count + total
        body = _LIST.replace("@DATA@", page_data(groups)).replace("@SCRIPT@", _SCRIPT)
    return (
        _PAGE.replace("@STYLE@", _STYLE)
        .replace("@FOLDER@", html.escape(folder_name))
        .replace("@SUMMARY@", html.escape(summary))
        .replace("@BODY@", body)
    )


def _at(seconds: float) -> str:
    """Where a chapter or line starts, never rounded up past it."""
    return format_clock(math.floor(seconds))


def _dicts(value: object) -> Iterable[dict[str, object]]:
    return (item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


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


# The page. Placeholders are @NAME@ (CSS and JavaScript are full of braces, so no str.format).
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Stillpoint sessions</title>
<link rel="icon" href="data:,">
<style>@STYLE@</style>
</head>
<body>
<a class="skip" href="#sessions">Skip to the sessions</a>
<header class="page">
<h1>Stillpoint sessions</h1>
<p class="summary">@SUMMARY@ <span class="folder">in @FOLDER@</span></p>
</header>
<main id="sessions" tabindex="-1">
@BODY@
</main>
<footer class="page"><p>Made by Stillpoint. Everything here plays from this folder, offline;
the MP3 files also play in any music player, or copied to a phone.</p></footer>
</body>
</html>
"""

_EMPTY = """<section class="empty">
<h2>No sessions yet</h2>
<p>There are no MP3 files in @FOLDER@ yet. Render one into it, for example:</p>
<pre><code>stillpoint render hip-release -o @EXAMPLE@</code></pre>
<p>then make this page again to list it here.</p>
</section>"""

_LIST = """<noscript><p class="notice">This page needs JavaScript to list the sessions. The MP3
files are in this folder and play in any music player.</p></noscript>
<script type="application/json" id="library-data">@DATA@</script>
<script>@SCRIPT@</script>"""

_STYLE = """
:root {
  color-scheme: light dark;
  --bg: #f5f3ee; --surface: #fffdf9; --text: #23302b; --muted: #56635d;
  --accent: #3f6f5a; --accent-text: #ffffff; --line: #d9d3c7; --now: #e1eee5; --now-edge: #3f6f5a;
  --radius: 0.75rem;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #121816; --surface: #1a2220; --text: #e3e9e5; --muted: #a5b3ac;
    --accent: #8cc2a8; --accent-text: #10201a; --line: #2f3b37; --now: #223a30;
    --now-edge: #8cc2a8;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 1.0625rem; }
header.page, main, footer.page { max-width: 46rem; margin: 0 auto; padding: 0 1rem; }
header.page { padding-top: 2rem; }
h1 { font-weight: 600; font-size: 1.75rem; margin: 0 0 0.25rem; letter-spacing: 0.01em; }
h2 { font-weight: 600; font-size: 1.25rem; margin: 2rem 0 0.75rem; }
h3 { font-weight: 600; font-size: 1.125rem; margin: 0; overflow-wrap: anywhere; }
.summary, .meta, footer.page { color: var(--muted); }
.summary { margin: 0 0 1rem; }
.folder { overflow-wrap: anywhere; }
footer.page { font-size: 0.9rem; padding-bottom: 2rem; margin-top: 2rem; }
.skip { position: absolute; left: -100vw; }
.skip:focus { left: 1rem; top: 1rem; background: var(--surface); padding: 0.5rem; }
main:focus { outline: none; }
ol.sessions, ol.chapters, ol.cues { list-style: none; margin: 0; padding: 0; }
.session {
  background: var(--surface); border: 1px solid var(--line); border-radius: var(--radius);
  padding: 1rem; margin: 0 0 1rem;
}
.meta { margin: 0.125rem 0 0.75rem; font-size: 0.95rem; display: flex; flex-wrap: wrap;
  gap: 0 1rem; }
.meta .file { overflow-wrap: anywhere; }
.meta .problem { color: inherit; font-style: italic; }
audio { display: block; width: 100%; margin: 0 0 0.75rem; }
ol.chapters { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0 0 0.75rem; }
button.chapter {
  font: inherit; font-size: 0.95rem; color: var(--text); background: transparent;
  border: 1px solid var(--line); border-radius: 999px; padding: 0.5rem 0.9rem;
  min-height: 2.75rem; cursor: pointer; text-align: left;
}
button.chapter:hover { border-color: var(--accent); }
button.chapter[aria-current="true"] {
  background: var(--accent); color: var(--accent-text); border-color: var(--accent);
}
.at { font-variant-numeric: tabular-nums; opacity: 0.8; margin-right: 0.4rem; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
details.transcript summary { cursor: pointer; padding: 0.6rem 0; color: var(--muted); }
ol.cues {
  position: relative; max-height: 18rem; overflow-y: auto; border-top: 1px solid var(--line);
  padding: 0.5rem 0; overscroll-behavior: contain;
}
ol.cues li { padding: 0.35rem 0.6rem; border-left: 3px solid transparent;
  border-radius: 0 0.4rem 0.4rem 0; transition: background-color 0.4s; }
ol.cues li.now { background: var(--now); border-left-color: var(--now-edge); }
.empty, .notice { background: var(--surface); border: 1px solid var(--line);
  border-radius: var(--radius); padding: 1rem 1.25rem; }
.empty h2 { margin-top: 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--bg);
  padding: 0.75rem; border-radius: 0.5rem; }
@media (prefers-reduced-motion: reduce) { ol.cues li { transition: none; } }
@media (max-width: 30rem) {
  body { font-size: 1rem; }
  .session { padding: 0.75rem; border-radius: 0.5rem; }
  header.page { padding-top: 1.25rem; }
}
"""

# Builds the list from the JSON with textContent only, then follows each player: the chapter
# buttons seek and play, the transcript marks the line being spoken and keeps it in view.
_SCRIPT = r"""
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("library-data").textContent);
  const main = document.getElementById("sessions");
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const EARLY = 0.01; // seconds: a seek to a chapter lands on its first cue despite rounding

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(seconds) {
    const whole = Math.round(seconds);
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
  }

  // The last item whose start is at or before t (items sorted by start), or -1.
  function lastStarted(items, t) {
    let low = 0, high = items.length - 1, found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (items[mid].start <= t + EARLY) { found = mid; low = mid + 1; } else { high = mid - 1; }
    }
    return found;
  }

  function session(item, id) {
    const article = make("article", "session");
    article.id = id;
    article.setAttribute("aria-labelledby", `${id}-title`);
    const heading = make("h3", "", item.title);
    heading.id = `${id}-title`;
    const meta = make("p", "meta");
    const length = make("span", "length", item.length);
    meta.append(length, make("span", "file", item.file));
    const audio = make("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = item.src;
    audio.setAttribute("aria-labelledby", `${id}-title`);
    article.append(heading, meta, audio);
    if (!item.length) {
      audio.addEventListener("loadedmetadata", () => {
        if (Number.isFinite(audio.duration)) length.textContent = clock(audio.duration);
      });
    }
    audio.addEventListener("error", () => {
      if (!meta.querySelector(".problem")) {
        meta.append(make("span", "problem", "This file cannot be played: moved or deleted?"));
      }
    });

    const buttons = item.chapters.map((chapter) => {
      const button = make("button", "chapter");
      button.type = "button";
      button.append(make("span", "at", chapter.at), make("span", "name", chapter.title));
      button.setAttribute("aria-label", `${chapter.title}, at ${chapter.at}`);
      button.addEventListener("click", () => {
        audio.currentTime = chapter.start;
        const playing = audio.play();
        if (playing) playing.catch(() => {}); // refused (no sound device): the seek still stands
      });
      const li = make("li");
      li.append(button);
      return li;
    });
    if (buttons.length) {
      const nav = make("nav");
      nav.setAttribute("aria-label", `Chapters of ${item.title}`);
      const list = make("ol", "chapters");
      list.append(...buttons);
      nav.append(list);
      article.append(nav);
    }

    const cues = item.transcript.map((line) => {
      const li = make("li");
      li.append(make("span", "at", line.at), make("span", "text", line.text));
      return li;
    });
    let details = null, box = null;
    if (cues.length) {
      details = make("details", "transcript");
      details.append(make("summary", "", "Transcript"));
      box = make("ol", "cues");
      box.append(...cues);
      details.append(box);
      article.append(details);
    }

    let chapterNow = -1, cueNow = -1, shown = -1;
    function keepInView(index, instant) {
      if (!details || !details.open || index < 0 || index === shown) return;
      shown = index;
      const li = cues[index];
      const top = li.offsetTop - (box.clientHeight - li.offsetHeight) / 2;
      box.scrollTo({ top: Math.max(0, top), behavior: smooth && !instant ? "smooth" : "auto" });
    }
    function follow(instant) {
      const t = audio.currentTime;
      const chapter = lastStarted(item.chapters, t);
      if (chapter !== chapterNow) {
        if (chapterNow >= 0) buttons[chapterNow].firstChild.removeAttribute("aria-current");
        if (chapter >= 0) buttons[chapter].firstChild.setAttribute("aria-current", "true");
        chapterNow = chapter;
      }
      const started = lastStarted(item.transcript, t);
      const speaking = started >= 0 && t < item.transcript[started].end ? started : -1;
      if (speaking !== cueNow) {
        if (cueNow >= 0) {
          cues[cueNow].classList.remove("now");
          cues[cueNow].removeAttribute("aria-current");
        }
        if (speaking >= 0) {
          cues[speaking].classList.add("now");
          cues[speaking].setAttribute("aria-current", "true");
        }
        cueNow = speaking;
      }
      // Between lines, show the one to come.
      keepInView(speaking >= 0 ? speaking : Math.min(started + 1, cues.length - 1), instant);
    }
    audio.addEventListener("timeupdate", () => follow(false));
    audio.addEventListener("seeked", () => follow(true));
    audio.addEventListener("play", () => {
      if (details && !details.dataset.opened) {
        details.dataset.opened = "yes"; // opened once for the listener; closing it is theirs
        details.open = true;
      }
    });
    if (details) {
      details.addEventListener("toggle", () => { shown = -1; follow(true); });
    }
    return article;
  }

  data.groups.forEach((group, g) => {
    const section = make("section", "group");
    const heading = make("h2", "", group.title || "Sessions");
    heading.id = `group-${g}`;
    section.setAttribute("aria-labelledby", heading.id);
    const list = make("ol", "sessions");
    group.sessions.forEach((item, s) => {
      const li = make("li");
      li.append(session(item, `session-${g}-${s}`));
      list.append(li);
    });
    section.append(heading, list);
    main.append(section);
  });

  // One voice at a time: starting a player pauses the others.
  document.addEventListener("play", (event) => {
    for (const audio of document.querySelectorAll("audio")) {
      if (audio !== event.target) audio.pause();
    }
  }, true);
})();
"""
