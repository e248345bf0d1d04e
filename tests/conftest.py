"""Shared fixtures: an isolated speech cache, user script folders, and decoding of real audio."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from generator.base.samples import SAMPLE_RATE, SILENCE_DB, db_to_gain, frozen
from generator.errors import Source
from generator.markup.templating import ScriptLine


@pytest.fixture(scope="session", autouse=True)
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One clip cache for the whole run, never the user's own."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STILLPOINT_CACHE", str(cache))
        yield cache


@pytest.fixture(autouse=True)
def own_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config and a user scripts folder of the test's own, never the user's real ones."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for name in ("STILLPOINT_CONFIG", "STILLPOINT_SCRIPTS"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside an empty working folder (output/ lands there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def lines(text: str, file: str = "t.txt") -> list[ScriptLine]:
    return [ScriptLine(line, Source(file, n)) for n, line in enumerate(text.splitlines(), 1)]


def decode(
    path: Path, channels: int = 1, start: float = 0.0, length: float | None = None
) -> npt.NDArray[np.float32]:
    """Decode an audio file with ffmpeg into float samples at the session rate.

    Mono is 1-D; stereo is (samples, 2). ``start``/``length`` cut a stretch out of the decoded
    audio (decoding from the beginning, so the cut is sample-exact and memory stays small).
    """
    cut = ["-ss", f"{start:.6f}"] + (["-t", f"{length:.6f}"] if length is not None else [])
    command = ["ffmpeg", "-v", "error", "-i", str(path), *cut]
    command += ["-f", "f32le", "-ac", str(channels), "-ar", str(SAMPLE_RATE), "-"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    samples = np.frombuffer(raw, dtype="<f4")
    return samples.reshape(-1, channels) if channels > 1 else samples


def rms_db(samples: npt.NDArray[np.float32]) -> float:
    if samples.size == 0:
        return -120.0
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return 10 * np.log10(power) if power > 1e-12 else -120.0


ONSET_DB = SILENCE_DB  # heard: louder than where clips are trimmed (their first audible sample)
ONSET_TOLERANCE = 0.020  # seconds: where the timeline says, within this


def heard_at(audio: npt.NDArray[np.float32], start: float, search_from: float) -> float | None:
    """The time of the first sample above ONSET_DB from search_from to start + 0.3 s."""
    window = audio[int(search_from * SAMPLE_RATE) : int((start + 0.3) * SAMPLE_RATE)]
    loud = np.flatnonzero(np.abs(window) > db_to_gain(ONSET_DB))
    return search_from + loud[0] / SAMPLE_RATE if loud.size else None


def check_audio_matches_timeline(mp3: Path, timeline: dict[str, Any]) -> None:
    """The decoded MP3 against its timeline JSON: length, onsets, silences.

    Speech and bells must be heard within ONSET_TOLERANCE of their start. A breath tone swells in
    slowly, so its check is energy: quiet just before its start, clearly heard after it. Every
    pause is silent wherever no sound overlaps it (interval bells ring inside silences).
    """
    audio = decode(mp3)
    rate = SAMPLE_RATE
    assert audio.size / rate == pytest.approx(timeline["duration"], abs=0.05)
    sounding = np.zeros(audio.size, dtype=bool)
    for event in timeline["events"]:
        if event["kind"] != "pause":
            sounding[int(event["start"] * rate) : int(event["end"] * rate) + rate // 10] = True
    sounding_end = 0.0
    for event in timeline["events"]:
        start, end = event["start"], event["end"]
        if event["kind"] == "pause":
            if end - start > 0.2:
                span = slice(int((start + 0.05) * rate), int((end - 0.05) * rate))
                quiet = audio[span][~sounding[span]]
                assert rms_db(quiet) < -60, f"pause at {start:.2f}s is not silent"
            continue
        if event["kind"] == "tone":
            before = audio[int((start - 0.2) * rate) : int((start - 0.02) * rate)]
            assert start - sounding_end < 0.25 or rms_db(before) < -60, f"tone at {start:.2f}s"
            assert rms_db(audio[int((start + 0.1) * rate) : int((start + 0.5) * rate)]) > -45
        elif start - sounding_end < 0.1:  # follows another sound directly: no onset to find
            assert rms_db(audio[int(start * rate) : int((start + 0.3) * rate)]) > -40
        else:
            heard = heard_at(audio, start, max(start - 0.3, sounding_end + 0.05))
            assert heard is not None, f"nothing heard near {event['kind']} at {start:.2f}s"
            assert heard == pytest.approx(start, abs=ONSET_TOLERANCE), (
                f"{event['kind']} at {start:.3f}s heard at {heard:.3f}s"
            )
        if event["kind"] == "bell":
            assert rms_db(audio[int(start * rate) : int((start + 1) * rate)]) > -35
        sounding_end = max(sounding_end, end)


def speechlike(
    rng: np.random.Generator, seconds: float, level: float, spikes: float = 0.0
) -> npt.NDArray[np.float32]:
    """Noise bursts shaped like syllables, with a few sharp spikes (plosives) if asked."""
    size = round(seconds * SAMPLE_RATE)
    envelope = 0.5 + 0.5 * np.sin(np.arange(size) * 2 * np.pi * 4 / SAMPLE_RATE) ** 2
    clip = rng.normal(0, level, size) * envelope
    for at in rng.integers(0, size - 100, 5):
        clip[at : at + 20] += spikes
    return frozen(clip)
