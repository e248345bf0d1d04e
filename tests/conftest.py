"""Shared fixtures: an isolated speech cache, user script folders, and decoding of real audio."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from generator.audio import SAMPLE_RATE
from generator.errors import Source
from generator.script import ScriptLine


@pytest.fixture(scope="session", autouse=True)
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One clip cache for the whole run, never the user's own."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STILLPOINT_CACHE", str(cache))
        yield cache


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


def decode(path: Path) -> npt.NDArray[np.float32]:
    """Decode an audio file with ffmpeg into mono float samples at the session rate."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4")


def rms_db(samples: npt.NDArray[np.float32]) -> float:
    if samples.size == 0:
        return -120.0
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return 10 * np.log10(power) if power > 1e-12 else -120.0
