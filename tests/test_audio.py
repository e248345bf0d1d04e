from pathlib import Path

import numpy as np
import pytest

from generator.base.samples import audible_span, frozen, resample, trim_silence
from generator.files.soundfiles import BELL, read_sound
from generator.files.wav import read_wav, write_wav


def tone(frequency: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return frozen(0.5 * np.sin(2 * np.pi * frequency * t))


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("source", "target"), [(22_050, 44_100), (16_000, 44_100), (48_000, 44_100)]
)
def test_resampling_keeps_pitch_level_and_length(source: int, target: int) -> None:
    out = resample(tone(440, 1.0, source), source, target)
    assert out.size == target
    assert dominant_frequency(out, target) == pytest.approx(440, abs=2)
    middle = out[target // 4 : 3 * target // 4]
    assert float(np.sqrt(np.mean(middle**2))) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_upsampling_adds_no_image_above_the_old_nyquist() -> None:
    out = resample(tone(5000, 1.0, 22_050), 22_050, 44_100)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    freqs = np.fft.rfftfreq(out.size, 1 / 44_100)
    image = spectrum[
        (freqs > 16_000) & (freqs < 18_000)
    ].max()  # the mirror of 5 kHz sits at 17 kHz
    assert 20 * np.log10(image / spectrum.max()) < -60


def test_a_rate_pairs_kernels_are_made_once_and_give_each_clip_the_same_samples() -> None:
    from generator.base import samples

    samples._kernels.cache_clear()
    clip = tone(440, 0.5, 22_050)
    first = resample(clip, 22_050, 48_000)
    again = resample(clip, 22_050, 48_000)
    resample(tone(440, 0.2, 22_050), 22_050, 48_000)
    assert samples._kernels.cache_info().misses == 1  # 320 phases worked out once, not a clip
    assert first.tobytes() == again.tobytes()
    kernel = samples._kernels(320, 147, 16)[5][1]
    assert kernel is not None
    assert not kernel.flags.writeable  # shared: not to be changed


def test_upsampling_keeps_the_input_where_an_output_falls_on_it() -> None:
    """Those outputs are the input samples themselves (no kernel run for them): every other one
    of speech doubled from 22.05 kHz, every 441st of 16 kHz (160 input samples apart)."""
    clip = frozen(np.random.default_rng(5).uniform(-0.5, 0.5, 22_050))
    assert np.array_equal(resample(clip, 22_050, 44_100)[::2], clip)
    assert np.array_equal(resample(clip, 16_000, 44_100)[::441], clip[::160])


def test_trimming_keeps_exactly_the_audible_part() -> None:
    samples = frozen(np.concatenate([np.zeros(100), [0.5, -0.4, 0.2], np.zeros(50)]))
    assert audible_span(samples) == (100, 103)
    assert trim_silence(samples).tolist() == pytest.approx([0.5, -0.4, 0.2])
    assert trim_silence(frozen(np.zeros(10))).size == 0


def test_clips_are_read_only() -> None:
    with pytest.raises(ValueError, match="read-only"):
        frozen([0.0, 1.0])[0] = 2.0


def test_wav_round_trip_and_loading_resamples(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    write_wav(path, tone(440, 0.5, 22_050), 22_050)
    samples, rate = read_wav(path)
    assert rate == 22_050
    assert samples.size == 11_025
    assert float(np.max(np.abs(samples))) == pytest.approx(0.5, abs=1e-3)
    assert read_sound(path, BELL, 44_100).size == 22_050
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
