"""The speech stage with the real pyttsx3 / eSpeak NG engine."""

from pathlib import Path

import numpy as np
import pytest

from generator.audio import SAMPLE_RATE, audible_span
from generator.errors import SettingsError
from generator.speech import ClipCache, SpeechRequest, resolve_voice, start_engine, synthesize_all


@pytest.fixture(scope="module")
def voice() -> str:
    return resolve_voice(start_engine(), "auto")


def request(voice: str, text: str, rate: int = 150) -> SpeechRequest:
    return SpeechRequest("pyttsx3", voice, rate, text)


def test_auto_picks_an_english_voice_and_unknown_voices_are_refused(voice: str) -> None:
    engine = start_engine()
    assert voice == "pyttsx3:gmw/en-US" or voice.lower().startswith("pyttsx3:gmw/en")
    assert resolve_voice(engine, "gmw/en-GB-x-rp").lower() == "pyttsx3:gmw/en-gb-x-rp"
    with pytest.raises(SettingsError, match="unknown voice 'klingon'"):
        resolve_voice(engine, "klingon")


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
