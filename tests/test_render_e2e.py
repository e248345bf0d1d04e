"""End to end with real parts: pyttsx3/eSpeak NG speech, ffmpeg encoding, the MP3 decoded again.

The decoded audio is checked against the timeline JSON written beside it: the length, speech
and bells heard where their events start (±20 ms), silence in every pause.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from generator.cli import app
from tests.conftest import check_audio_matches_timeline, write

pytestmark = pytest.mark.e2e

RATE = 44_100
runner = CliRunner()

SHORT = """\
[chapter Start]
[bell chime]
Welcome. Settle in.

Let the hips be heavy.
[pause 3s]
[chapter Breath]
[for 4s] Breathe in.
[for 4s] Hold.
[for 4s]
[for 4s] Breathe out.
[pause 1 breath]
[bell]
Rest now.
"""


def render(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, ["render", *args])
    assert result.exit_code == 0, result.output
    output = Path(args[args.index("-o") + 1])
    return dict(json.loads(output.with_suffix(".json").read_text()))


def test_a_short_session_sounds_where_its_timeline_says(tmp_path: Path) -> None:
    script = write(tmp_path / "short.txt", SHORT)
    mp3 = tmp_path / "out" / "short.mp3"
    timeline = render([str(script), "-o", str(mp3), "--set", "breath=5s"])
    kinds = [event["kind"] for event in timeline["events"]]
    assert kinds == [
        "bell", "speech", "speech", "pause", "speech", "pause", "speech", "pause",
        "pause", "speech", "pause", "pause", "bell", "speech",
    ]  # fmt: skip
    windows = [e for e in timeline["events"] if e["source"].endswith((":8", ":9", ":10", ":11"))]
    assert windows[0]["start"] == pytest.approx(
        windows[-2]["start"] - 12, abs=1 / RATE
    )  # 3 windows of 4s
    assert [c["title"] for c in timeline["chapters"]] == ["Start", "Breath"]
    check_audio_matches_timeline(mp3, timeline)
    vtt = mp3.with_suffix(".vtt").read_text()
    assert vtt.startswith("WEBVTT")
    assert vtt.count(" --> ") == kinds.count("speech")
    assert "Let the hips be heavy." in vtt
    again = runner.invoke(app, ["render", str(script), "-o", str(mp3), "--set", "breath=5s"])
    assert "0 new speech clips" in again.output  # every clip came from the cache
    assert json.loads(mp3.with_suffix(".json").read_text()) == timeline


def test_hip_release_renders_in_full(tmp_path: Path) -> None:
    mp3 = tmp_path / "hip-release.mp3"
    timeline = render(["hip-release", "-o", str(mp3)])
    assert timeline["duration"] >= 15 * 60
    assert len(timeline["chapters"]) == 10
    check_audio_matches_timeline(mp3, timeline)
