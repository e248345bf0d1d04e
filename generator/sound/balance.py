"""The balance of the mix: every sound's loudness set against the voice's, as the listener chose.

Loudness is measured as ears hear it (BS.1770: K-weighted, gated), so a bright chime and a low
bowl at one setting sound equally loud, and brown and pink noise sit alike. Every voice is
brought to SPEECH_LUFS; a bell, a bed or music to SPEECH_LUFS plus its level setting (dB against
the voice: ``bell_level``, ``ambience_level``, ``music_level``). Mastering then brings the whole
file to its loudness target with one gain, so the balance heard is the balance set.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from generator.base.samples import Samples, db_to_gain, frozen
from generator.sound.loudness import LoudnessMeter
from generator.sound.profiles import Profile, loudness

# Every voice's speech, before mastering (a level a raw synthesis is near, so little gain).
SPEECH_LUFS = -22.0
BELL_PEAK_LIMIT_DB = -3.0  # a bell with a sharp attack is turned down further: it never clips


def against_voice(level_db: Fraction | float) -> float:
    """The loudness (LUFS) of a sound set ``level_db`` against the voice."""
    return SPEECH_LUFS + float(level_db)


def loudness_gain(samples: Samples, target_lufs: float, peak_limit_db: float = 0.0) -> float:
    """The gain that brings the sound to target_lufs, or less, to keep its peaks under the limit.

    Measured at a sane level first: a raw synthesis can sit under the meter's absolute gate.
    """
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms == 0.0:
        return 1.0
    meter = LoudnessMeter(peaks=False)
    # scaled and measured a piece at a time: the whole scaled, then as float64, took 12 bytes a
    # sample more (32 MB for a one-minute bed)
    for start in range(0, samples.size, meter.piece):
        meter.feed(samples[start : start + meter.piece] / rms)
    peak = max(float(samples.max()), -float(samples.min()))  # no array of absolute values
    return min(db_to_gain(target_lufs - meter.integrated()) / rms, db_to_gain(peak_limit_db) / peak)


def voice_gain(clips: Sequence[Profile], rate: int) -> float:
    """One gain for all of a voice's clips (their profiles), bringing them together to
    SPEECH_LUFS: sentences keep their natural differences."""
    measured = loudness(clips, rate)
    return db_to_gain(SPEECH_LUFS - measured) if np.isfinite(measured) else 1.0


def bell_at(sound: Samples, level_db: Fraction | float) -> Samples:
    """A bell's sound at its level against the voice (lower if its attack would clip)."""
    return frozen(sound * loudness_gain(sound, against_voice(level_db), BELL_PEAK_LIMIT_DB))
