"""End to end: every built-in session and the built-in program render to real MP3 files.

Short settings keep the run quick (eSpeak NG, a 2-second breath); the audio is decoded and
checked against the timeline each render wrote.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from generator.base.samples import SAMPLE_RATE
from generator.cli import app
from generator.recipes.catalogue import Catalogue
from generator.recipes.program import load_program
from tests.conftest import decode, rms_db

runner = CliRunner()
FAST = ["--voice", "pyttsx3:gmw/en-us", "--breath", "2s"]
SHORTER = {"timer": ["--minutes", "2"]}  # its silence stretches: no need for twenty minutes


def render(*args: str) -> None:
    result = runner.invoke(app, ["render", *args])
    assert result.exit_code == 0, result.output


def timeline(mp3: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", sorted(Catalogue().sessions()))
def test_every_builtin_session_renders(name: str, tmp_path: Path) -> None:
    mp3 = tmp_path / f"{name}.mp3"
    render(name, "-o", str(mp3), *FAST, *SHORTER.get(name, []))
    data = timeline(mp3)
    audio = decode(mp3)
    assert abs(audio.size / SAMPLE_RATE - data["duration"]) < 0.05
    assert data["chapters"]
    sounds = [event for event in data["events"] if event["kind"] in ("speech", "bell")]
    first, last = sounds[0], sounds[-1]
    for event in (first, last):  # the first and last sounds are there, where the timeline says
        heard = audio[round(event["start"] * SAMPLE_RATE) : round(event["end"] * SAMPLE_RATE)]
        assert rms_db(heard) > -40, event
    assert mp3.with_suffix(".vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    assert mp3.with_suffix(".lrc").is_file()
    sheet = mp3.with_name(f"{name}.prompts.txt")
    assert sheet.is_file() == name.startswith("journaling")  # only journaling asks questions
    if name == "journaling":
        text = sheet.read_text(encoding="utf-8")
        assert "1. What am I holding in my body?" in text
        assert "2. What emotions are stored in my hips?" in text


def test_the_program_renders_every_day_and_a_playlist(tmp_path: Path) -> None:
    folder = tmp_path / "week"
    render("7-day-hip-release", "-o", str(folder), *FAST)
    program = load_program(Catalogue().programs()["7-day-hip-release"])
    playlist = (folder / "7-day-hip-release.m3u8").read_text(encoding="utf-8").splitlines()
    files = [line for line in playlist if line and not line.startswith("#")]
    assert files == [f"{day.stem}.mp3" for day in program.days]
    assert playlist[0] == "#EXTM3U"
    for day, file in zip(program.days, files, strict=True):
        data = timeline(folder / file)
        length = int(playlist[playlist.index(file) - 1].split(":")[1].split(",")[0])
        assert length == int(np.ceil(data["duration"]))
        assert playlist[playlist.index(file) - 1].endswith(f",{day.title}")
    held = [  # the breaths each day's pose holds last, from the arithmetic in the timeline
        {s["detail"].split(" x ")[0] for s in timeline(folder / f)["spans"] if s["kind"] == "hold"}
        for f in files
    ]
    assert held[0] == {"5 breaths"}  # the ramp: 5 breaths on day 1 ...
    assert held[-1] == {"10 breaths"}  # ... 10 on the last
    assert held[1] == set()  # breathwork holds no pose: the ramp passes it by
    tags = _tags(folder / files[1])
    assert tags["album"] == program.title
    assert tags["track"] == f"2/{len(program.days)}"


def test_music_plays_under_the_free_dance_and_dips_under_words(tmp_path: Path) -> None:
    song = tmp_path / "song.flac"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=330:d=30", str(song)], check=True
    )
    mp3 = tmp_path / "dance.mp3"
    render("hip-circles-and-dance", "-o", str(mp3), *FAST, "--set", f"music={song}")
    data = timeline(mp3)
    (music,) = [event for event in data["events"] if event["kind"] == "music"]
    assert music["sound"] == str(song)
    start, end = music["start"], music["end"]
    audio = decode(mp3)
    quiet = _quiet_stretch(data, start + 4, end - 4)
    alone = rms_db(audio[round(quiet[0] * SAMPLE_RATE) : round(quiet[1] * SAMPLE_RATE)])
    words = [e for e in data["events"] if e["kind"] == "speech" and e["end"] < start]
    voice = rms_db(
        audio[round(words[-1]["start"] * SAMPLE_RATE) : round(words[-1]["end"] * SAMPLE_RATE)]
    )
    assert voice - 16 < alone < voice - 4  # the music alone: clearly there, under the voice
    outside = [  # silences after the window: the music has stopped
        e
        for e in data["events"]
        if e["kind"] == "pause" and e["start"] >= end and e["end"] - e["start"] > 1
    ]
    after = outside[0]
    silence = audio[round(after["start"] * SAMPLE_RATE) : round(after["end"] * SAMPLE_RATE)]
    assert rms_db(silence) < -60


def _quiet_stretch(data: dict[str, Any], start: float, end: float) -> tuple[float, float]:
    """The longest stretch in [start, end) with no speech or bell: the music alone."""
    busy = sorted(
        (e["start"] - 1, e["end"] + 1) for e in data["events"] if e["kind"] in ("speech", "bell")
    )
    best, cursor = (start, start), start
    for begin, finish in [*busy, (end, end)]:
        if begin > cursor and min(begin, end) - cursor > best[1] - best[0]:
            best = (cursor, min(begin, end))
        cursor = max(cursor, finish)
    assert best[1] - best[0] > 2, "no stretch of music alone"
    return best


def _tags(mp3: Path) -> dict[str, str]:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(mp3)],
        check=True,
        capture_output=True,
        text=True,
    )
    tags: dict[str, str] = json.loads(probe.stdout)["format"]["tags"]
    return tags


@pytest.mark.e2e
def test_two_renders_of_one_session_are_told_apart_on_the_page_and_in_the_feed(
    tmp_path: Path,
) -> None:
    """Real renders: what the library shows comes from what render writes (tags, timeline)."""
    render("pigeon", "-o", str(tmp_path / "pigeon.mp3"), "--minutes", "3", *FAST)
    ocean = ["--ambience", "ocean", "--set", "side_pan=0.5"]  # a bed, and cues from each side
    render("pigeon", "-o", str(tmp_path / "pigeon-ocean.mp3"), "--minutes", "3", *FAST, *ocean)
    result = runner.invoke(app, ["library", str(tmp_path), "--feed", "http://127.0.0.1:8000/"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert str(tmp_path) not in page
    start = page.index('id="library-data">') + len('id="library-data">')
    data = json.loads(page[start : page.index("</script>", start)])
    (group,) = data["groups"]
    shown = [(s["file"], s["title"], s["apart"], s["seconds"]) for s in group["sessions"]]
    assert shown == [
        ("pigeon-ocean.mp3", "Pigeon Pose", ["stereo", "ocean ambience"], 180.0),
        ("pigeon.mp3", "Pigeon Pose", ["mono", "no ambience"], 180.0),
    ]
    for session in group["sessions"]:
        assert session["description"].startswith("Pigeon pose")  # from the MP3's own tag
        assert data["covers"][session["cover"]]["src"].startswith("data:image/png;base64,")
    feed = (tmp_path / "feed.xml").read_text(encoding="utf-8")
    assert "<title>Pigeon Pose (stereo, ocean ambience)</title>" in feed
    assert "<title>Pigeon Pose (mono, no ambience)</title>" in feed
