"""Memory: a render's held audio does not grow with the clips it speaks or the minutes it lasts.

Issue 20 asks every process of an hour's render to stay under 300 MB. These tests guard the
structure that makes it so, not a measurement of a whole render: the speech clips are read from
the cache when the mix asks for them (never all held, never held twice: as made and levelled),
the mix streams, a bed's loop is limited in pieces rather than as three oversampled loops, and
levelling, profiling, limiting and mixing for mastering work a piece at a time, on one thread.
Memory is counted with tracemalloc (numpy reports its arrays to it).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from generator.base.samples import SAMPLE_RATE, Samples, db_to_gain, frozen
from generator.sound import ambience, loudness, mix
from generator.sound.ambience import BED_PEAK_LIMIT_DB, BEDS, bed_loop, synthesise
from generator.sound.balance import loudness_gain, voice_gain
from generator.sound.loudness import LoudnessMeter, k_weighted_energy, limit, true_peak
from generator.sound.mix import mix_blocks, mix_span
from generator.sound.profiles import profile
from generator.sound.sources import RECENT_CLIPS_BYTES, ClipAudio, RenderClips, speech_request
from generator.speech.cache import Clip, ClipCache, SpeechRequest
from generator.speech.synthesis import SpeechClips, synthesize_all
from generator.timeline.events import Event, Timeline, ambience_id

VOICE = "pyttsx3:gmw/en-us"
RATE = 120
MB = 1 << 20


@contextmanager
def traced() -> Iterator[Callable[[], tuple[int, int]]]:
    """(bytes allocated since entering and still held, the most held at once since entering)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]

    def used() -> tuple[int, int]:
        current, peak = tracemalloc.get_traced_memory()
        return current - base, peak - base

    try:
        yield used
    finally:
        if not was_tracing:
            tracemalloc.stop()


def _speech(index: int, seconds: float) -> Samples:
    """A clip like speech: a tone whose pitch and level differ from clip to clip."""
    at = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    level = 0.1 + 0.02 * (index % 7)
    return frozen(level * np.sin(2 * np.pi * (150 + 7 * index) * at) * np.sin(np.pi * at / at[-1]))


def _cached_clips(cache: ClipCache, count: int, seconds: float) -> list[str]:
    """``count`` texts whose clips are in the cache, as a render of them would ask for them."""
    texts = [f"Breathe, number {index}." for index in range(count)]
    for index, text in enumerate(texts):
        request = speech_request(text, VOICE, RATE, {}, Fraction(1))
        cache.store(request, Clip(_speech(index, seconds), ()))
    return texts


def _render_clips(cache: ClipCache, texts: list[str]) -> RenderClips:
    clips = RenderClips({}, {}, 0.8, cache, lambda made, total: None)
    for text in texts:
        clips.speech(text, VOICE, RATE)
    assert clips.complete()  # all from the cache: no engine is started
    assert not clips.complete()
    return clips


# --- speech clips: read when mixed, levelled as read -----------------------------------------


def test_render_clips_hold_no_speech_however_many_clips(tmp_path: Path) -> None:
    """Forty clips of 5 s are 35 MB as float32: a render's clips are not all held, before or
    after levelling, and what is held does not grow with their number."""
    cache = ClipCache(tmp_path)
    texts = _cached_clips(cache, 40, 5.0)
    clip_bytes = 5 * SAMPLE_RATE * 4
    held = {}
    for count in (10, 40):
        with traced() as used:
            clips = _render_clips(cache, texts[:count])
            clips.level_speech()
            held[count], peak = used()
        assert peak < 4 * clip_bytes + 8 * MB  # one clip at a time, and its measuring
        assert held[count] < 2 * MB  # sizes and marks only
        for text in texts[:count]:  # every clip is there, at its own length
            ref = clips.speech(text, VOICE, RATE)
            assert clips.audio.size(ref.id) == ref.samples == 5 * SAMPLE_RATE
    assert held[40] < held[10] + 1 * MB


def test_a_levelled_clip_is_the_clip_times_its_voice_gain_with_no_copy_kept(
    tmp_path: Path,
) -> None:
    """Levelling is what ``frozen(clip * gain)`` gave, bit for bit; the clips read lately are
    kept once each, up to RECENT_CLIPS_BYTES, whatever was read."""
    cache = ClipCache(tmp_path)
    texts = _cached_clips(cache, 12, 6.0)
    clips = _render_clips(cache, texts)
    keys = [clips.speech(text, VOICE, RATE).id for text in texts]
    made = [cache.load(speech_request(t, VOICE, RATE, {}, Fraction(1))) for t in texts]
    raw = [clip.samples for clip in made if clip is not None]
    assert all(
        np.array_equal(clips.audio[key], samples) for key, samples in zip(keys, raw, strict=True)
    )
    clips.level_speech()
    gain = voice_gain([profile(clip, SAMPLE_RATE) for clip in raw], SAMPLE_RATE) * 0.8
    for key, samples in zip(keys, raw, strict=True):
        levelled = clips.audio[key]
        assert levelled.dtype == np.float32
        assert not levelled.flags.writeable
        assert np.array_equal(levelled, frozen(samples * gain))
        assert clips.audio.kept() <= RECENT_CLIPS_BYTES
    assert clips.audio[keys[-1]] is clips.audio[keys[-1]]  # the latest: kept, not read again


def test_speech_clips_are_read_from_the_cache_when_asked_for(tmp_path: Path) -> None:
    """synthesize_all checks every clip, then gives them as they are asked for: no clip held."""
    cache = ClipCache(tmp_path)
    texts = _cached_clips(cache, 20, 5.0)
    requests = [speech_request(text, VOICE, RATE, {}, Fraction(1)) for text in texts]
    with traced() as used:
        clips = synthesize_all(requests, cache)
        held, peak = used()
    assert isinstance(clips, SpeechClips)
    assert held < 1 * MB
    assert peak < 3 * 5 * SAMPLE_RATE * 4  # one clip read at a time
    assert [clips.known(request).size for request in requests] == [5 * SAMPLE_RATE] * len(texts)
    assert np.array_equal(clips[requests[3]].samples, _cached(cache, requests[3]))


def _cached(cache: ClipCache, request: SpeechRequest) -> Samples:
    clip = cache.load(request)
    assert clip is not None
    return clip.samples


# --- the mix: memory flat in the session's length and its clips ------------------------------


def _timeline_of(minutes: int, keys: list[str]) -> Timeline:
    """A session of ``minutes``: a line every 20 s (the keys in turn) over a bed throughout."""
    length = minutes * 60 * SAMPLE_RATE
    events = [Event("ambience", 0, length, None, clip=ambience_id("pink"))]
    for number, start in enumerate(range(SAMPLE_RATE, length - 10 * SAMPLE_RATE, 20 * SAMPLE_RATE)):
        events.append(
            Event("speech", start, start + 5 * SAMPLE_RATE, None, clip=keys[number % len(keys)])
        )
    return Timeline("T", SAMPLE_RATE, length, tuple(events), ())


def _mixed_peak(timeline: Timeline, audio: ClipAudio) -> int:
    with traced() as used:
        for _block in mix_blocks(timeline, audio, 0.5):
            pass
        return used()[1]


@pytest.mark.e2e
def test_mixing_an_hour_holds_no_more_than_mixing_twenty_minutes(tmp_path: Path) -> None:
    """Three times the minutes, and three times the distinct clips (every line its own): the
    mix's memory stays that of a block and the clips sounding in it."""
    cache = ClipCache(tmp_path)
    texts = _cached_clips(cache, 180, 5.0)
    bed = bed_loop("pink")
    peaks = {}
    for minutes, count in ((20, 60), (60, 180)):
        clips = _render_clips(cache, texts[:count])
        clips.audio.hold(ambience_id("pink"), bed)
        keys = [clips.speech(text, VOICE, RATE).id for text in texts[:count]]
        peaks[minutes] = _mixed_peak(_timeline_of(minutes, keys), clips.audio)
    assert peaks[60] < peaks[20] * 1.2 + 1 * MB
    assert peaks[60] < RECENT_CLIPS_BYTES + 24 * MB


# --- the beds: a loop limited in pieces -------------------------------------------------------


@pytest.mark.parametrize("name", BEDS)
def test_a_bed_is_made_in_memory_a_few_times_its_loop(name: str) -> None:
    """Limited as three copies in a row, the ocean's loop took 54 times its own size (570 MB)
    through the 4x-oversampling limiter; in pieces the whole bed takes a few times its loop."""
    with traced() as used:
        loop = synthesise(name)
        _, peak = used()
    assert peak < 8 * loop.nbytes


def _surf(seconds: int) -> Samples:
    """A short loop with crests over the bed's peak limit, near its ends and in its middle."""
    rng = np.random.default_rng(7)
    size = seconds * SAMPLE_RATE
    noise = rng.standard_normal(size) * 10 ** ((BED_PEAK_LIMIT_DB - 16) / 20)
    crests = np.zeros(size)
    for at in (0.02, 0.33, 0.5, 0.97):
        crests += np.exp(-(((np.arange(size) - at * size) / (0.05 * SAMPLE_RATE)) ** 2))
    return frozen(noise * (1 + 5 * crests))


def test_a_loop_limited_in_pieces_is_the_loop_limited_among_its_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What three copies limited in a row gave in their middle (the old way), to the last bit;
    pieces a second long with half a second around them, so crests fall across their edges."""
    monkeypatch.setattr(ambience, "LIMIT_PIECE_SECONDS", 1)
    monkeypatch.setattr(ambience, "LIMIT_CONTEXT_SECONDS", 0.5)
    loop = _surf(4)
    assert true_peak(loop) > BED_PEAK_LIMIT_DB + 3
    size = loop.size
    whole = limit(np.tile(loop, 3), BED_PEAK_LIMIT_DB)[size : 2 * size]
    pieces = ambience._peaks_limited(loop)
    assert np.array_equal(pieces, whole)
    assert true_peak(np.tile(pieces, 2)) <= BED_PEAK_LIMIT_DB  # around the seam too


def test_a_loop_under_its_peak_limit_comes_back_as_it_is() -> None:
    quiet = frozen(_surf(3) * 10 ** (-20 / 20))
    assert ambience._peaks_limited(quiet) is quiet


# --- levelling and mastering: in pieces, the same answers -------------------------------------


def _noise(seconds: float, seed: int = 11) -> Samples:
    return frozen(np.random.default_rng(seed).standard_normal(round(seconds * SAMPLE_RATE)) * 0.05)


def test_levelling_a_sound_holds_its_squares_and_no_float64_copy() -> None:
    """A bed is levelled by its loudness: its squares in float64 (for the exact RMS) are all
    that is made its length; it was scaled whole and then copied whole to float64 for the meter
    (3.2 times a minute's bytes, measured), and a piece at a time gives the same gain."""
    sound = _noise(60)
    with traced() as used:
        gain = loudness_gain(sound, -40.0, -3.0)
        _, peak = used()
    assert peak < 2.2 * sound.nbytes + 1 * MB
    rms = float(np.sqrt(np.mean(np.square(sound, dtype=np.float64))))
    meter = LoudnessMeter(peaks=False)
    meter.feed(sound / rms)  # the whole at once, as it was measured
    expected = db_to_gain(-40.0 - meter.integrated()) / rms
    assert gain == min(expected, db_to_gain(-3.0) / float(np.max(np.abs(sound))))


def test_profiling_a_clip_for_mastering_holds_no_more_for_a_longer_clip() -> None:
    """A clip's K-weighted energy in 1 ms blocks is worked out a few seconds at a time: a
    minute's clip holds what ten seconds' does, and its blocks (it took 34 bytes a sample, 94 MB
    for a minute, measured)."""
    peaks = {}
    for seconds in (10, 60):
        clip = _noise(seconds)
        with traced() as used:
            k_weighted_energy(clip, 45)
            peaks[seconds] = used()[1]
    blocks_bytes = 50 * SAMPLE_RATE // 45 * 8
    assert peaks[60] < peaks[10] + blocks_bytes + 1 * MB


def test_energy_in_groups_is_the_energy_of_the_whole_clip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups end where chunks and blocks both end, and the filter's state carries over: the
    same values, bit for bit, as the whole clip filtered at once."""
    clips = [_noise(seconds, seed) for seconds, seed in ((0.01, 1), (5.3, 2), (12.07, 3))]
    for block in (45, 100):
        grouped = [k_weighted_energy(clip, block) for clip in clips]
        monkeypatch.setattr(loudness, "ENERGY_GROUP_SECONDS", 1000)
        whole = [k_weighted_energy(clip, block) for clip in clips]
        monkeypatch.undo()
        for mine, theirs in zip(grouped, whole, strict=True):
            assert np.array_equal(mine, theirs)


def test_limiting_a_long_clip_holds_a_few_bytes_a_sample() -> None:
    """The limiter keeps the clip's envelope and one copy it turns down (float32), and works
    out the reduction a stretch at a time from where it is needed: the reduction needed by
    every sample in float64, every stretch's curve at once and a final copy took 22 bytes a
    sample (measured); a minute of sound with a crest a second needs no more than 12."""
    crests = np.array(_noise(60))
    crests[::SAMPLE_RATE] = 0.9
    clip = frozen(crests)
    with traced() as used:
        limited = limit(clip, -6.0)
        _, peak = used()
    assert true_peak(limited) <= -6.0
    assert not limited.flags.writeable
    assert peak < 12 * clip.size


def test_a_loop_mixed_over_a_long_stretch_holds_the_stretch_and_a_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mastering mixes a bed under every stretch where clips sound: the bed's gain curves
    (fades, ducking) are worked out a piece at a time, not for the whole stretch (58 bytes a
    sample, 121 MB for a minute, measured); the samples are the same, bit for bit."""
    length = 60 * SAMPLE_RATE
    bed = ambience_id("pink")
    timeline = Timeline(
        "T", SAMPLE_RATE, length, (Event("ambience", 0, length, None, clip=bed),), ()
    )
    speech = [
        (start, start + 3 * SAMPLE_RATE) for start in range(SAMPLE_RATE, length, 7 * SAMPLE_RATE)
    ]
    audio = {bed: bed_loop("pink")}
    with traced() as used:
        pieces = mix_span(timeline, audio, (0, length), timeline.events, speech)
        _, peak = used()
    assert peak < pieces.nbytes + 4 * MB
    monkeypatch.setattr(mix, "LOOP_PIECE", length)
    assert np.array_equal(pieces, mix_span(timeline, audio, (0, length), timeline.events, speech))
