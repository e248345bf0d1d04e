"""A user's sound file, read one way whatever its role: a bell, an ambience bed or music.

Any file ffmpeg can decode is accepted (WAV of any depth, rate and channel count, FLAC, OGG,
MP3…): ffprobe names its audio stream, ffmpeg decodes it through pydub (``ffmpeg.py``), and it
comes back mono, at the session's rate. Each role reads at most the seconds it can use.
"""

from __future__ import annotations

import functools
import wave
from dataclasses import dataclass
from pathlib import Path

from generator.base.samples import SAMPLE_RATE, Samples, resample
from generator.errors import StillpointError
from generator.files import ffmpeg
from generator.files.userfiles import display_path, regular_file
from generator.files.wav import read_wav

READABLE = "a sound file ffmpeg can read (WAV, FLAC, OGG, MP3…)"


class SoundFileError(StillpointError):
    """A sound file is missing, or cannot be decoded as sound."""


@dataclass(frozen=True)
class Role:
    """What a sound file is for, and the most of it that role uses."""

    name: str  # as the user asked for it: "bell", "ambience", "music"
    max_seconds: int  # decoded from the start; the rest of a longer file is never read


BELL = Role("bell", 30)  # a strike and its ring: the built-in bowl rings 8 s
AMBIENCE = Role("ambience", 300)  # a bed is a loop: five minutes is not heard to repeat
MUSIC = Role("music", 600)


def read_sound(
    path: Path, role: Role, rate: int = SAMPLE_RATE, seconds: float | None = None
) -> Samples:
    """The file's first ``seconds`` (at most ``role.max_seconds``) as mono float samples at
    ``rate``. A folder, device, pipe or socket is refused before it is opened."""
    if role == BELL and seconds is None:  # small, and read again by every estimate: kept
        size = regular_file(path, SoundFileError, f"Give a sound file as the {role.name}.")
        return _bell(path.resolve(), path.stat().st_mtime_ns, size, rate, str(path))
    return _decoded(path, role, rate, seconds)


@functools.lru_cache(maxsize=32)
def _bell(real: Path, mtime: int, size: int, rate: int, given: str) -> Samples:
    """A bell's samples, decoded once per process while its file is unchanged (its mtime and
    size in the key): `list` estimates every session, each ringing the same two bells."""
    del mtime, size  # in the key only
    plain = _plain_wav(Path(given), rate)
    return plain if plain is not None else _decoded(Path(given), BELL, rate, None)


def _plain_wav(path: Path, rate: int) -> Samples | None:
    """A mono 16-bit PCM WAV at ``rate`` (the built-in bells), read here; None for any other
    file, which ffmpeg decodes. The same samples as ffmpeg's (compared in the tests), without
    starting ffprobe and ffmpeg: 0.4 of `stillpoint script`'s 0.9 s (cProfile)."""
    try:
        with wave.open(str(path), "rb") as reader:
            layout = (reader.getnchannels(), reader.getsampwidth(), reader.getcomptype())
            plain = layout == (1, 2, "NONE") and reader.getframerate() == rate
            if not plain or reader.getnframes() > BELL.max_seconds * rate:
                return None
        return read_wav(path)[0]
    except Exception:  # any file the wave module cannot take is ffmpeg's to read
        return None  # (a damaged header raises RuntimeError, struct.error… as well as wave.Error)


def _decoded(path: Path, role: Role, rate: int, seconds: float | None) -> Samples:
    shown = display_path(path)
    if not path.exists():
        raise SoundFileError(
            f"no sound file {shown}", fix=f"Check the path of the {role.name} file."
        )
    regular_file(path, SoundFileError, f"Give a sound file as the {role.name}.")
    wanted = min(float(role.max_seconds), seconds if seconds is not None else float("inf"))
    try:
        probed = ffmpeg.probe(path)
        if not probed.codec:
            raise ffmpeg.DecodeError("it holds no audio stream")
        samples, source_rate = ffmpeg.decode(path, wanted, probed.codec)
    except (ffmpeg.ProbeError, ffmpeg.DecodeError) as error:
        raise SoundFileError(
            f"cannot decode {shown} as sound: {error}", fix=f"Use {READABLE}."
        ) from None
    return resample(samples, source_rate, rate)
