"""16-bit PCM WAV files: what the speech engines write, and what the tools write to listen to.

A user's sound files, of any format, are read by ``soundfiles.py``.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from generator.base.samples import PCM16_SCALE, Samples, frozen, to_pcm16
from generator.files.atomic import write_atomically


def read_wav(path: Path) -> tuple[Samples, int]:
    """A 16-bit PCM WAV file as mono float samples and its rate."""
    with wave.open(str(path), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16-bit PCM")
        channels, rate = reader.getnchannels(), reader.getframerate()
        data = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    mono = data.reshape(-1, channels).mean(axis=1) if channels > 1 else data
    return frozen(mono / PCM16_SCALE), rate


def write_wav(path: Path, samples: Samples, rate: int) -> None:
    """Write 16-bit mono PCM atomically: readers never see a half-written file."""
    data = io.BytesIO()
    with wave.open(data, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(to_pcm16(samples))
    write_atomically(path, data.getvalue())
