"""Breath tones: exact length, pitch moving the right way, soft, no click at either end."""

import numpy as np
import pytest

from generator.base.samples import db_to_gain
from generator.sound.tones import HIGH_HZ, LOW_HZ, TONE_PEAK_DB, breath_tone

RATE = 44_100


def pitch(samples: np.ndarray) -> float:
    """Frequency from upward zero crossings (the octave partial is too weak to add any)."""
    signs = np.signbit(samples)
    crossings = np.count_nonzero(signs[:-1] & ~signs[1:])
    return crossings * RATE / samples.size


@pytest.mark.parametrize(("kind", "rising"), [("rise", True), ("fall", False)])
def test_a_tone_glides_up_for_the_inhale_and_down_for_the_exhale(kind: str, rising: bool) -> None:
    tone = breath_tone(kind, 4 * RATE, RATE)  # type: ignore[arg-type]
    assert tone.size == 4 * RATE
    early, late = pitch(tone[RATE // 2 : RATE]), pitch(tone[3 * RATE : int(3.5 * RATE)])
    assert min(early, late) > LOW_HZ * 0.9
    assert max(early, late) < HIGH_HZ * 1.1
    assert (late > early * 1.2) if rising else (early > late * 1.2)
    assert float(np.max(np.abs(tone))) == pytest.approx(db_to_gain(TONE_PEAK_DB), rel=1e-3)
    assert abs(float(tone[0])) < 1e-4
    assert abs(float(tone[-1])) < 1e-4
