"""`stillpoint library DIR --feed BASE_URL`: the folder as a podcast feed, read back by an
independent parser (feedparser) and fetched from a real static server (python3 -m http.server),
as a phone's podcast app on the same network would."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

import feedparser  # type: ignore[import-untyped]  # no stubs; what it gives is read as Any
import pytest
from typer.testing import CliRunner, Result

from generator.cli import app
from generator.commands.library_page.feed import (
    CHAPTERS_TYPE,
    CHAPTERS_VERSION,
    FEED_NAME,
    PODCAST,
    feed_base,
)
from tests.test_library_page import make_mp3, touch, write_sidecars

runner = CliRunner()
FAST = ["--voice", "pyttsx3:gmw/en-us", "--breath", "2s"]
SERVER_START = 10.0  # seconds: http.server listens within a fraction of one (measured ~0.1 s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def library(*args: str) -> Result:
    return runner.invoke(app, ["library", *args])


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under folder, with its size and modification time in nanoseconds."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder as a listener keeps it (a render of a built-in session, a program's days in a
    folder whose name has a space, an MP3 from elsewhere), its feed written for the address a
    real http.server then serves it at: (folder, base URL)."""
    folder = tmp_path_factory.mktemp("served")
    rendered = runner.invoke(app, ["render", "pigeon", "--minutes", "3", *FAST, "-o",
                                   str(folder / "pigeon.mp3")])  # fmt: skip
    assert rendered.exit_code == 0, rendered.output
    week = folder / "hip week"
    for day in (1, 2):
        mp3 = make_mp3(week / f"0{day}-day.mp3", 2 + day, 220 * day)
        write_sidecars(mp3, f"Day {day}", 2.0 + day, [("Start", 0.0), ("Rest", 1.5)])
    (week / "week.m3u8").write_text(
        "#EXTM3U\n#PLAYLIST:Hip Week\n#EXTINF:3,Day 1\n01-day.mp3\n#EXTINF:4,Day 2\n02-day.mp3\n",
        encoding="utf-8",
    )
    make_mp3(folder / "from elsewhere #1.mp3", 2, 550)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    result = library(str(folder), "--feed", base)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.splitlines()[-1] == (
        f"Wrote {folder / FEED_NAME} (subscribe to {base}{FEED_NAME})"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_listening(port)
        yield folder, base
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + SERVER_START
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def parsed(folder: Path) -> Any:
    feed = feedparser.parse((folder / FEED_NAME).read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def on_disk(folder: Path, base: str, url: str) -> Path:
    """The file under folder that a URL of the feed names (it must start with the base)."""
    assert url.startswith(base), url
    path = folder / unquote(urlsplit(url).path).removeprefix("/")
    assert path.resolve().is_relative_to(folder.resolve()), url
    return path


def audio_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.mp3"))


@pytest.mark.e2e
def test_the_feed_has_one_episode_per_file(served: tuple[Path, str]) -> None:
    folder, base = served
    feed = parsed(folder)
    assert feed.version == "rss20"
    assert feed.feed.title == f"Stillpoint sessions in {folder.name}"
    assert [entry.title for entry in feed.entries] == [
        "from elsewhere #1",
        "Pigeon Pose",
        "Hip Week: Day 1",  # a program's day says which program
        "Hip Week: Day 2",
    ]
    files = [on_disk(folder, base, entry.enclosures[0].href) for entry in feed.entries]
    assert sorted(files) == audio_files(folder)
    for entry, file in zip(feed.entries, files, strict=True):
        (enclosure,) = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        assert int(enclosure.length) == file.stat().st_size
    pigeon = feed.entries[1]
    assert pigeon.summary.startswith("Pigeon pose")  # the description in the file's tags
    assert pigeon.itunes_duration == "180"  # whole seconds
    assert pigeon.image.href == f"{base}pigeon.cover.png"
    assert feed.feed.image.href == pigeon.image.href
    assert feed.entries[2].itunes_duration == "3"
    assert "image" not in feed.entries[0]  # a file with no cover of its own


@pytest.mark.e2e
def test_every_url_is_served_from_the_folder(served: tuple[Path, str]) -> None:
    folder, base = served
    feed = parsed(folder)
    for entry in feed.entries:
        (enclosure,) = entry.enclosures
        with urllib.request.urlopen(enclosure.href, timeout=10) as response:  # noqa: S310
            assert response.status == 200
            assert int(response.headers["Content-Length"]) == int(enclosure.length)
            assert response.headers["Content-Type"] == "audio/mpeg"
        for extra in ("podcast_chapters", "podcast_transcript", "image"):
            url = entry[extra]["url" if extra != "image" else "href"] if extra in entry else None
            if url is None:
                continue
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
                assert response.read() == on_disk(folder, base, url).read_bytes()
    assert feed.entries[1].podcast_transcript["url"] == f"{base}pigeon.vtt"
    assert feed.entries[2].podcast_chapters["url"] == f"{base}hip%20week/01-day.chapters.json"


@pytest.mark.e2e
def test_chapters_and_transcripts_follow_the_timeline(served: tuple[Path, str]) -> None:
    folder, base = served
    root = ET.parse(folder / FEED_NAME).getroot()  # noqa: S314 - the feed the test wrote
    items = root.findall("channel/item")
    assert len(items) == 4
    assert items[0].find(f"{{{PODCAST}}}chapters") is None  # no timeline: no chapters
    for item in items[1:]:
        chapters = item.find(f"{{{PODCAST}}}chapters")
        transcript = item.find(f"{{{PODCAST}}}transcript")
        assert chapters is not None
        assert transcript is not None
        assert chapters.get("type") == CHAPTERS_TYPE
        assert (transcript.get("type"), transcript.get("rel")) == ("text/vtt", "captions")
        path = on_disk(folder, base, chapters.get("url", ""))
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["version"] == CHAPTERS_VERSION
        timeline = json.loads(
            path.with_name(path.name.replace(".chapters.json", ".json")).read_text("utf-8")
        )
        assert [(c["startTime"], c["title"]) for c in document["chapters"]] == [
            (round(c["start"], 3), c["title"]) for c in timeline["chapters"]
        ]
        starts = [c["startTime"] for c in document["chapters"]]
        assert starts == sorted(starts)
        vtt = on_disk(folder, base, transcript.get("url", ""))
        assert vtt.read_text(encoding="utf-8").startswith("WEBVTT")


@pytest.mark.e2e
def test_the_feed_is_the_same_when_made_again(served: tuple[Path, str]) -> None:
    folder, base = served
    before = snapshot(folder)
    feed = (folder / FEED_NAME).read_bytes()
    result = library(str(folder), "--feed", base)
    assert result.exit_code == 0, result.stderr
    assert (folder / FEED_NAME).read_bytes() == feed
    after = snapshot(folder)
    # the feed, the chapters and covers untouched; only the page is written anew
    assert {name: value for name, value in after.items() if name != "index.html"} == {
        name: value for name, value in before.items() if name != "index.html"
    }


@pytest.mark.parametrize(
    "base",
    ["ftp://example.com/", "192.168.1.20:8000", "example.com/sessions", "http://", "file:///x",
     "http://host/?q=1", "http://host:port/", "http://host/my sessions/", ""],
)  # fmt: skip
def test_a_bad_base_url_is_one_line_and_writes_nothing(tmp_path: Path, base: str) -> None:
    touch(tmp_path / "a.mp3")
    before = snapshot(tmp_path)
    result = library(str(tmp_path), "--feed", base)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("stillpoint: error: --feed")
    assert "http://192.168.1.20:8000/" in line  # the fix: an address to give
    assert result.stdout == ""
    assert snapshot(tmp_path) == before  # neither the page nor the feed


def test_the_base_url_is_normalised() -> None:
    assert feed_base("http://192.168.1.20:8000") == "http://192.168.1.20:8000/"
    assert feed_base("HTTPS://example.com/séances/") == "https://example.com/s%C3%A9ances/"
    assert feed_base("http://example.com/a%20b") == "http://example.com/a%20b/"


def test_namesakes_are_told_apart_in_the_feed(tmp_path: Path) -> None:
    """A podcast app lists titles alone: two renders of one session say what sets them apart."""
    for name, channels in (("calm.mp3", 1), ("calm-stereo.mp3", 2)):
        mp3 = touch(tmp_path / name)
        write_sidecars(mp3, "Calm", 60.0, [("One", 0.0)])
        timeline = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))
        timeline["channels"] = channels
        mp3.with_suffix(".json").write_text(json.dumps(timeline), encoding="utf-8")
    result = library(str(tmp_path), "--feed", "http://127.0.0.1:8000/")
    assert result.exit_code == 0, result.stderr
    feed = parsed(tmp_path)
    assert [entry.title for entry in feed.entries] == ["Calm (stereo)", "Calm (mono)"]
    assert (tmp_path / "calm.chapters.json").is_file()


def test_titles_xml_cannot_hold_are_escaped_or_dropped(tmp_path: Path) -> None:
    """A foreign file's title may hold markup or control characters: the feed still parses."""
    mp3 = touch(tmp_path / "odd #1.mp3")
    write_sidecars(mp3, "</title><b>x</b> & \x01\x0b Ça", 60.0, [("<Part> & \x02", 0.0)])
    result = library(str(tmp_path), "--feed", "https://example.com/my%20files")
    assert result.exit_code == 0, result.stderr
    (entry,) = parsed(tmp_path).entries
    assert entry.title == "</title><b>x</b> &  Ça"
    assert entry.enclosures[0].href == "https://example.com/my%20files/odd%20%231.mp3"
    chapters = json.loads((tmp_path / "odd #1.chapters.json").read_text(encoding="utf-8"))
    assert chapters["chapters"][0]["title"] == "<Part> & \x02"  # JSON holds any character
