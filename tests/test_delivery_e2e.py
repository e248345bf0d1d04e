"""Guided delivery, measured on real renders (eSpeak NG and piper, ffmpeg) decoded again.

- Pace: words of an utterance over its length as heard, inner pauses included, within 5 % of
  the rate asked for, at three rates on both engines; sentence and comma pauses found as
  silences in the decoded audio.
- Levels: bells and the ambience bed against the voice at two settings each, measured on the
  encoded file, after mastering, by ffmpeg's own EBU R128 meter.
"""

from __future__ import annotations

import json
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from generator.base.samples import SAMPLE_RATE, db_to_gain
from generator.cli import app
from generator.files.wav import write_wav
from generator.speech.delivery import BASE_RATE, COMMA_SHARE, phrases, word_count
from tests.conftest import decode, write

pytestmark = pytest.mark.e2e
runner = CliRunner()

PLAIN = """\
Let the weight of your body sink into the floor. Breathe into the outer hip, and let each \
exhale soften it. There is nowhere else you need to be.

Notice the jaw, the shoulders and the hands. Soften them.

Take a moment to notice how your hips feel now.

Now imagine a warm light glowing around your hips; let it spread. Rest here.
"""
QUIET_DB = -45.0  # a pause in the decoded MP3: the encoder leaves a faint hiss, never this loud
MIN_PAUSE = 0.12  # s: shorter silences are inside words (stops, eSpeak's gaps), not pauses


def render(tmp_path: Path, name: str, text: str, *options: str) -> tuple[Path, dict[str, Any]]:
    script = write(tmp_path / f"{name}.txt", text)
    mp3 = tmp_path / f"{name}.mp3"
    result = runner.invoke(app, ["render", str(script), "-o", str(mp3), *options])
    assert result.exit_code == 0, result.output
    return mp3, dict(json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8")))


def silences(audio: npt.NDArray[np.float32], start: float, end: float) -> list[float]:
    """The lengths of the silent runs (10 ms frames under QUIET_DB) between start and end."""
    frame = SAMPLE_RATE // 100
    span = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    usable = span[: span.size - span.size % frame].reshape(-1, frame)
    quiet = np.sqrt(np.mean(np.square(usable, dtype=np.float64), axis=1)) < db_to_gain(QUIET_DB)
    runs, length = [], 0
    for is_quiet in quiet:
        if is_quiet:
            length += 1
        elif length:
            runs.append(length / 100)
            length = 0
    return [run for run in runs if run >= MIN_PAUSE]


def heard_span(audio: npt.NDArray[np.float32], start: float, end: float) -> float:
    """From the first to the last sample heard near the utterance's event: its length as heard."""
    margin = 0.15
    span = audio[int((start - margin) * SAMPLE_RATE) : int((end + margin) * SAMPLE_RATE)]
    loud = np.flatnonzero(np.abs(span) > db_to_gain(-40))
    return float((loud[-1] - loud[0]) / SAMPLE_RATE)


@pytest.mark.parametrize("voice", ["pyttsx3:gmw/en-us", "piper:joe"])
@pytest.mark.parametrize("rate", [90, 120, 180])
def test_the_rate_is_the_pace_heard(tmp_path: Path, voice: str, rate: int) -> None:
    mp3, timeline = render(tmp_path, "plain", PLAIN, "--voice", voice, "--rate", str(rate))
    audio = decode(mp3)
    speech = [event for event in timeline["events"] if event["kind"] == "speech"]
    assert len(speech) == 4
    for event in speech:
        heard = heard_span(audio, event["start"], event["end"])
        pace = word_count(event["text"]) * 60 / heard
        assert pace == pytest.approx(rate, rel=0.05), (event["text"], pace)
        pauses = silences(audio, event["start"] + 0.05, event["end"] - 0.05) or [0.0]
        sentence = float(Fraction(BASE_RATE, rate))  # the setting's 1 s, scaled with the pace
        kinds = [phrase.after for phrase in phrases(event["text"])][:-1]
        if "sentence" in kinds:  # a comma's pause is 0.35 of a sentence's (both given alike)
            long = [pause for pause in pauses if pause >= 0.6 * max(pauses)]
            assert len(long) == kinds.count("sentence"), (event["text"], pauses)
        # at most twice the setting, scaled with the pace (and the fades under the threshold)
        assert max(pauses) <= sentence * 2 + 0.3, (event["text"], pauses)
    first = speech[0]  # three sentences with a comma: the sentence pauses are the long ones
    found = sorted(silences(audio, first["start"] + 0.05, first["end"] - 0.05), reverse=True)
    assert len(found) >= 3
    assert found[0] / found[2] == pytest.approx(1 / float(COMMA_SHARE), rel=0.3)


def test_a_longer_sentence_pause_is_heard(tmp_path: Path) -> None:
    text = "Rest here. Let the breath slow down. Feel the floor.\n"
    voice = ("--voice", "pyttsx3:gmw/en-us")
    short_mp3, _ = render(tmp_path, "short", text, *voice, "--set", "sentence_pause=0.5s")
    long_mp3, timeline = render(tmp_path, "long", text, *voice, "--set", "sentence_pause=2s")
    (event,) = [event for event in timeline["events"] if event["kind"] == "speech"]
    pauses = silences(decode(long_mp3), event["start"] + 0.05, event["end"] - 0.05)
    short = json.loads(short_mp3.with_suffix(".json").read_text(encoding="utf-8"))
    (quick,) = [event for event in short["events"] if event["kind"] == "speech"]
    quick_pauses = silences(decode(short_mp3), quick["start"] + 0.05, quick["end"] - 0.05)
    assert np.mean(sorted(pauses)[-2:]) > 2.5 * np.mean(sorted(quick_pauses)[-2:])


# --- levels -------------------------------------------------------------------------------------

SPEECH = """\
Settle in, and let the breath slow down. Let the shoulders drop.

Feel the weight of the hips on the floor, and let them be heavy.
[pause 6s]
"""
BELLS = SPEECH + "[bell bowl]\n[pause 8s]\n[bell chime]\n[pause 3s]\nRest here for a moment.\n"
BED = "[ambience brown]\n" + SPEECH + "[pause 8s]\nNotice how the hips feel now.\n[pause 6s]\n"


def ebur128(audio: npt.NDArray[np.float32], work: Path, name: str) -> float:
    """Integrated loudness by ffmpeg's own EBU R128 meter (not ours) of these samples."""
    path = work / f"{name}.wav"
    write_wav(path, audio, SAMPLE_RATE)
    done = subprocess.run(
        [
            "ffmpeg",
            "-nostats",
            "-hide_banner",
            "-i",
            str(path),
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", done.stderr)[-1])


def stretches(timeline: dict[str, Any], kind: str, sound: str = "") -> list[tuple[float, float]]:
    return [
        (event["start"], event["end"])
        for event in timeline["events"]
        if event["kind"] == kind and (not sound or event.get("sound") == sound)
    ]


def joined(audio: npt.NDArray[np.float32], spans: list[tuple[float, float]], trim: float) -> Any:
    return np.concatenate(
        [audio[int((a + trim) * SAMPLE_RATE) : int((b - trim) * SAMPLE_RATE)] for a, b in spans]
    )


@pytest.mark.parametrize("level", [-4, -14])
def test_bells_keep_their_level_against_the_voice_after_mastering(
    tmp_path: Path, level: int
) -> None:
    options = ["--voice", "pyttsx3:gmw/en-us", "--set", f"bell_level={level}"]
    mp3, timeline = render(tmp_path, "bells", BELLS, *options)
    audio = decode(mp3)
    voice = ebur128(joined(audio, stretches(timeline, "speech"), 0.0), tmp_path, "voice")
    for bell in ("bowl", "chime"):  # both alike at one setting: levelled by loudness
        (span,) = stretches(timeline, "bell", bell)
        measured = ebur128(joined(audio, [span], 0.0), tmp_path, bell)
        assert measured - voice == pytest.approx(level, abs=1.5), (bell, measured, voice)


@pytest.mark.parametrize("level", [-18, -10])
def test_the_bed_keeps_its_level_against_the_voice_after_mastering(
    tmp_path: Path, level: int
) -> None:
    options = ["--voice", "pyttsx3:gmw/en-us", "--set", f"ambience_level={level}"]
    mp3, timeline = render(tmp_path, "bed", BED, *options)
    audio = decode(mp3)
    voice = ebur128(joined(audio, stretches(timeline, "speech"), 0.0), tmp_path, "voice")
    quiet = [(a, b) for a, b in stretches(timeline, "pause") if b - a >= 5]
    bed = ebur128(joined(audio, quiet, 1.0), tmp_path, "bed")  # away from the ducking's ramps
    assert bed - voice == pytest.approx(level, abs=1.5), (bed, voice)
