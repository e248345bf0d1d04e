"""Synthesise Stillpoint's bells: run `python sounds/make_sounds.py` to remake sounds/*.wav.

A struck bowl or chime is a sum of inharmonic partials, each decaying exponentially, higher ones
faster. Each bowl partial is split into two close frequencies so it beats slowly, as a real
bowl's slightly uneven rim makes it do. Deterministic: the same files every run.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

RATE = 44_100
PEAK = 10 ** (-3 / 20)  # -3 dBFS: headroom; the mixer sets the level relative to speech


def struck(
    fundamental: float,
    partials: list[tuple[float, float, float, float]],
    seconds: float,
    attack: float,
) -> np.ndarray:
    """partials: (frequency ratio, amplitude, decay time constant in s, beat in Hz)."""
    t = np.arange(int(seconds * RATE)) / RATE
    sound = np.zeros_like(t)
    for ratio, amplitude, decay, beat in partials:
        frequency = fundamental * ratio
        envelope = amplitude * np.exp(-t / decay)
        pair = np.sin(2 * np.pi * (frequency - beat / 2) * t) + np.sin(
            2 * np.pi * (frequency + beat / 2) * t + 0.7
        )
        sound += envelope * pair / 2
    onset = np.minimum(1.0, t / attack)  # a soft mallet: no click at the strike
    tail = np.minimum(1.0, (seconds - t) / 1.0)  # the last second fades to true silence
    sound *= onset * np.clip(tail, 0.0, 1.0)
    peak = float(np.max(np.abs(sound)))
    return sound * (PEAK / peak)


def bowl() -> np.ndarray:
    # Partial ratios of a hand-hammered singing bowl (about 1 : 2.7 : 5.1 : 8.2).
    return struck(
        196.0,
        [
            (1.0, 1.0, 3.2, 0.9),
            (2.71, 0.55, 2.2, 1.7),
            (5.15, 0.22, 1.1, 2.3),
            (8.17, 0.08, 0.6, 3.1),
        ],
        seconds=8.0,
        attack=0.012,
    )


def chime() -> np.ndarray:
    # A free bar's modes (1 : 2.76 : 5.40), high and short: a gentle call back.
    return struck(
        1046.5,
        [(1.0, 1.0, 1.1, 0.0), (2.76, 0.3, 0.45, 0.0), (5.40, 0.08, 0.2, 0.0)],
        seconds=3.5,
        attack=0.004,
    )


def write(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.round(samples * 32767).astype("<i2").tobytes())


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    for name, make in (("bowl", bowl), ("chime", chime)):
        write(folder / f"{name}.wav", make())


if __name__ == "__main__":
    main()
