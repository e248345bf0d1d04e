"""Soft breath tones for the later rounds of a breathing pattern: rising in, falling out.

Synthesised, not recorded: a sine glide a fifth wide (G3 to D4) with a quiet octave above it,
swelling in and fading out so it guides without a click or an edge.
"""

from __future__ import annotations

import numpy as np

from generator.base.samples import Samples, db_to_gain, frozen
from generator.markup.breathing import ToneKind

LOW_HZ = 196.0  # G3
HIGH_HZ = 293.66  # D4
TONE_PEAK_DB = -24.0  # well under the voice: a cue to follow, not a sound to listen to
ATTACK_SECONDS = 0.4
RELEASE_SECONDS = 0.8


def tone_id(kind: ToneKind, samples: int) -> str:
    """The id a tone's samples go by in the mix."""
    return f"tone:{kind}:{samples}"


def breath_tone(kind: ToneKind, samples: int, rate: int) -> Samples:
    """A tone of exactly ``samples`` samples whose pitch rises (inhale) or falls (exhale)."""
    if samples <= 0:
        return frozen(np.zeros(0))
    t = np.arange(samples) / rate
    progress = t / max(t[-1], 1e-9)
    start, end = (LOW_HZ, HIGH_HZ) if kind == "rise" else (HIGH_HZ, LOW_HZ)
    # exponential glide: equal musical steps per second; phase is the integral of frequency
    frequency = start * (end / start) ** progress
    phase = 2 * np.pi * np.cumsum(frequency) / rate
    wave = np.sin(phase) + 0.25 * np.sin(2 * phase)
    envelope = np.ones(samples)
    for length, ramp in ((ATTACK_SECONDS, slice(None)), (RELEASE_SECONDS, slice(None, None, -1))):
        count = min(int(length * rate), samples // 2)
        shape = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, count))
        envelope[ramp][:count] *= shape
    tone = wave * envelope
    peak = float(np.max(np.abs(tone))) or 1.0
    return frozen(tone * db_to_gain(TONE_PEAK_DB) / peak)
