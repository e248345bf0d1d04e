"""The Python API renders as the command line does, with real eSpeak NG and ffmpeg."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from generator.api import render_session, sessions
from generator.errors import SettingsError, StillpointError
from tests.conftest import write

pytestmark = pytest.mark.e2e

ESPEAK = "pyttsx3:gmw/en-us"
SCRIPT = """\
[chapter Arrive]
Hello {{ listener or "friend" }}. Settle in.
[pause 4s (2s..40s)]
[chapter Rest]
Rest now.
"""


def probed_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out)


def test_render_session_returns_what_it_wrote(tmp_path: Path) -> None:
    script = write(tmp_path / "hello.j2", SCRIPT)
    output = tmp_path / "out" / "hello.mp3"
    settings = {"voice": ESPEAK, "listener": "Sam", "rate": 150}
    result = render_session(script, output, settings=settings, minutes=0.5, cache=tmp_path / "c")
    assert result.path == output
    assert result.files[0] == output
    assert {path.suffix for path in result.files} == {".mp3", ".json", ".vtt", ".lrc"}
    assert all(path.is_file() for path in result.files)
    assert result.seconds == pytest.approx(30.0, abs=0.5)  # the minutes asked for
    assert result.samples == round(result.seconds * result.sample_rate)
    assert probed_seconds(output) == pytest.approx(result.seconds, abs=0.06)
    timeline = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    for chapter, mark in zip(result.chapters, timeline["chapters"], strict=True):
        assert chapter.title == mark["title"]
        assert (chapter.start, chapter.end) == pytest.approx((mark["start"], mark["end"]), abs=1e-6)
    assert [chapter.title for chapter in result.chapters] == ["Arrive", "Rest"]
    assert "Hello Sam. Settle in." in [event.get("text") for event in timeline["events"]]
    assert result.clips_made == 2
    again = render_session(script, output, settings=settings, minutes=0.5, cache=tmp_path / "c")
    assert again.clips_made == 0  # from the cache
    assert again.seconds == result.seconds


def test_a_mistake_is_the_projects_error_and_writes_nothing(tmp_path: Path) -> None:
    script = write(tmp_path / "hello.j2", SCRIPT)
    output = tmp_path / "out" / "hello.mp3"
    with pytest.raises(SettingsError) as raised:
        render_session(script, output, settings={"rat": 150, "voice": ESPEAK})
    assert "settings['rat']" in raised.value.message()
    assert "Did you mean 'rate'?" in raised.value.message()
    assert raised.value.exit_code == 2
    with pytest.raises(StillpointError, match="no session named"):
        render_session("no-such-session", output)
    assert not output.parent.exists()


def test_sessions_lists_the_built_ins_and_a_folder_of_ones_own(tmp_path: Path) -> None:
    write(tmp_path / "sessions" / "mine.toml", '[[part]]\ntemplate = "mine.j2"\n')
    found = sessions([tmp_path])
    assert {"hip-release", "pigeon", "timer"} <= set(found)
    assert found["mine"] == tmp_path / "sessions" / "mine.toml"
