"""The timing engine end to end: real eSpeak NG speech, real ffmpeg, the MP3 decoded and measured.

Breath phases, holds on both sides, struck and interval bells and --minutes targets are checked
in the decoded audio, not only in the timeline that says where they should be.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.markup.wording import spoken_length
from tests.conftest import check_audio_matches_timeline, decode, heard_at, rms_db, write

pytestmark = pytest.mark.e2e

RATE = 44_100
MP3_FRAME = 1152 / RATE  # seconds: the grain of an MP3 file
runner = CliRunner()

POSE = """\
[hold 4 breaths pose pigeon side {side}]
Let the {side} hip soften.
[at 2 breaths to go] Two more breaths.
[end hold]
Slowly come out of the pose.
"""
SESSION = f"""\
[chapter Breath]
[bell chime]
Follow the breath.
[breathe box x3 say 1 tones count]
[chapter Pigeon]
{POSE.format(side="right")}
[pause 2s]
Now change sides.
[pause 2s]
{POSE.format(side="left")}
[chapter Rest]
Rest for {{silence}}.
[pause 30s (10s..2m) every 10s bell chime]
[bell x2]
"""


def render(args: list[str]) -> tuple[Path, dict[str, Any]]:
    result = runner.invoke(app, ["render", *args])
    assert result.exit_code == 0, result.output
    mp3 = Path(args[args.index("-o") + 1])
    return mp3, dict(json.loads(mp3.with_suffix(".json").read_text()))


def test_breath_holds_sides_and_bells_sound_where_the_timeline_says(tmp_path: Path) -> None:
    script = write(tmp_path / "timing.txt", SESSION)
    mp3, timeline = render([str(script), "-o", str(tmp_path / "timing.mp3"), "--breath", "4s"])
    check_audio_matches_timeline(mp3, timeline)
    events = timeline["events"]
    kinds = {event["kind"] for event in events}
    assert kinds == {"speech", "bell", "tone", "pause"}
    # every breath phase starts on the 4-second grid from the pattern's first sample
    (breathing,) = [span for span in timeline["spans"] if span["kind"] == "breathe"]
    firsts: dict[tuple[int, str], float] = {}
    for event in events:
        if "phase" in event:
            firsts.setdefault((event["round"], event["phase"]), event["start"])
    for index, start in enumerate(firsts.values()):
        assert start == pytest.approx(breathing["start"] + 4 * index, abs=0.5 / RATE)
    # both sides: equal windows, measured in the decoded audio from the first words of each hold
    # to the first words after it
    audio = decode(mp3)
    holds = [span for span in timeline["spans"] if span["kind"] == "hold"]
    assert [(h["side"], h["samples"]) for h in holds] == [("right", 16 * RATE), ("left", 16 * RATE)]
    windows = []
    for hold in holds:
        inside = [e for e in events if e.get("side") == hold["side"] and e["kind"] == "speech"]
        after = next(e for e in events if e["kind"] == "speech" and e["start"] >= hold["end"])
        assert all(e["pose"] == "pigeon" for e in inside)
        begin = heard_at(audio, inside[0]["start"], inside[0]["start"] - 0.3)
        end = heard_at(audio, after["start"], after["start"] - 0.3)
        assert begin is not None
        assert end is not None
        windows.append(end - begin)
    assert windows[0] == pytest.approx(windows[1], abs=MP3_FRAME)
    assert windows[0] == pytest.approx(16, abs=0.02)
    # the rest's interval bells, and the announcement that says how long it lasts
    rest = next(e for e in events if e.get("text", "").startswith("Rest for"))
    assert rest["text"] == "Rest for thirty seconds."
    silence = next(e for e in events if e["start"] >= rest["end"] and e["kind"] == "pause")
    bells = [e["start"] - silence["start"] for e in events if e["kind"] == "bell"]
    # one interval bell at 10 s (none in the last 10 s), then the closing double strike
    assert [round(b, 3) for b in bells if b > 0] == [10, 30, 32.5]


@pytest.mark.parametrize("minutes", [2.25, 3, 3.6])
def test_minutes_targets_are_met_in_the_decoded_file(tmp_path: Path, minutes: float) -> None:
    script = write(tmp_path / "timing.txt", SESSION)
    mp3, timeline = render(
        [str(script), "-o", str(tmp_path / "t.mp3"), "--breath", "4s", "--minutes", str(minutes)]
    )
    assert timeline["duration"] == pytest.approx(minutes * 60, abs=0.5)
    assert decode(mp3).size / RATE == pytest.approx(minutes * 60, abs=0.5)
    holds = [span["samples"] for span in timeline["spans"] if span["kind"] == "hold"]
    assert holds == [16 * RATE, 16 * RATE]  # fixed windows never change


def test_thirty_minutes_of_box_breathing_do_not_drift(tmp_path: Path) -> None:
    script = write(tmp_path / "box.txt", "Begin.\n[breathe box for 30m say 2 tones]\nDone.\n")
    mp3, timeline = render([str(script), "-o", str(tmp_path / "box.mp3")])
    (span,) = timeline["spans"]
    firsts: dict[tuple[int, str], float] = {}
    for event in timeline["events"]:
        if "phase" in event:
            firsts.setdefault((event["round"], event["phase"]), event["start"])
    starts = list(firsts.values())
    assert len(starts) == (1800 // 16) * 4  # whole rounds of the 16-second box
    origin = round(span["start"] * RATE)
    for index, start in enumerate(starts):
        assert round(start * RATE) == origin + 4 * index * RATE  # to the sample
    # the last inhale tone is heard at its place in the decoded file: the end has not drifted
    last_inhale = next(
        e
        for e in reversed(timeline["events"])
        if e.get("phase") == "inhale" and e["kind"] == "tone"
    )
    stretch = decode(mp3, start=last_inhale["start"] - 0.2, length=0.9)
    assert rms_db(stretch[: int(0.18 * RATE)]) < -60  # the quiet hold before it
    assert rms_db(stretch[int(0.3 * RATE) : int(0.7 * RATE)]) > -45
    done = next(e for e in timeline["events"] if e.get("text") == "Done.")
    assert done["start"] == pytest.approx(span["start"] + 1800, abs=1 / RATE)
    tail = decode(mp3, start=done["start"] - 0.3, length=0.6)
    heard = heard_at(tail, 0.3, 0.0)
    assert heard == pytest.approx(0.3, abs=0.02)


def test_sides_can_be_heard_from_their_side(tmp_path: Path) -> None:
    script = write(tmp_path / "sides.txt", POSE.format(side="left") + POSE.format(side="right"))
    mp3, timeline = render(
        [str(script), "-o", str(tmp_path / "s.mp3"), "--breath", "3s", "--set", "side_pan=0.8"]
    )
    assert timeline["channels"] == 2
    audio = decode(mp3, channels=2)
    for side in ("left", "right"):
        said = next(e for e in timeline["events"] if e.get("side") == side and e.get("text"))
        part = audio[int(said["start"] * RATE) : int(said["end"] * RATE)]
        left, right = rms_db(part[:, 0]), rms_db(part[:, 1])
        near, far = (left, right) if side == "left" else (right, left)
        assert near - far > 10  # 0.2 of the level on the far side: -14 dB
    centre = next(e for e in timeline["events"] if e.get("text") == "Slowly come out of the pose.")
    part = audio[int(centre["start"] * RATE) : int(centre["end"] * RATE)]
    assert rms_db(part[:, 0]) == pytest.approx(rms_db(part[:, 1]), abs=0.5)


def test_the_timer_command_in_a_real_process(tmp_path: Path) -> None:
    mp3 = tmp_path / "timer.mp3"
    command = [sys.executable, "-m", "generator", "timer", "--minutes", "2", "--interval", "30s"]
    command += ["--warmup", "5s", "--bell", "chime", "-o", str(mp3)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Wrote" in result.stdout
    timeline = json.loads(mp3.with_suffix(".json").read_text())
    # --minutes is the meditation, from strike to strike: the file adds the 1 s lead-in, the
    # warm-up, the closing triple chime's ring (2 x 2.5 s + 3.5 s) and the 2 s tail
    assert timeline["duration"] == pytest.approx(1 + 5 + 120 + 8.5 + 2, abs=0.01)
    check_audio_matches_timeline(mp3, timeline)
    bells = [e["start"] for e in timeline["events"] if e["kind"] == "bell"]
    assert bells[0] == pytest.approx(1 + 5, abs=1 / RATE)  # lead-in, then the warm-up
    expected = [30 * k for k in range(1, 10) if 30 * k < 120 - 10]  # none in the last 10 s
    assert [round(b - bells[0], 3) for b in bells[1:-3]] == expected  # from the opening strike
    assert bells[-3] - bells[0] == pytest.approx(120, abs=1 / RATE)  # the closing triple strike
    assert float(Fraction(timeline["samples"], RATE)) == timeline["duration"]


def test_epsom_soak_meets_a_chosen_length(tmp_path: Path) -> None:
    mp3, timeline = render(["epsom-soak", "-o", str(tmp_path / "soak.mp3"), "--minutes", "30"])
    assert timeline["duration"] == pytest.approx(30 * 60, abs=0.5)
    soak = next(e for e in timeline["events"] if e.get("detail", "").startswith("stretch"))
    assert soak["end"] - soak["start"] >= 20 * 60  # the article's at least 20 minutes
    said = next(e for e in timeline["events"] if "soak in silence for" in e.get("text", ""))
    length = spoken_length(Fraction(round((soak["end"] - soak["start"]) * RATE), RATE))
    assert f"I will leave you to soak in silence for {length}." in said["text"]
    check_audio_matches_timeline(mp3, timeline)
