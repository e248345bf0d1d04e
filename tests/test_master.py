"""Mastering alone: one linear gain meets the loudness target; peaks are limited only if needed."""

import numpy as np
import pytest

from generator.audio import SAMPLE_RATE, frozen
from generator.errors import Source
from generator.loudness import TRUE_PEAK_CEILING_DB, LoudnessMeter, true_peak
from generator.master import (
    ENCODER_LOSS_DB,
    ENCODER_MARGIN_DB,
    WORDLESS_GAIN_DB,
    master,
    target_for,
)
from generator.mix import mix_blocks
from generator.timeline import Event, Timeline

HERE = Source("t", 1)
RNG = np.random.default_rng(7)


def speechlike(seconds: float, level: float, spikes: float = 0.0) -> np.ndarray:
    """Noise bursts shaped like syllables, with a few sharp spikes (plosives) if asked."""
    size = round(seconds * SAMPLE_RATE)
    envelope = 0.5 + 0.5 * np.sin(np.arange(size) * 2 * np.pi * 4 / SAMPLE_RATE) ** 2
    clip = RNG.normal(0, level, size) * envelope
    for at in RNG.integers(0, size - 100, 5):
        clip[at : at + 20] += spikes
    return frozen(clip)


def session(clip: np.ndarray, channels: int = 1) -> Timeline:
    starts = [SAMPLE_RATE * 2 + k * SAMPLE_RATE * 8 for k in range(6)]
    events = tuple(Event("speech", s, s + clip.size, HERE, clip="c") for s in starts)
    return Timeline(
        "T", SAMPLE_RATE, starts[-1] + clip.size + SAMPLE_RATE * 2, events, (), channels=channels
    )


def measured(timeline: Timeline, audio: dict[str, np.ndarray], gain: float) -> tuple[float, float]:
    meter = LoudnessMeter(SAMPLE_RATE, timeline.channels)
    for block in mix_blocks(timeline, audio, gain):
        meter.feed(block)
    return meter.integrated(), meter.true_peak()


@pytest.mark.parametrize("channels", [1, 2])
def test_a_quiet_session_is_brought_to_the_target_with_one_gain(channels: int) -> None:
    quiet = speechlike(4, 0.01)
    timeline = session(quiet, channels)
    result = master(timeline, {"c": quiet})
    loudness, peak = measured(timeline, dict(result.audio), result.gain)
    aim = target_for(channels) + ENCODER_LOSS_DB
    assert loudness == pytest.approx(aim, abs=0.1)
    assert result.loudness == pytest.approx(target_for(channels), abs=0.1)
    assert result.limited == 0  # plenty of headroom: nothing was limited
    assert peak <= TRUE_PEAK_CEILING_DB - ENCODER_MARGIN_DB + 0.05


def test_spikes_are_limited_so_the_target_is_met_under_the_ceiling() -> None:
    clip = speechlike(4, 0.02, spikes=0.9)
    timeline = session(clip)
    assert true_peak(clip) > -1  # the spikes alone would clip after any boost
    result = master(timeline, {"c": clip})
    loudness, peak = measured(timeline, dict(result.audio), result.gain)
    assert result.limited == 1
    assert loudness == pytest.approx(target_for(1) + ENCODER_LOSS_DB, abs=0.3)
    assert peak <= TRUE_PEAK_CEILING_DB - ENCODER_MARGIN_DB + 0.05
    assert result.gain > 1


def test_silence_is_left_alone() -> None:
    timeline = Timeline("T", SAMPLE_RATE, SAMPLE_RATE * 5, (), ())
    result = master(timeline, {})
    assert result.gain == 1.0
    assert result.limited == 0


def test_bells_alone_get_a_guided_sessions_gain_not_the_spoken_word_target() -> None:
    bell = speechlike(4, 0.01)
    events = tuple(Event("bell", s, s + bell.size, HERE, clip="b") for s in (44100, 441000))
    timeline = Timeline("Timer", SAMPLE_RATE, 441000 + bell.size + 44100, events, ())
    result = master(timeline, {"b": bell})
    assert result.gain == pytest.approx(10 ** (WORDLESS_GAIN_DB / 20))
    assert result.loudness < target_for(1) - 5  # quiet bells stay quiet
