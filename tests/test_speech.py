"""The speech stage with the real pyttsx3 / eSpeak NG engine."""

from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generator.base.samples import SAMPLE_RATE, Samples, audible_span
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
    for clip in (made.samples for made in clips.values()):
        assert 0.6 * SAMPLE_RATE < clip.size < 3 * SAMPLE_RATE  # four words at 150 wpm
        start, end = audible_span(clip)
        assert start < 0.002 * SAMPLE_RATE  # speech is heard from the clip's first milliseconds
        assert end > clip.size - 0.002 * SAMPLE_RATE  # and to its last
        assert not clip.flags.writeable
    again: list[int] = []
    cached = synthesize_all(texts, cache, on_clip=again.append)
    assert again == []  # nothing synthesised the second time
    assert all(np.array_equal(cached[r].samples, clips[r].samples) for r in texts)
    assert all(cached[r].phrases == clips[r].phrases for r in texts)


def test_a_damaged_cache_entry_is_made_again(tmp_path: Path, voice: str) -> None:
    cache = ClipCache(tmp_path)
    wanted = request(voice, "Rest here.")
    synthesize_all([wanted], cache)
    cache.path(wanted).write_bytes(cache.path(wanted).read_bytes()[:30])  # a torn write
    made: list[int] = []
    clips = synthesize_all([wanted], cache, on_clip=made.append)
    assert made == [1]
    assert clips[wanted].samples.size > SAMPLE_RATE // 4


def test_rate_changes_the_pace(tmp_path: Path, voice: str) -> None:
    text = "Slowly bring your attention down to the hips and the lower back."
    slow, fast = request(voice, text, 100), request(voice, text, 200)
    clips = synthesize_all([slow, fast], ClipCache(tmp_path))
    assert clips[slow].samples.size / clips[fast].samples.size == pytest.approx(2.0, rel=0.25)


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


def test_a_clip_keeps_where_each_phrase_is_heard_at_the_session_rate(
    tmp_path: Path, voice: str
) -> None:
    """eSpeak NG speaks at 22,050 Hz: the marks are scaled with the samples to 44,100, and each
    pause between phrases is silent in the clip the cache gives back."""
    wanted = request(voice, "Rest here. Let the hips soften, and breathe.", 120)
    clip = synthesize_all([wanted], ClipCache(tmp_path))[wanted]
    marks = clip.phrases
    assert [mark.text for mark in marks] == ["Rest here.", "Let the hips soften,", "and breathe."]
    assert marks[0].start == 0
    assert marks[-1].end == pytest.approx(clip.samples.size, abs=2)
    for mark, following in pairwise(marks):
        # The resampling filter rings 16 taps at 22,050 Hz either side: 32 samples at 44,100.
        pause = clip.samples[mark.end + 32 : following.start - 32]
        assert pause.size > 0.15 * SAMPLE_RATE  # a comma's pause is 0.35 s, a sentence's 1 s
        assert float(np.abs(pause).max()) < 0.003  # under -50 dB: our own silence
        start, _ = audible_span(clip.samples[following.start :])
        assert start < 0.002 * SAMPLE_RATE  # the phrase is heard from its mark


def test_the_workers_are_given_the_longest_clips_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long clip left to the end is made by one worker while the others wait: the short ones
    fill in at the end instead."""
    from concurrent.futures import Future

    from generator.speech import synthesis

    submitted: list[str] = []

    class Recorded:
        def submit(self, function: object, request: SpeechRequest, root: Path) -> Future[str]:
            submitted.append(request.text)
            done: Future[str] = Future()
            done.set_result("")
            return done

        def shutdown(self, wait: bool) -> None:
            pass

    monkeypatch.setattr(synthesis, "spawn_pool", lambda workers, initializer: Recorded())
    texts = ["Rest.", "Let the breath be slow and easy, all the way down.", "Soften the jaw."]
    missing = [request("pyttsx3:gmw/en-us", text) for text in texts]
    synthesis._make_clips(missing, ClipCache(tmp_path), 2, None)
    assert submitted == sorted(texts, key=len, reverse=True)


def test_espeak_reads_an_utterances_phrases_in_one_process(
    tmp_path: Path, voice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One espeak-ng process a reading, a break between the phrases (split there): each phrase
    lasts as long as read by a process of its own, within 20 ms, and a clip is the same bytes
    from two empty caches. A reading that does not split is read a process a phrase."""
    import shutil

    from generator.base.samples import trim_silence
    from generator.speech import voices

    said: list[str] = []
    real = voices.espeak_clip

    def counted(program: str, text: str, *args: Any, **kwargs: Any) -> tuple[Samples, int]:
        said.append(text)
        return real(program, text, *args, **kwargs)

    monkeypatch.setattr(voices, "espeak_clip", counted)
    text = "Welcome, Anna. This is a short practice with pigeon pose, guided by voice."
    made = [request(voice, text, 120) for _ in range(2)]
    synthesize_all(made[:1], ClipCache(tmp_path / "one"), workers=0)
    assert said
    assert all(reading.count("<break") == 3 for reading in said)  # four phrases a reading
    synthesize_all(made[1:], ClipCache(tmp_path / "two"), workers=0)
    paths = [ClipCache(tmp_path / name).path(made[0]) for name in ("one", "two")]
    assert paths[0].read_bytes() == paths[1].read_bytes()

    program, name = shutil.which("espeak-ng"), voice.split(":", 1)[1]
    assert program is not None
    phrases = ["Welcome, Anna.", "This is a short practice with pigeon pose,", "guided by voice."]
    together = voices.espeak_phrases(program, phrases, name, 120, 0)
    assert together is not None
    pieces, rate = together
    for phrase, piece in zip(phrases, pieces, strict=True):
        alone = trim_silence(real(program, phrase, name, 120, 0)[0])
        assert abs(trim_silence(piece).size - alone.size) <= rate // 50, phrase  # 13 ms seen
    said.clear()
    monkeypatch.setattr(voices, "_split_at_breaks", lambda samples, shortest: [samples])
    assert voices.espeak_phrases(program, phrases, name, 120, 0) is None
    engine = start_engine("pyttsx3")
    spoken, _ = engine.speak(phrases, voice, 0.5, 0)
    assert len(spoken) == 3
    assert "<break" in said[1]  # the engine's reading, which did not split...
    assert said[2:] == phrases  # ...then a process a phrase
