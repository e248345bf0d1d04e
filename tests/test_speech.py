"""The speech stage with the real pyttsx3 / eSpeak NG engine."""

from pathlib import Path

import numpy as np
import pytest

from generator.base.samples import SAMPLE_RATE, audible_span
from generator.errors import SettingsError
from generator.speech.cache import ClipCache, SpeechRequest
from generator.speech.synthesis import synthesize_all, synthesize_one
from generator.speech.voices import resolve_voice, start_engine


@pytest.fixture(scope="module")
def voice() -> str:
    return start_engine("pyttsx3").default_voice()


def request(voice: str, text: str, rate: int = 150) -> SpeechRequest:
    return SpeechRequest("pyttsx3", voice, rate, text)


def test_pyttsx3_prefers_a_clear_english_voice_and_unknown_voices_are_refused(voice: str) -> None:
    assert voice.lower().startswith("pyttsx3:gmw/en")
    assert resolve_voice("gmw/en-GB-x-rp").lower() == "pyttsx3:gmw/en-gb-x-rp"
    assert resolve_voice("pyttsx3:gmw/en-GB-x-rp").lower() == "pyttsx3:gmw/en-gb-x-rp"
    with pytest.raises(SettingsError, match="unknown voice 'klingon'"):
        resolve_voice("klingon")
    with pytest.raises(SettingsError, match="unknown voice 'pyttsx3:klingon'"):
        resolve_voice("pyttsx3:klingon")


def test_clips_are_trimmed_to_speech_and_cached(tmp_path: Path, voice: str) -> None:
    cache = ClipCache(tmp_path)
    texts = [request(voice, "Let the hips soften."), request(voice, "Breathe out slowly.")]
    made: list[int] = []
    clips = synthesize_all(texts, cache, on_clip=made.append)
    assert sum(made) == 2
    for clip in clips.values():
        assert 0.6 * SAMPLE_RATE < clip.size < 3 * SAMPLE_RATE  # four words at 150 wpm
        start, end = audible_span(clip)
        assert start < 0.002 * SAMPLE_RATE  # speech is heard from the clip's first milliseconds
        assert end > clip.size - 0.002 * SAMPLE_RATE  # and to its last
        assert not clip.flags.writeable
    again: list[int] = []
    cached = synthesize_all(texts, cache, on_clip=again.append)
    assert again == []  # nothing synthesised the second time
    assert all(np.array_equal(cached[r], clips[r]) for r in texts)


def test_a_damaged_cache_entry_is_made_again(tmp_path: Path, voice: str) -> None:
    cache = ClipCache(tmp_path)
    wanted = request(voice, "Rest here.")
    synthesize_all([wanted], cache)
    cache.path(wanted).write_bytes(cache.path(wanted).read_bytes()[:30])  # a torn write
    made: list[int] = []
    clips = synthesize_all([wanted], cache, on_clip=made.append)
    assert made == [1]
    assert clips[wanted].size > SAMPLE_RATE // 4


def test_rate_changes_the_pace(tmp_path: Path, voice: str) -> None:
    text = "Slowly bring your attention down to the hips and the lower back."
    slow, fast = request(voice, text, 100), request(voice, text, 200)
    clips = synthesize_all([slow, fast], ClipCache(tmp_path))
    assert clips[slow].size / clips[fast].size == pytest.approx(2.0, rel=0.25)


def test_a_rate_change_always_takes(tmp_path: Path, voice: str) -> None:
    """eSpeak NG once kept 120 wpm when asked for 175 after two clips at 120 in one process."""
    engine = start_engine("pyttsx3")
    text = "Let the weight of your body sink into the floor."
    lengths: dict[int, list[float]] = {}
    for rate in (120, 120, 175, 175, 100):
        samples, sample_rate = synthesize_one(engine, request(voice, text, rate))
        lengths.setdefault(rate, []).append(samples.size / sample_rate)
    assert lengths[175][0] < lengths[120][0] * 0.8
    assert lengths[100][0] > lengths[120][0] * 1.1
