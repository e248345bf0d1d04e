"""What mastering costs: the work is kept to the peaks, and each clip is measured once.

These tests guard the structure (what is oversampled, how often a clip is measured), not
wall-clock time; the answers are checked against the plain whole-clip computations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import generator.sound.loudness as loudness
import generator.sound.mastering as mastering
import generator.sound.profiles as profiles
from generator.base.samples import SAMPLE_RATE, Samples, frozen
from generator.errors import Source
from generator.sound.balance import SPEECH_LUFS, voice_gain
from generator.sound.loudness import (
    RELEASE_FLOOR_DB,
    k_weighted,
    k_weighted_energy,
    limit,
    reduction,
    true_peak,
)
from generator.sound.sources import ClipAudio
from generator.timeline.events import Event, Timeline
from tests.conftest import speechlike, write

RNG = np.random.default_rng(20)
HERE = Source("t", 1)
Floats = npt.NDArray[np.float64]


def reference_envelope(samples: npt.NDArray[Any]) -> Floats:
    """The envelope oversampled everywhere (what the limiter used to compute for every clip)."""
    return loudness._envelope(loudness._frames(samples))


def reference_peak(samples: npt.NDArray[Any]) -> float:
    return 20 * math.log10(float(reference_envelope(samples).max()))


def hard_signals() -> list[npt.NDArray[np.float32]]:
    """Inter-sample overs, peaks at the very edges, clips shorter than a block, stereo."""
    n = np.arange(SAMPLE_RATE // 2)
    edge = np.zeros(3000)
    edge[0], edge[1], edge[-2], edge[-1] = 0.9, -0.9, -0.9, 0.9
    return [
        frozen(0.9 * np.sign(np.sin(n * 0.31))),  # a square wave: overs between samples
        frozen(0.95 * np.sin(2 * np.pi * 11025 * n / SAMPLE_RATE + np.pi / 4)),  # fs/4 at 45°
        frozen(edge),
        frozen([0.9]),
        frozen(RNG.normal(0, 0.3, 7)),
        frozen(RNG.normal(0, 0.3, 33)),
        speechlike(RNG, 2, 0.03, spikes=0.9),
        frozen(np.stack([speechlike(RNG, 1, 0.05, 0.8), speechlike(RNG, 1, 0.02)], axis=1)),
    ]


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the samples passed to loudness.<name> (its first argument's last axis)."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(loudness, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(int(np.asarray(args[0]).shape[-1]))
        return original(*args, **kwargs)

    monkeypatch.setattr(loudness, name, counted)
    return calls


# --- the envelope, only where it can matter ------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.3, 0.6, 0.89, 2.0])
def test_the_envelope_above_a_level_is_exact_there_and_under_it_elsewhere(
    threshold: float,
) -> None:
    for signal in hard_signals():
        exact = reference_envelope(signal)
        found = loudness._envelope_above(loudness._frames32(signal), threshold)
        over = exact > threshold
        assert np.array_equal(found > threshold, over)
        assert np.array_equal(found[over], exact[over])
        assert np.all(found[~over] <= threshold)


def test_true_peak_is_the_peak_oversampled_everywhere() -> None:
    for signal in hard_signals():
        assert true_peak(signal) == pytest.approx(reference_peak(signal), abs=1e-9)
        meter = loudness.LoudnessMeter(SAMPLE_RATE, 1 if signal.ndim == 1 else 2)
        meter.feed(signal)
        assert true_peak(signal) == pytest.approx(meter.true_peak(), abs=1e-6)
    assert true_peak(np.zeros(100, dtype=np.float32)) == -math.inf


def test_a_clip_far_under_the_ceiling_is_not_oversampled(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = speechlike(RNG, 3, 0.01)
    blocks = counting(monkeypatch, "_oversample_blocks")
    whole = counting(monkeypatch, "_envelope")
    assert limit(quiet, -1.0) is quiet
    assert blocks == []
    assert whole == []


def test_limiting_oversamples_only_around_the_peaks(monkeypatch: pytest.MonkeyPatch) -> None:
    clip = speechlike(RNG, 4, 0.02, spikes=0.9)
    whole = counting(monkeypatch, "_envelope")
    blocks: list[int] = []
    original = loudness._oversample_blocks

    def counted(frames: Any, chosen: npt.NDArray[np.intp], envelope: Any) -> None:
        blocks.append(chosen.size)
        original(frames, chosen, envelope)

    monkeypatch.setattr(loudness, "_oversample_blocks", counted)
    limited = limit(clip, -6.0)
    assert whole == []  # never the whole clip
    assert blocks  # the spikes were oversampled, then looked at again where turned down
    assert sum(blocks) * loudness._BOUND_BLOCK < 0.1 * clip.size  # and little else
    assert reference_peak(limited) <= -6.0
    # away from the spikes (a release away), the clip is exactly as it was
    assert np.count_nonzero(limited == clip) > 0.3 * clip.size


@pytest.mark.parametrize("ceiling", [-1.0, -6.0, -12.0])
def test_the_limiter_keeps_hard_signals_under_the_ceiling(ceiling: float) -> None:
    for signal in hard_signals():
        limited = limit(signal, ceiling)
        assert limited.shape == signal.shape
        assert limited.dtype == np.float32
        assert reference_peak(limited) <= ceiling + 1e-6


# --- the limiter's curve, only where it is not 0 -------------------------------------------


def sparse_needs(size: int, count: int, at_edges: bool) -> Floats:
    needed = np.zeros(size)
    where = RNG.integers(0, size, count)
    needed[where] = RNG.uniform(0.0005, 9.0, count)
    if at_edges:
        needed[0], needed[-1] = 3.0, 5.0
    return needed


def dense_stretches(needed_db: npt.NDArray[np.float64], rate: float) -> list[tuple[int, Any]]:
    """The limiter's stretches of a reduction needed given for every sample."""
    where = np.flatnonzero(needed_db)
    return list(loudness._stretches(where, needed_db[where], needed_db.size, rate))


@pytest.mark.parametrize("at_edges", [False, True])
@pytest.mark.parametrize("count", [1, 12, 400])
def test_the_reduction_in_stretches_is_the_reduction_over_the_whole(
    count: int, at_edges: bool
) -> None:
    needed = sparse_needs(5 * SAMPLE_RATE, count, at_edges)
    whole = reduction(needed, SAMPLE_RATE)
    pieced = np.zeros_like(whole)
    stretches = dense_stretches(needed, SAMPLE_RATE)
    for start, values in stretches:
        assert not pieced[start : start + values.size].any()  # the stretches do not overlap
        pieced[start : start + values.size] = values
    np.testing.assert_allclose(pieced, whole, rtol=1e-9, atol=1e-9)
    assert sum(values.size for _, values in stretches) < needed.size or count == 400
    assert RELEASE_FLOOR_DB > 0


def test_no_need_no_stretch() -> None:
    assert dense_stretches(np.zeros(1000), SAMPLE_RATE) == []


def test_the_stretches_from_where_a_reduction_is_needed_are_those_of_every_sample() -> None:
    """The limiter keeps only where its envelope passes the target (no float64 value for every
    sample): its stretches are the dense reduction's, bit for bit."""
    rng = np.random.default_rng(4)
    envelope = np.abs(rng.normal(0, 0.01, 4 * SAMPLE_RATE)).astype(np.float32)
    for at in range(SAMPLE_RATE // 4, envelope.size, SAMPLE_RATE):
        envelope[at : at + 20] += 0.9  # crests a second apart: a stretch each
    target = -12.0
    dense = np.zeros(envelope.size)
    over = envelope > 10 ** (target / 20)
    dense[over] = 20 * np.log10(envelope[over].astype(np.float64)) - target
    expected = dense_stretches(dense, SAMPLE_RATE)
    sparse = list(loudness._stretches(*loudness._needed(envelope, target), SAMPLE_RATE))
    assert len(sparse) == len(expected) > 1
    for (start, values), (first, wanted) in zip(sparse, expected, strict=True):
        assert start == first
        assert np.array_equal(values, wanted)


# --- mastering measures each clip once ---------------------------------------------------


def timeline_of(clips: dict[str, npt.NDArray[np.float32]], placements: list[str]) -> Timeline:
    events = []
    start = SAMPLE_RATE
    for key in placements:
        events.append(Event("speech", start, start + clips[key].size, HERE, clip=key))
        start += clips[key].size + SAMPLE_RATE
    return Timeline("T", SAMPLE_RATE, start + SAMPLE_RATE, tuple(events), ())


def test_each_distinct_clip_is_measured_once(monkeypatch: pytest.MonkeyPatch) -> None:
    clips = {key: speechlike(RNG, 2, 0.02, spikes=0.9) for key in "abc"}
    timeline = timeline_of(clips, list("abcabcaab"))
    measured: list[int] = []
    original = loudness.true_peak

    def counted(samples: Any) -> float:
        measured.append(id(samples))
        return original(samples)

    monkeypatch.setattr(profiles, "true_peak", counted)
    weighed = counting(monkeypatch, "k_weighted_energy")
    monkeypatch.setattr(profiles, "k_weighted_energy", loudness.k_weighted_energy)
    mastering.plan_for(timeline, clips)
    assert sorted(measured) == sorted(id(clip) for clip in clips.values())
    assert len(weighed) == 3


def test_a_voice_is_levelled_and_mastered_from_one_reading_of_each_clip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The voice's gain and mastering's search take the same profiles: each speech clip is read
    once for both (then again only where the search needs its envelope), and none is profiled
    again once levelled; the plan is the one the levelled clips measured afresh give."""
    made = {key: speechlike(RNG, 2, 0.02, spikes=0.9) for key in "abc"}
    reads: list[str] = []
    audio = ClipAudio()
    for key, clip in made.items():

        def read(key: str = key, clip: Samples = clip) -> Samples:
            reads.append(key)
            return clip

        audio.add_speech(key, clip.size, read)
    weighed = counting(monkeypatch, "k_weighted_energy")
    monkeypatch.setattr(profiles, "k_weighted_energy", loudness.k_weighted_energy)
    gain = voice_gain(list(audio.profiles(list("abc"), SAMPLE_RATE).values()), SAMPLE_RATE)
    for key in made:
        audio.level(key, gain)
    assert sorted(reads) == ["a", "b", "c"]
    timeline = timeline_of(made, list("abcabcaab"))
    searched = mastering.plan_for(timeline, audio, audio)
    assert len(weighed) == 3  # none profiled again at its level
    levelled = {key: frozen(clip * gain) for key, clip in made.items()}
    afresh = mastering.plan_for(timeline, levelled)
    assert len(weighed) == 6
    assert searched.gain_db == pytest.approx(afresh.gain_db, abs=0.01)
    assert searched.limit_at == pytest.approx(afresh.limit_at, abs=0.01)


def test_the_search_oversamples_a_clip_only_for_the_ceilings_it_tries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clips = {key: speechlike(RNG, 2, 0.02, spikes=0.9) for key in "ab"}
    timeline = timeline_of(clips, list("abab"))
    whole = counting(monkeypatch, "_envelope")
    blocks = counting(monkeypatch, "_oversample_blocks")
    plan = mastering.plan_for(timeline, clips)
    assert math.isfinite(plan.limit_at)
    assert whole == []
    # per clip: its true peak, then its envelope once (deeper only if a far lower ceiling is
    # tried)
    assert len(blocks) <= 2 * 2 + 2


def test_the_profiles_energy_is_the_meters() -> None:
    clip = speechlike(RNG, 3, 0.05)
    exact = np.add.reduceat(k_weighted(clip) ** 2, np.arange(0, clip.size, 45))
    np.testing.assert_allclose(k_weighted_energy(clip, 45), exact, rtol=2e-4, atol=1e-9)
    assert k_weighted_energy(clip, 45).sum() == pytest.approx(exact.sum(), rel=1e-6)


def test_a_voices_loudness_from_its_profiles_is_the_meters_over_its_clips() -> None:
    """The clips one after another, each from the start of a meter step (the rest of its last
    step silent), as BS.1770's meter reads them; a clip at a gain is its profile scaled."""
    clips = [speechlike(RNG, seconds, 0.02, spikes=0.5) for seconds in (2.03, 0.7, 3.31)]
    step = round(loudness.STEP_SECONDS * SAMPLE_RATE)
    meter = loudness.LoudnessMeter(peaks=False)
    for clip in clips:
        meter.feed(np.concatenate([clip, np.zeros(-clip.size % step, np.float32)]))
    measured = [profiles.profile(clip, SAMPLE_RATE) for clip in clips]
    assert profiles.loudness(measured, SAMPLE_RATE) == pytest.approx(meter.integrated(), abs=1e-4)
    gain = voice_gain(measured, SAMPLE_RATE)
    assert 20 * math.log10(gain) == pytest.approx(SPEECH_LUFS - meter.integrated(), abs=1e-4)
    louder = profiles.profile(frozen(clips[0] * 1.7), SAMPLE_RATE)
    scaled = measured[0].scaled(1.7)
    assert scaled.peak == pytest.approx(louder.peak, abs=1e-4)
    np.testing.assert_allclose(scaled.energy, louder.energy, rtol=1e-5, atol=1e-12)
    with pytest.raises(RuntimeError):
        meter.true_peak()  # a meter of loudness alone


def test_a_loop_is_k_weighted_as_it_loops_in_flat_memory() -> None:
    """The bed or music loop's K-weighting (the loop twice over, the second time kept) in
    groups of chunks: the same values, and memory that grows by the result alone (8 bytes a
    sample) with the loop's length; the whole at once took about 125 bytes a loop sample."""
    import tracemalloc

    from generator.sound.loudness import k_weighted, k_weighted_looped

    rng = np.random.default_rng(7)
    short = rng.standard_normal(44_100 * 5 + 17).astype(np.float32)
    whole = k_weighted(np.concatenate([short, short]), 44_100)[short.size :]
    assert np.allclose(k_weighted_looped(short, 44_100), whole, rtol=0, atol=1e-9)
    peaks = []
    for seconds in (20, 60):
        loop = rng.standard_normal(44_100 * seconds).astype(np.float32)
        tracemalloc.start()
        k_weighted_looped(loop, 44_100)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] - peaks[0] < 10 * 44_100 * 40  # 14 MB more for 40 s more (measured)


def test_a_voices_gain_is_measured_once_for_the_same_clips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm render takes each voice's gain kept under its clips' digests (levels/): the same
    file, nothing measured; a damaged record is measured again, to the same file."""
    from generator.api import render_session
    from generator.sound import sources

    script = write(tmp_path / "s.txt", "Rest here.\n\n[pause 2s]\n\nLet the breath be slow.\n")
    settings = {"voice": "pyttsx3:gmw/en-us"}
    cache = tmp_path / "cache"
    measured: list[int] = []
    real = voice_gain  # sources' own, from balance

    def counted(clips: Any, rate: int) -> float:
        measured.append(len(clips))
        return real(clips, rate)

    monkeypatch.setattr(sources, "voice_gain", counted)
    render_session(str(script), tmp_path / "a.mp3", settings=settings, cache=cache)
    assert measured == [2]
    render_session(str(script), tmp_path / "b.mp3", settings=settings, cache=cache)
    assert measured == [2]  # kept
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()
    (kept,) = (cache / "levels").iterdir()
    kept.write_text("{torn", encoding="utf-8")
    render_session(str(script), tmp_path / "c.mp3", settings=settings, cache=cache)
    assert measured == [2, 2]
    assert (tmp_path / "c.mp3").read_bytes() == (tmp_path / "a.mp3").read_bytes()


def test_a_speech_clip_is_profiled_once_for_every_render_that_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Profiles are kept under the clips' cache digests (profiles/): a render that must level
    and plan again (its records gone) reads them instead of profiling the speech, to the same
    file; a damaged record is profiled again."""
    from generator.api import render_session

    script = write(tmp_path / "s.txt", "Rest here.\n\n[pause 2s]\n\nLet the breath be slow.\n")
    settings = {"voice": "pyttsx3:gmw/en-us"}
    cache = tmp_path / "cache"
    sizes: list[int] = []
    real = profiles.profile

    def counted(clip: Samples, rate: int) -> profiles.Profile:
        sizes.append(clip.size)
        return real(clip, rate)

    monkeypatch.setattr(profiles, "profile", counted)
    render_session(str(script), tmp_path / "a.mp3", settings=settings, cache=cache)
    assert len(sizes) == 2  # the two speech clips (no bell, no tone)
    for kept in ("levels", "mastering"):
        for record in (cache / kept).iterdir():
            record.unlink()
    render_session(str(script), tmp_path / "b.mp3", settings=settings, cache=cache)
    assert len(sizes) == 2  # read from profiles/, not profiled
    assert (tmp_path / "b.mp3").read_bytes() == (tmp_path / "a.mp3").read_bytes()
    for record in [*(cache / "levels").iterdir(), *(cache / "mastering").iterdir()]:
        record.unlink()
    damaged = sorted((cache / "profiles").iterdir())[0]
    damaged.write_text(damaged.read_text(encoding="utf-8").replace('"check": "', '"check": "0'))
    render_session(str(script), tmp_path / "c.mp3", settings=settings, cache=cache)
    assert len(sizes) == 3  # the damaged one again
    assert (tmp_path / "c.mp3").read_bytes() == (tmp_path / "a.mp3").read_bytes()
