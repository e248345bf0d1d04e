"""The voice layer with the real engines: ids, the default, piper's voice and the shared rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from generator.base.samples import trim_silence
from generator.errors import EnvironmentProblem, SettingsError
from generator.speech.cache import SpeechRequest
from generator.speech.synthesis import synthesize_one
from generator.speech.voices import (
    ESPEAK_RANGE,
    LENGTH_SCALE_RANGE,
    PiperEngine,
    auto_voice,
    bundled_piper_voices,
    espeak_speed,
    length_scale,
    resolve_voice,
    start_engine,
)

TEXT = "Notice the jaw, the shoulders and the hands, and soften them."


def test_auto_is_the_natural_voice_when_the_extra_is_installed() -> None:
    assert "joe" in bundled_piper_voices()
    assert auto_voice() == resolve_voice("auto") == "piper:joe"


@pytest.mark.parametrize(
    ("requested", "resolved"),
    [("piper:joe", "piper:joe"), ("joe", "piper:joe"), ("gmw/en-us", "pyttsx3:gmw/en-us")],
)
def test_voice_ids_resolve_to_engine_and_name(requested: str, resolved: str) -> None:
    assert resolve_voice(requested).lower() == resolved


def test_a_local_piper_model_is_a_voice_by_its_path(tmp_path: Path) -> None:
    model, config = bundled_piper_voices()["joe"]
    (tmp_path / "calm.onnx").symlink_to(model)
    (tmp_path / "calm.onnx.json").symlink_to(config)
    voice = resolve_voice(f"piper:{tmp_path / 'calm.onnx'}")
    assert voice == f"piper:{(tmp_path / 'calm.onnx').resolve()}"
    samples, rate = synthesize_one(PiperEngine(), SpeechRequest("piper", voice, 145, "Rest here."))
    assert rate == 22_050
    assert samples.size > rate // 4
    assert resolve_voice(f"piper:{model}") == "piper:joe"  # the bundled file is the bundled voice
    with pytest.raises(SettingsError, match="unknown piper voice"):
        resolve_voice(f"piper:{tmp_path / 'absent.onnx'}")
    (tmp_path / "lonely.onnx").symlink_to(model)  # no config beside it
    with pytest.raises(SettingsError, match=r"voice\.onnx\.json beside it"):
        resolve_voice(f"piper:{tmp_path / 'lonely.onnx'}")


def test_unknown_engines_and_voices_are_refused() -> None:
    with pytest.raises(SettingsError, match="unknown voice 'festival:kal'"):
        resolve_voice("festival:kal")
    with pytest.raises(SettingsError, match="unknown voice 'nobody'"):
        resolve_voice("nobody")
    with pytest.raises(SettingsError, match="unknown piper voice 'nobody'"):
        resolve_voice("piper:nobody")


def seconds(voice: str, rate: int) -> float:
    engine = start_engine(voice.split(":", 1)[0])
    request = SpeechRequest(engine.name, voice, rate, TEXT)
    samples, sample_rate = synthesize_one(engine, request)
    return trim_silence(samples).size / sample_rate


@pytest.mark.parametrize("rate", [110, 145, 180])
def test_a_rate_means_the_same_pace_on_both_engines(rate: int) -> None:
    espeak = seconds("pyttsx3:gmw/en-us", rate)
    piper = seconds("piper:joe", rate)
    assert piper == pytest.approx(espeak, rel=0.05)  # both land on the length the rate asks


def test_piper_slows_down_and_speeds_up_with_the_rate() -> None:
    assert seconds("piper:joe", 110) > seconds("piper:joe", 180) * 1.3
    assert length_scale(0.01) == LENGTH_SCALE_RANGE[0]  # never garbled past its range
    assert length_scale(10.0) == LENGTH_SCALE_RANGE[1]
    assert espeak_speed(0.01) == ESPEAK_RANGE[1]
    assert espeak_speed(10.0) == ESPEAK_RANGE[0]


class _Sentence:
    """What piper yields for a sentence: audio with silence at both ends."""

    def __init__(self, seconds: float, rate: int) -> None:
        sound = np.full(round(seconds * rate), 0.3, dtype=np.float32)
        quiet = np.zeros(rate // 5, dtype=np.float32)
        self.audio_float_array = np.concatenate([quiet, sound, quiet])


class _FakePiper:
    """A piper model that speaks each phrase for a second (one stage alone: no neural net)."""

    def __init__(self, rate: int) -> None:
        self.config = type("Config", (), {"sample_rate": rate})()

    def synthesize(self, text: str, config: object) -> list[_Sentence]:
        return [_Sentence(1.0, self.config.sample_rate)]


def test_piper_speaks_each_phrase_on_its_own() -> None:
    engine = start_engine("piper")
    engine._loaded["piper:fake"] = _FakePiper(22050)  # type: ignore[attr-defined]
    pieces, sample_rate = engine.speak(["One,", "two.", "Three"], "piper:fake", 0.4, 7)
    assert sample_rate == 22050
    assert [piece.size for piece in pieces] == [round(1.4 * 22050)] * 3  # untrimmed, in order


def test_the_piper_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.speech import voices

    monkeypatch.setattr(voices, "piper_installed", lambda: False)
    with pytest.raises(EnvironmentProblem, match=r"pip install 'PATH-TO-STILLPOINT\[piper\]'"):
        resolve_voice("piper:joe")
    assert resolve_voice("auto").startswith("pyttsx3:")


PIPER_CLIP = """
import hashlib, sys
from generator.speech.cache import SpeechRequest
from generator.speech.synthesis import synthesize_one
from generator.speech.voices import PiperEngine

samples, _ = synthesize_one(PiperEngine(), SpeechRequest("piper", "piper:joe", 130, sys.argv[1]))
print(hashlib.sha256(samples.tobytes()).hexdigest())
"""


def test_piper_clips_are_the_same_whatever_came_before_and_in_any_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hashlib
    import subprocess
    import sys

    from generator.speech import voices

    made: list[object] = []
    real = voices._piper_session

    def counted(model: Path | bytes) -> object:
        made.append(model)
        return real(model)

    monkeypatch.setattr(voices, "_piper_session", counted)
    engine = PiperEngine()
    request = SpeechRequest("piper", "piper:joe", 130, TEXT)
    first, _ = synthesize_one(engine, request)
    synthesize_one(engine, SpeechRequest("piper", "piper:joe", 130, "Rest here."))  # between
    again, _ = synthesize_one(engine, request)
    assert again.tobytes() == first.tobytes()
    assert len(made) == 2  # the voice's front and decoder, whatever the number of clips
    assert all(isinstance(m, bytes) for m in made)  # made in memory (neural/): noise as inputs
    one, _ = engine.speak([TEXT], "piper:joe", 0.4, 1)
    two, _ = engine.speak(["Rest here.", TEXT], "piper:joe", 0.4, 2)
    assert one[0].tobytes() == two[1].tobytes()  # a phrase's noise: its text and speed alone
    slower, _ = engine.speak([TEXT], "piper:joe", 0.41, 1)
    assert slower[0].size != one[0].size
    assert engine.phrase_setting("piper:joe", 0.4) == repr(length_scale(0.4))
    elsewhere = subprocess.run(
        [sys.executable, "-c", PIPER_CLIP, TEXT], capture_output=True, text=True, check=True
    )
    assert elsewhere.stdout.strip() == hashlib.sha256(first.tobytes()).hexdigest()


def test_piper_sounds_as_it_did_with_its_own_random_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The noise fed from a seed is the model's own noise in kind: clips as long and as loud as a
    new session for each utterance (the way a model piper_noise cannot change is spoken) gives."""
    from generator.speech import voices

    texts = [TEXT, "Rest here, and let the breath be easy.", "Slowly roll onto your back."]

    def spoken(engine: PiperEngine) -> tuple[float, float]:
        clips = [
            synthesize_one(engine, SpeechRequest("piper", "piper:joe", 130, t))[0] for t in texts
        ]
        joined = np.concatenate(clips)
        return joined.size, float(np.sqrt(np.mean(np.square(joined, dtype=np.float64))))

    fed = spoken(PiperEngine())
    monkeypatch.setattr(voices, "fed_model", lambda model: None)
    fallback = PiperEngine()
    own = spoken(fallback)
    assert fallback._models  # it did make a session for each utterance
    assert fallback.phrase_setting("piper:joe", 0.4) is None  # its phrases are not kept
    assert fed[0] == pytest.approx(own[0], rel=0.08)
    assert fed[1] == pytest.approx(own[1], rel=0.08)
