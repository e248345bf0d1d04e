"""Loudness meter, true peak and limiter: against BS.1770's references and ffmpeg's own meter."""

from __future__ import annotations

import itertools
import math
import re
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from generator.base.samples import SAMPLE_RATE, Samples, db_to_gain, frozen
from generator.sound.loudness import (
    TRUE_PEAK_CEILING_DB,
    LoudnessMeter,
    gain_for,
    k_weighted,
    k_weighting,
    limit,
    true_peak,
)
from tests.conftest import rms_db

RATE = SAMPLE_RATE
Floats = npt.NDArray[np.float64]
LOUDNESS_TOLERANCE = 0.2  # LU, against ffmpeg (which prints one decimal)
PEAK_TOLERANCE = 0.3  # dB


# --- test signals --------------------------------------------------------------------------


def sine(hz: float, seconds: float, level_db: float, phase: float = 0.0) -> Floats:
    """A sine whose peak is ``level_db`` dBFS, faded in and out over 50 ms.

    (Cut off abruptly, it would not be band-limited: the true signal overshoots at the cuts.)
    """
    time = np.arange(round(seconds * RATE)) / RATE
    fade = np.minimum(1.0, np.minimum(time, time[-1] - time) / 0.05)
    faded: Floats = db_to_gain(level_db) * np.sin(2 * np.pi * hz * time + phase) * fade
    return faded


def pink(seconds: float, rms_level_db: float, seed: int = 7) -> Floats:
    """Noise falling 3 dB an octave from 20 Hz (white noise shaped in the frequency domain)."""
    size = round(seconds * RATE)
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    shape = np.zeros(freqs.size)
    shape[freqs >= 20] = 1 / np.sqrt(freqs[freqs >= 20])
    spectrum = rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)
    noise = np.fft.irfft(spectrum * shape, n=size)
    levelled: Floats = noise * db_to_gain(rms_level_db) / np.sqrt(np.mean(noise**2))
    return levelled


def voice(seconds: float, seed: int = 3) -> Floats:
    """Voice-like: a 140 Hz buzz (harmonics at 1/k) swelling with 4 Hz syllables, 10 ms fades."""
    time = np.arange(round(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * np.pi, 24)
    buzz = sum(np.sin(2 * np.pi * 140 * k * time + phases[k - 1]) / k for k in range(1, 25))
    syllables = 0.75 + 0.25 * np.sin(2 * np.pi * 4 * time)
    fade = np.minimum(1.0, np.minimum(time, time[-1] - time) / 0.01)
    shaped: Floats = buzz * syllables * fade
    return shaped


def measured(samples: Floats, channels: int = 1, block: int = 10 * RATE) -> LoudnessMeter:
    meter = LoudnessMeter(RATE, channels)
    audio = samples.astype(np.float32)
    for start in range(0, audio.shape[0], block):
        meter.feed(audio[start : start + block])
    return meter


# --- ffmpeg's meter ------------------------------------------------------------------------


def write_float_wav(path: Path, samples: Floats) -> None:
    """32-bit float WAV (format 3): the exact samples, no encoder between us and ffmpeg."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    data = samples.astype("<f4").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 3, channels, RATE),
        *(RATE * channels * 4, channels * 4, 32, b"data", len(data)),
    )
    path.write_bytes(header + data)


def ffmpeg_meter(path: Path) -> tuple[float, float]:
    """ffmpeg's integrated loudness (LUFS) and true peak (dBTP) of a file, from its summary."""
    command = ["ffmpeg", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"]
    log = subprocess.run(command, capture_output=True, check=True, text=True).stderr
    summary = log.rsplit("Summary:", 1)[1]
    loudness = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary)
    assert loudness is not None
    assert peak is not None
    return float(loudness.group(1)), float(peak.group(1))


def burst() -> Floats:
    """Three seconds of voice at -20.1 LUFS."""
    return voice(3.0) * db_to_gain(-16.0)


def bursts() -> Floats:
    """Three voice bursts with 6 s of silence after each: two thirds of the time is silent."""
    return np.concatenate([np.concatenate([burst(), np.zeros(6 * RATE)]) for _ in range(3)])


def stereo(mono: Floats) -> Floats:
    both: Floats = np.stack([mono, mono], axis=1)
    return both


# name: (the signal, its channels, BS.1770's reading if there is one)
SIGNALS: dict[str, tuple[Callable[[], Floats], int, float | None]] = {
    "sine -20 dBFS mono": (lambda: sine(1000, 10, -20), 1, -23.0),
    "sine -20 dBFS stereo": (lambda: stereo(sine(1000, 10, -20)), 2, -20.0),
    "pink noise": (lambda: pink(10, -23), 1, None),
    "voice bursts in silence": (bursts, 1, None),
    "fs/4 sine at 45 degrees": (lambda: sine(RATE / 4, 5, -6, np.pi / 4), 1, None),
}


@pytest.mark.parametrize("name", SIGNALS)
def test_meter_agrees_with_ffmpeg(name: str, tmp_path: Path) -> None:
    make, channels, reference = SIGNALS[name]
    samples = make()
    path = tmp_path / "signal.wav"
    write_float_wav(path, samples)
    ffmpeg_loudness, ffmpeg_peak = ffmpeg_meter(path)
    meter = measured(samples, channels)
    assert meter.integrated() == pytest.approx(ffmpeg_loudness, abs=LOUDNESS_TOLERANCE)
    assert meter.true_peak() == pytest.approx(ffmpeg_peak, abs=PEAK_TOLERANCE)
    if reference is not None:  # BS.1770: a 0 dBFS 1 kHz sine in one channel is -3.01 LUFS
        assert meter.integrated() == pytest.approx(reference, abs=0.05)


def test_ebu_reference_stereo_sine() -> None:
    """EBU Tech 3341: a stereo 1 kHz sine at -18 dBFS (peak) reads -18.0 LUFS."""
    tone = sine(1000, 20, -18)
    assert measured(stereo(tone), 2).integrated() == pytest.approx(-18.0, abs=0.1)


def test_inter_sample_peak_is_found() -> None:
    """A sine at fs/4 with a 45 degree phase: every sample is 0.707 of its peak."""
    tone = frozen(sine(RATE / 4, 1, -6, np.pi / 4))
    assert 20 * math.log10(float(np.max(np.abs(tone)))) == pytest.approx(-9.01, abs=0.05)
    assert true_peak(tone) == pytest.approx(-6.0, abs=0.05)
    assert measured(tone.astype(np.float64)).true_peak() == pytest.approx(true_peak(tone))


def test_gating_ignores_the_silences() -> None:
    """Bursts with long silences between them measure as the bursts do, not 4 LU lower."""
    gated = measured(bursts()).integrated()
    alone = measured(burst()).integrated()
    assert alone == pytest.approx(-20.1, abs=0.1)
    assert gated == pytest.approx(alone, abs=0.5)  # lower by the blocks half in a burst
    ungated = -0.691 + 10 * math.log10(float(np.mean(k_weighted(bursts()) ** 2)))
    assert gated - ungated > 4.0


@pytest.mark.parametrize("block_seconds", [10.0, 0.37, 0.01])
def test_blocks_of_any_size_measure_the_same(block_seconds: float) -> None:
    stereo = np.stack([pink(12, -20, seed=1), pink(12, -26, seed=2) + sine(440, 12, -30)], axis=1)
    whole = measured(stereo, 2, block=stereo.shape[0])
    parts = measured(stereo, 2, block=round(block_seconds * RATE))
    assert parts.integrated() == pytest.approx(whole.integrated(), abs=1e-6)
    assert parts.true_peak() == pytest.approx(whole.true_peak(), abs=1e-9)


def test_uneven_blocks_measure_the_same() -> None:
    signal = pink(5, -20).astype(np.float32)
    sizes = np.random.default_rng(0).integers(1, 30_000, 400)
    edges = np.minimum(np.concatenate([[0], np.cumsum(sizes)]), signal.size)
    meter = LoudnessMeter()
    for start, end in itertools.pairwise(edges):
        meter.feed(signal[start:end])
    whole = measured(signal.astype(np.float64), block=signal.size)
    assert meter.integrated() == pytest.approx(whole.integrated(), abs=1e-6)
    assert meter.true_peak() == pytest.approx(whole.true_peak(), abs=1e-9)


def test_silence_and_short_audio_have_no_loudness() -> None:
    assert measured(np.zeros(5 * RATE)).integrated() == -math.inf
    assert measured(np.zeros(5 * RATE)).true_peak() == -math.inf
    assert measured(sine(1000, 0.3, -20)).integrated() == -math.inf  # under one 400 ms block
    assert LoudnessMeter().integrated() == -math.inf


def test_meter_refuses_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="channel"):
        LoudnessMeter(channels=2).feed(np.zeros(100, dtype=np.float32))
    with pytest.raises(ValueError, match="channel"):
        LoudnessMeter(channels=1).feed(np.zeros((100, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="mono or stereo"):
        LoudnessMeter(channels=6)


# --- K-weighting ---------------------------------------------------------------------------


def test_k_weighting_at_48k_is_the_standards_table() -> None:
    shelf, highpass = k_weighting(48_000)
    expected_shelf = (1.53512485958697, -2.69169618940638, 1.19839281085285)
    assert shelf.b == pytest.approx(expected_shelf, abs=1e-12)
    assert shelf.a == pytest.approx((1.0, -1.69065929318241, 0.73248077421585), abs=1e-12)
    assert highpass.b == (1.0, -2.0, 1.0)
    assert highpass.a == pytest.approx((1.0, -1.99004745483398, 0.99007225036621), abs=1e-12)


def response_db(rate: int, hz: Floats) -> Floats:
    z = np.exp(-2j * np.pi * hz / rate)
    response = np.ones_like(z)
    for section in k_weighting(rate):
        (b0, b1, b2), (a0, a1, a2) = section.b, section.a
        response *= (b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)
    decibels: Floats = 20 * np.log10(np.abs(response))
    return decibels


def test_k_weighting_at_44k1_matches_48k() -> None:
    hz = np.array([20.0, 50, 100, 500, 1000, 2000, 5000, 10_000, 15_000])
    assert response_db(RATE, hz) == pytest.approx(response_db(48_000, hz), abs=0.01)


def recurrence(samples: Floats) -> Floats:
    """The K-filter sample by sample (direct form I, as BS.1770 draws it): the reference."""
    signal = samples.tolist()
    for section in k_weighting(RATE):
        (b0, b1, b2), (_, a1, a2) = section.b, section.a
        x1 = x2 = y1 = y2 = 0.0
        out = []
        for x in signal:
            y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x1, x2, y1, y2 = x, x1, y, y1
            out.append(y)
        signal = out
    return np.array(signal)


def test_block_filter_is_the_recurrence() -> None:
    """Exact, not approximate: the error is rounding, far below anything a meter shows."""
    signal = pink(0.5, -20) + sine(30, 0.5, -20)
    exact = recurrence(signal)
    error = float(np.max(np.abs(k_weighted(signal) - exact)))
    assert error < 1e-9 * math.sqrt(float(np.mean(exact**2)))


# --- gain_for ------------------------------------------------------------------------------


def test_gain_for() -> None:
    assert gain_for(-22.0, -19.0) == pytest.approx(db_to_gain(3.0))
    assert gain_for(-14.0, -16.0) == pytest.approx(db_to_gain(-2.0))
    assert gain_for(-math.inf, -19.0) == 1.0


# --- the limiter ---------------------------------------------------------------------------

PEAKS = (0.75, 1.9, 3.1)  # seconds


def spiky_clip() -> Samples:
    """Four seconds of voice peaking near -8 dBFS, with three 20 ms swells 6 dB over -1 dBTP."""
    time = np.arange(4 * RATE) / RATE
    speech = voice(4.0, seed=5)
    speech *= db_to_gain(-8.0) / np.max(np.abs(speech))
    swell = sum(np.exp(-0.5 * ((time - peak) / 0.01) ** 2) for peak in PEAKS)
    spiky = speech * (1 + (db_to_gain(13.0) - 1) * swell)
    return frozen(spiky * db_to_gain(TRUE_PEAK_CEILING_DB + 6.0 - true_peak(frozen(spiky))))


def far_from_peaks(seconds: float) -> npt.NDArray[np.bool_]:
    time = np.arange(4 * RATE) / RATE
    far: npt.NDArray[np.bool_] = np.all([np.abs(time - p) > seconds for p in PEAKS], axis=0)
    return far


def test_limiter_holds_the_true_peak_under_the_ceiling() -> None:
    clip = spiky_clip()
    assert true_peak(clip) == pytest.approx(TRUE_PEAK_CEILING_DB + 6.0, abs=0.01)
    limited = limit(clip, TRUE_PEAK_CEILING_DB)
    assert limited.dtype == np.float32
    assert limited.shape == clip.shape
    assert TRUE_PEAK_CEILING_DB - 0.3 < true_peak(limited) <= TRUE_PEAK_CEILING_DB


def test_limiter_leaves_the_rest_alone() -> None:
    clip = spiky_clip()
    limited = limit(clip, TRUE_PEAK_CEILING_DB)
    far = far_from_peaks(0.5)
    assert rms_db(limited[far]) == pytest.approx(rms_db(clip[far]), abs=0.1)
    first_change = int(np.flatnonzero(limited != clip)[0])
    assert PEAKS[0] - 0.03 < first_change / RATE < PEAKS[0]  # the gain is down before the peak
    assert np.array_equal(limited[: first_change - 1], clip[: first_change - 1])


def test_limiter_is_smooth() -> None:
    """No hard clipping, no clicks: the gain glides, and no step is larger than the input's."""
    clip = spiky_clip()
    limited = limit(clip, TRUE_PEAK_CEILING_DB)
    assert np.max(np.abs(np.diff(limited))) <= np.max(np.abs(np.diff(clip)))
    heard = np.abs(clip) > 0.01
    gain = limited[heard].astype(np.float64) / clip[heard]
    assert np.all(gain <= 1.0 + 1e-6)
    assert np.max(np.abs(np.diff(gain))) < 0.01  # 6 dB down takes over 50 samples


def test_limiter_keeps_a_stereo_image() -> None:
    clip = spiky_clip()
    stereo = frozen(np.stack([clip, 0.5 * clip], axis=1))
    limited = limit(stereo, TRUE_PEAK_CEILING_DB)
    assert limited.shape == stereo.shape
    assert true_peak(limited) <= TRUE_PEAK_CEILING_DB
    heard = np.abs(clip) > 0.01
    np.testing.assert_allclose(limited[heard, 1], 0.5 * limited[heard, 0], rtol=1e-5)


def test_quiet_clip_is_returned_as_it_is() -> None:
    clip = frozen(spiky_clip() * db_to_gain(-7.0))
    assert true_peak(clip) < TRUE_PEAK_CEILING_DB
    assert limit(clip, TRUE_PEAK_CEILING_DB) is clip
    empty = frozen(np.zeros(0))
    assert limit(empty, TRUE_PEAK_CEILING_DB) is empty
