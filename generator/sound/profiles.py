"""Each clip measured once: its true peak, and its K-weighted energy in 1 ms blocks.

The voice's level (``balance.voice_gain``) and mastering's search (``mastering.py``) both work
from these profiles, never from a second pass over the clips. K-weighting is linear, so a clip
at gain g has g² the energy in every block and a true peak 20 log10(g) dB higher: a speech clip
is measured once as it was made, and its profile serves at whatever level the voice is then
set to (``Profile.scaled``) without the clip being read again.

Measured on the 103 clips of `make bench`'s script (eSpeak NG, 673 s of speech): the voice's
loudness read from their profiles instead of a meter run over the clips took a cold 60-minute
render's levelling from 0.67 s to nothing, as the profiles were made for mastering anyway.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from generator.base.samples import Samples
from generator.files.memo import Memo
from generator.sound.loudness import (
    STEP_SECONDS,
    integrated_loudness,
    k_weighted_energy,
    true_peak,
)

Floats = npt.NDArray[np.float64]
Energies = npt.NDArray[np.float32]

# The blocks a clip is profiled in (samples): 1 ms, 98 to a 100 ms meter step at 44.1 kHz.
BLOCK = 45
PROFILE_FORMAT = 1  # of a kept profile (profiles/): bump when the way profiles are made changes


@dataclass(frozen=True)
class Profile:
    """A clip as mastering and the voice's level see it."""

    peak: float  # dBTP: the clip's true peak (-inf: silence)
    # per BLOCK samples from the clip's start: the K-weighted sum of squares. float32: a render
    # keeps every speech clip's (0.09 bytes a sample of speech), and its rounding, 6e-8 of a
    # block's energy, is far below what a loudness in LU shows
    energy: Energies

    def scaled(self, gain: float) -> Profile:
        """The profile of the clip times ``gain``."""
        if gain == 1.0:
            return self
        peak = self.peak + 20 * math.log10(gain) if gain > 0 else -math.inf
        energy = self.energy * np.float32(gain * gain)
        energy.flags.writeable = False
        return Profile(peak, energy)


def profile(clip: Samples, rate: int) -> Profile:
    """The clip's true peak and its K-weighted energy per block (read-only)."""
    if clip.size == 0:
        return Profile(-math.inf, np.zeros(0, np.float32))
    energy = k_weighted_energy(clip, BLOCK, rate).astype(np.float32)
    energy.flags.writeable = False
    return Profile(true_peak(clip), energy)


def profiles_of(
    read: Callable[[str], Samples], keys: Sequence[str], rate: int
) -> dict[str, Profile]:
    """The clips' profiles, each clip read once, on every core.

    Threads, as numpy's transforms release the GIL: hip-release at 60 minutes was profiled in
    0.77 s instead of 1.4 s on one thread, at 37 MB more of the render's peak (the threads'
    malloc arenas: 267 MB against 229 MB over the ocean bed, measured).
    """
    if len(keys) <= 1:
        return {key: profile(read(key), rate) for key in keys}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        made = pool.map(lambda key: profile(read(key), rate), keys)
        return dict(zip(keys, made, strict=True))


def loudness(profiles: Iterable[Profile], rate: int) -> float:
    """Gated integrated loudness (LUFS) of the clips played one after another, each from the
    start of a 100 ms meter step (its last step filled with silence); -inf for none or silence.

    The clips as a voice's whole, not as a session places them: the same words read the same
    loudness however they are arranged (each clip K-weighted from silence, as it was profiled).
    """
    step = round(STEP_SECONDS * rate)
    energies = [_steps(item.energy, step) for item in profiles]
    return integrated_loudness(np.concatenate([np.zeros(0), *energies]), step)


def _steps(energy: Energies, step: int) -> Floats:
    """A clip's block energies added into the meter steps its blocks start in."""
    starts = np.arange(energy.size) * BLOCK
    count = -(-energy.size * BLOCK // step)
    return np.bincount(starts // step, weights=energy, minlength=count).astype(np.float64)


class Measures(Protocol):
    """Where mastering takes the clips' profiles from, and what identifies each clip's audio
    (for the plan cache's key) without reading it, where that is known."""

    def profiles(self, keys: Sequence[str], rate: int) -> Mapping[str, Profile]: ...

    def identity(self, key: str) -> bytes: ...


class SamplesMeasured:
    """``Measures`` of clips held as samples: profiled when asked, identified by their samples."""

    def __init__(self, audio: Mapping[str, Samples]) -> None:
        self.audio = audio

    def profiles(self, keys: Sequence[str], rate: int) -> Mapping[str, Profile]:
        return profiles_of(self.audio.__getitem__, keys, rate)

    def identity(self, key: str) -> bytes:
        return identity_of(self.audio[key])


def identity_of(samples: Samples) -> bytes:
    """A digest of the samples themselves."""
    return hashlib.blake2b(np.ascontiguousarray(samples).data, digest_size=20).digest()


class ProfileStore:
    """Profiles of speech clips kept beside the speech cache (``files/memo.py``), under their
    cache entry's digest: a clip profiled once is not read again to be profiled, by any render
    (a batch row whose other clips another row profiled; a render with a new bed or plan).

    A record carries a digest of its energies and the clip's block count: one that does not
    match, or will not parse, is None to the reader, which profiles the clip again."""

    def __init__(self, root: Path) -> None:
        self.memo = Memo(root / "profiles")

    def load(self, digest: bytes, size: int, rate: int) -> Profile | None:
        text = self.memo.load(_record_key(digest, rate))
        try:
            record = json.loads(text or "null")
            energy = np.frombuffer(base64.b64decode(record["energy"], validate=True), "<f4")
            peak = float(record["peak"])
        except (TypeError, ValueError, KeyError):  # absent or damaged
            return None
        if record.get("check") != _check(energy) or energy.size != -(-size // BLOCK):
            return None
        kept = energy.astype(np.float32)  # native order, a copy of the record's bytes
        kept.flags.writeable = False
        return Profile(peak, kept)

    def save(self, digest: bytes, made: Profile, rate: int) -> None:
        energy = np.ascontiguousarray(made.energy, dtype="<f4")
        record = {
            "peak": made.peak,
            "energy": base64.b64encode(energy.tobytes()).decode(),
            "check": _check(energy),
        }
        self.memo.save(_record_key(digest, rate), json.dumps(record))


def _record_key(digest: bytes, rate: int) -> str:
    return hashlib.blake2b(
        json.dumps([PROFILE_FORMAT, BLOCK, rate, digest.hex()]).encode(), digest_size=20
    ).hexdigest()


def _check(energy: npt.NDArray[np.float32]) -> str:
    return hashlib.blake2b(
        np.ascontiguousarray(energy, dtype="<f4").data, digest_size=16
    ).hexdigest()
