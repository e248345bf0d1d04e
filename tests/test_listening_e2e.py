"""End to end: the finished MP3 sounds as promised: loudness, true peak, ambience under silences.

Measured on the real encoded file with ffmpeg's own ebur128 meter, as a podcast app would.
"""

from __future__ import annotations

import json
import re
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import webvtt
from typer.testing import CliRunner

from generator.base.samples import SAMPLE_RATE, active_rms
from generator.cli import app
from generator.writing.cover import cover_png
from generator.writing.tags import read_chapters, read_cover, read_record
from tests.conftest import decode, rms_db, write

pytestmark = pytest.mark.e2e
runner = CliRunner()
FAST = ["--voice", "pyttsx3:gmw/en-us"]

SCRIPT = """\
[chapter Arriving]
[bell]
Welcome. Let the body settle, and let the breath slow down.
[pause 20s (10s..2m)]
[chapter Holding]
Come into the pose on the right side.
[hold 3 breaths pose pigeon side right]
Breathe into the outer hip. Let it be heavy.
[end hold]
Now the left side.
[hold 3 breaths pose pigeon side left]
Breathe into the outer hip. Let it be heavy.
[end hold]
[chapter Closing]
Thank you. Move gently for the rest of the day.
[bell chime]
"""


def render(tmp_path: Path, name: str, *options: str) -> tuple[Path, dict[str, Any]]:
    script = write(tmp_path / "session.txt", SCRIPT)
    mp3 = tmp_path / f"{name}.mp3"
    result = runner.invoke(app, ["render", str(script), "-o", str(mp3), *FAST, *options])
    assert result.exit_code == 0, result.output
    return mp3, json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) as ffmpeg measures the file."""
    run = subprocess.run(
        ["ffmpeg", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = run.stderr[run.stderr.rindex("Summary:") :]
    loudness = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1])  # type: ignore[index]
    peak = float(re.search(r"Peak:\s+(-?[\d.inf]+) dBFS", summary)[1])  # type: ignore[index]
    return loudness, peak


def voice_loudness(mp3: Path, timeline: dict[str, Any], channels: int, work: Path) -> float:
    """ffmpeg's integrated loudness of the file's speech alone (its speech events, cut out)."""
    audio = decode(mp3, channels)
    rate = SAMPLE_RATE
    spans = [(e["start"], e["end"]) for e in timeline["events"] if e["kind"] == "speech"]
    voice = np.concatenate([audio[round(a * rate) : round(b * rate)] for a, b in spans])
    path = work / "voice.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(voice, -1, 1) * 32767).astype("<i2").tobytes())
    return ebur128(path)[0]


@pytest.mark.parametrize(
    ("name", "options", "target"),
    [
        ("mono", [], -19.0),
        ("mono-ocean", ["--ambience", "ocean"], -19.0),
        ("stereo", ["--set", "side_pan=0.7"], -16.0),
        ("stereo-brown", ["--set", "side_pan=0.7", "--ambience", "brown"], -16.0),
    ],
)
def test_loudness_and_true_peak_meet_the_spoken_word_targets(
    tmp_path: Path, name: str, options: list[str], target: float
) -> None:
    """The voice is brought to the target (dialogue-gated, as broadcasters measure speech), the
    whole file never over it, and no peak over -1 dBTP."""
    mp3, timeline = render(tmp_path, name, *options)
    voice = voice_loudness(mp3, timeline, timeline["channels"], tmp_path)
    loudness, peak = ebur128(mp3)
    assert abs(voice - target) <= 1.0, voice
    assert loudness <= target + 1.0, loudness
    assert peak <= -1.0
    assert timeline["loudness"]["target_lufs"] == target
    assert abs(timeline["loudness"]["integrated_lufs"] - voice) < 0.5  # the JSON tells the truth


def test_ambience_fills_the_silences_softly_and_fades_at_the_ends(tmp_path: Path) -> None:
    mp3, timeline = render(tmp_path, "bed", "--ambience", "brown")
    audio = decode(mp3)
    (bed,) = [event for event in timeline["events"] if event["kind"] == "ambience"]
    assert bed["sound"] == "brown"
    assert bed["start"] == pytest.approx(0.0)
    assert bed["end"] == pytest.approx(timeline["duration"])
    pause = next(
        e for e in timeline["events"] if e["kind"] == "pause" and e["end"] - e["start"] > 10
    )
    middle = audio[
        round((pause["start"] + 4) * SAMPLE_RATE) : round((pause["end"] - 4) * SAMPLE_RATE)
    ]
    assert -60 < rms_db(middle) < -30  # heard, well under the voice
    speech = next(e for e in timeline["events"] if e["kind"] == "speech")
    words = audio[round(speech["start"] * SAMPLE_RATE) : round(speech["end"] * SAMPLE_RATE)]
    assert rms_db(words) > rms_db(middle) + 12
    assert rms_db(audio[: SAMPLE_RATE // 10]) < rms_db(middle) - 10  # faded in from silence
    assert rms_db(audio[-SAMPLE_RATE // 10 :]) < rms_db(middle) - 10  # and out to it


def test_chapters_in_the_mp3_are_the_timelines_and_the_transcripts_agree(tmp_path: Path) -> None:
    mp3, timeline = render(tmp_path, "tagged")
    chapters = read_chapters(mp3)
    assert [c.title for c in chapters] == [c["title"] for c in timeline["chapters"]]
    for tagged, planned in zip(chapters, timeline["chapters"], strict=True):
        assert tagged.start_ms == round(planned["start"] * 1000)
        assert tagged.end_ms == round(planned["end"] * 1000)
    speech = [e for e in timeline["events"] if e["kind"] == "speech"]
    captions = webvtt.read(str(mp3.with_suffix(".vtt"))).captions
    vtt = [(c.start_time.in_milliseconds() / 1000, c.text) for c in captions]
    lrc = [
        (int(m) * 60 + int(s) + int(cs) / 100, text)
        for m, s, cs, text in re.findall(
            r"^\[(\d+):(\d\d)\.(\d\d)\](.+)$",
            mp3.with_suffix(".lrc").read_text(encoding="utf-8"),
            re.M,
        )
    ]
    for lines, tolerance in ((vtt, 0.001), (lrc, 0.01)):  # each utterance's captions, in order
        said = [[text for at, text in lines if within(at, event, tolerance)] for event in speech]
        assert [" ".join(texts).split() for texts in said] == [e["text"].split() for e in speech]
        assert len(lines) == sum(map(len, said))  # and none outside them
        for event in speech:
            first = next(at for at, _ in lines if within(at, event, tolerance))
            assert first == pytest.approx(event["start"], abs=tolerance)


def within(at: float, event: dict[str, Any], tolerance: float) -> bool:
    """A caption's start inside the utterance (its time rounded to ``tolerance``)."""
    return bool(event["start"] - tolerance <= at < event["end"] - tolerance)


def test_a_file_renders_again_from_the_recipe_inside_it(tmp_path: Path) -> None:
    mp3, _ = render(tmp_path, "first", "--ambience", "drone", "--breath", "4s", "--minutes", "1.5")
    (tmp_path / "session.txt").write_text(
        "Changed since.\n", encoding="utf-8"
    )  # the source moved on
    again = tmp_path / "again.mp3"
    result = runner.invoke(app, ["render", "--from", str(mp3), "-o", str(again)])
    assert result.exit_code == 0, result.output
    assert (
        again.read_bytes() == mp3.read_bytes()
    )  # the same recipe, settings and length: the same file
    record = json.loads(read_record(again) or "{}")
    assert record["settings"]["ambience"] == "drone"
    changed = tmp_path / "changed.mp3"
    result = runner.invoke(
        app, ["render", "--from", str(mp3), "-o", str(changed), "--ambience", "off"]
    )
    assert result.exit_code == 0, result.output
    assert not [
        e
        for e in json.loads(changed.with_suffix(".json").read_text())["events"]
        if e["kind"] == "ambience"
    ]


VOICES = """\
[voice pyttsx3:gmw/en-us]
Let the shoulders drop and the jaw soften. Breathe slowly into the belly.
[pause 2s]
[voice piper:joe]
Let the shoulders drop and the jaw soften. Breathe slowly into the belly.
[pause 2s]
[voice pyttsx3:gmw/en-gb-x-rp]
Let the shoulders drop and the jaw soften. Breathe slowly into the belly.
"""


def test_every_voice_speaks_at_one_level(tmp_path: Path) -> None:
    script = write(tmp_path / "voices.txt", VOICES)
    mp3 = tmp_path / "voices.mp3"
    result = runner.invoke(app, ["render", str(script), "-o", str(mp3)])
    assert result.exit_code == 0, result.output
    events = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))["events"]
    audio = decode(mp3)
    levels = [
        active_rms([audio[round(e["start"] * SAMPLE_RATE) : round(e["end"] * SAMPLE_RATE)]])
        for e in events
        if e["kind"] == "speech"
    ]
    assert len(levels) == 3
    spread = 20 * np.log10(max(levels) / min(levels))
    assert spread < 1.5  # raw, piper speaks about 3 dB under eSpeak NG


def test_a_sound_file_of_ones_own_can_be_the_ambience(tmp_path: Path) -> None:
    rain = tmp_path / "rain.flac"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anoisesrc=d=5:c=pink:seed=3", str(rain)],
        check=True,
    )
    mp3, timeline = render(tmp_path, "rain", "--ambience", str(rain))
    (bed,) = [event for event in timeline["events"] if event["kind"] == "ambience"]
    assert bed["sound"] == str(rain)
    loudness, peak = ebur128(mp3)
    assert abs(loudness + 19) <= 1.0
    assert peak <= -1.0


def test_the_cover_is_made_for_the_session_or_given_by_the_user(tmp_path: Path) -> None:
    made, _ = render(tmp_path, "made")
    assert read_cover(made) == cover_png("Session")
    picture = tmp_path / "mine.png"
    picture.write_bytes(cover_png("anything at all"))
    given, _ = render(tmp_path, "given", "--set", f"cover={picture}")
    assert read_cover(given) == picture.read_bytes()
    text = tmp_path / "notes.png"
    text.write_text("not a picture", encoding="utf-8")
    script = tmp_path / "session.txt"
    result = runner.invoke(
        app, ["render", str(script), "-o", str(tmp_path / "x.mp3"), "--set", f"cover={text}"]
    )
    assert result.exit_code == 2
    assert "is not a PNG or JPEG image" in result.output
    assert not (tmp_path / "x.mp3").exists()
