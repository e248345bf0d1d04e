"""Stage 4: every distinct utterance becomes one speech clip, synthesised once and cached.

The engines live in ``voices.py``. eSpeak NG (under pyttsx3) is not thread-safe and hangs if
forked after start-up, and piper's model is best loaded once per process, so clips are made in
worker processes created with the ``spawn`` method; each worker starts an engine the first time
a request needs it and keeps it. Clips are trimmed and resampled to the session rate once, here,
and so are the marks of where each phrase is heard in them (``delivery.PhraseMark``).
The clips go into the cache (``cache.py``), which the workers write and the render reads. The
cache only saves time: a worker that cannot store its clip (disk full, read-only, a file where the
folder should be) sends the clip itself back, and the render goes on with a warning.

A clip is spoken phrase by phrase (``delivery.py``). When the engine's phrases depend on their
text, voice and speed alone (``SpeechEngine.phrase_setting``: piper with its noise fed), each
phrase spoken is kept beside the clips (``cache.PhraseStore``) and only the phrases not kept are
spoken: a batch row that differs by a name speaks "Anna." and takes "Welcome," and the rest from
the store (pigeon's two utterances with the name, piper: 1.33 CPU-s a row before, 0.17 after;
see ``_phrases``). Such phrases are quantised to 16 bits whether just spoken or read back, so a
clip is the same bytes from an empty cache or a warm one. A store that cannot be written only
costs time.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import os
import signal
import sys
import wave
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from generator.base.pools import interrupts_ignored, spawn_pool, stop_pool
from generator.base.samples import (
    SAMPLE_RATE,
    Samples,
    audible_span,
    frozen,
    resample,
    to_pcm16,
)
from generator.errors import SynthesisError
from generator.files.atomic import remove_stale
from generator.speech.cache import (
    Clip,
    ClipCache,
    PhraseRequest,
    PhraseStore,
    SpeechRequest,
    StoredClip,
    StoredPhrase,
)
from generator.speech.delivery import Delivered, PhraseMark, deliver
from generator.speech.voices import CLIP_TIMEOUT, SpeechEngine, start_engine, utterance_seed

ProgressCallback = Callable[[int], None]
WarningCallback = Callable[[str], None]  # one line for the user, as the command line prints it


@dataclass(frozen=True)
class Unstored:
    """A clip a worker made but the cache would not take: the clip travels back instead."""

    pcm: bytes  # 16-bit little-endian, as the cache keeps it: the same audio as a cached clip
    reason: str  # why the cache refused it, in the system's words ("No space left on device")
    phrases: tuple[PhraseMark, ...]  # where each phrase is heard in it, as a cached clip has them


def synthesize_all(
    requests: Iterable[SpeechRequest],
    cache: ClipCache,
    *,
    workers: int | None = None,
    on_clip: ProgressCallback | None = None,
    on_warning: WarningCallback | None = None,
) -> SpeechClips:
    """Clips for every distinct request: from the cache where present, else made in parallel
    in ``workers`` processes (a process a core by default; 0: in this process).

    Every clip is checked in the cache (or made) before this returns, one at a time; the clips
    come back as ``SpeechClips``, which reads each from the cache when it is asked for: an hour
    of speech is not held at once (it would be some 200 MB as float32).

    A cache that cannot be written does not stop the clips: they are used for this call only
    (held as 16-bit samples), and ``on_warning`` is told once.
    """
    known: dict[SpeechRequest, Known] = {}
    missing: list[SpeechRequest] = []
    for request in dict.fromkeys(requests):
        cached = cache.load_pcm(request)
        if cached is None:
            missing.append(request)
        else:
            known[request] = Known(cached.size, cached.phrases, cached.digest)
        del cached  # checked: read again when asked for
    unstored: dict[SpeechRequest, Unstored] = {}  # made, but not in the cache
    if missing and workers == 0:  # in this process: one of a batch's renderers (no pool in it)
        unstored = _make_clips_here(missing, cache, on_clip)
    elif missing:
        unstored = _make_clips(missing, cache, workers or os.cpu_count() or 1, on_clip)
    if unstored and on_warning:
        on_warning(cache_unwritable(cache.root, next(iter(unstored.values())).reason))
    held: dict[SpeechRequest, StoredClip] = {}
    for request in missing:
        made = _made_pcm(request, cache, unstored)
        known[request] = Known(made.size, made.phrases, made.digest)
        if request in unstored:
            held[request] = made
    return SpeechClips(cache, known, held)


@dataclass(frozen=True)
class Known:
    """What a render knows of a clip it checked, without holding it."""

    size: int
    phrases: tuple[PhraseMark, ...]
    digest: bytes  # the cache entry's (b"": held, not in the cache)


class SpeechClips(Mapping[SpeechRequest, Clip]):
    """Clips by request, each read from the cache (and checked again) when asked for, none kept:
    only a clip the cache would not take is held, as 16-bit samples. ``stored`` gives a clip as
    16-bit samples, ``known`` what is known of it without reading it."""

    def __init__(
        self,
        cache: ClipCache,
        known: Mapping[SpeechRequest, Known],
        held: Mapping[SpeechRequest, StoredClip],
    ) -> None:
        self.cache = cache
        self._known = dict(known)
        self._held = dict(held)

    def __getitem__(self, request: SpeechRequest) -> Clip:
        return self.stored(request).clip()

    def stored(self, request: SpeechRequest) -> StoredClip:
        size = self._known[request].size  # KeyError for a request not made here
        stored = self._held.get(request) or self.cache.load_pcm(request)
        if stored is None or stored.size != size:  # removed, or changed, since it was checked
            raise SynthesisError(
                f"the clip for {request.text[:60]!r} could not be read back from the speech "
                f"cache at {self.cache.root}",
                fix="Render again; leave the speech cache alone while a render runs.",
            )
        return stored

    def known(self, request: SpeechRequest) -> Known:
        """Its length, phrase marks and cache entry digest, as checked in this render."""
        return self._known[request]

    def __iter__(self) -> Iterator[SpeechRequest]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)

    def __contains__(self, request: object) -> bool:
        return request in self._known


def cache_unwritable(root: Path, reason: str) -> str:
    """The warning for a speech cache the clips could not be stored in."""
    return (
        f"stillpoint: warning: the speech cache at {root} cannot be written ({reason}): "
        "clips are made for this render only"
    )


def _made_clip(
    request: SpeechRequest, cache: ClipCache, unstored: Mapping[SpeechRequest, Unstored]
) -> Clip:
    """A clip just made: the worker's own when the cache refused it, else read back (checked)."""
    return _made_pcm(request, cache, unstored).clip()


def _made_pcm(
    request: SpeechRequest, cache: ClipCache, unstored: Mapping[SpeechRequest, Unstored]
) -> StoredClip:
    """``_made_clip`` as 16-bit samples."""
    if request in unstored:
        pcm = np.frombuffer(unstored[request].pcm, dtype="<i2")
        return StoredClip(pcm, unstored[request].phrases)
    made = cache.load_pcm(request)
    if made is None:
        raise SynthesisError(f"the clip for {request.text[:60]!r} could not be read back")
    return made


def _make_clips_here(
    missing: list[SpeechRequest], cache: ClipCache, on_clip: ProgressCallback | None
) -> dict[SpeechRequest, Unstored]:
    """Make the clips one by one in this process, its engines kept for the next call: for a
    worker that is itself one of a pool's (a batch's renderers), where a pool of its own would
    start the voice model again for every row and oversubscribe the cores."""
    unstored: dict[SpeechRequest, Unstored] = {}
    for request in missing:
        outcome = clip_in_worker(request, cache.root)
        if isinstance(outcome, Unstored):
            unstored[request] = outcome
        elif outcome:
            raise synthesis_failed(request, outcome)
        if on_clip:
            on_clip(1)
    return unstored


def synthesis_failed(request: SpeechRequest, outcome: str) -> SynthesisError:
    """The error for a clip a worker could not make (``outcome``: its error text)."""
    return SynthesisError(
        f"speech synthesis failed for {request.text[:60]!r}: {outcome}",
        fix="Check that eSpeak NG works: espeak-ng 'hello'",
    )


def _make_clips(
    missing: list[SpeechRequest], cache: ClipCache, workers: int, on_clip: ProgressCallback | None
) -> dict[SpeechRequest, Unstored]:
    """Make the clips in worker processes; returns those the cache would not take."""
    unstored: dict[SpeechRequest, Unstored] = {}
    pool = spawn_pool(min(workers, len(missing)), _quiet_worker)
    try:
        with interrupts_ignored():  # the pool starts its processes as jobs are submitted
            # longest first: the short clips fill in at the end, not one long clip alone
            longest_first = sorted(missing, key=lambda request: -len(request.text))
            jobs = {pool.submit(clip_in_worker, req, cache.root): req for req in longest_first}
        for job in futures.as_completed(jobs, timeout=CLIP_TIMEOUT * len(missing)):
            outcome = job.result()
            if isinstance(outcome, Unstored):
                unstored[jobs[job]] = outcome
            elif outcome:
                raise synthesis_failed(jobs[job], outcome)
            if on_clip:
                on_clip(1)
    except futures.TimeoutError:
        stop_pool(pool)
        raise SynthesisError(
            "speech synthesis timed out", fix="Check that eSpeak NG works."
        ) from None
    except BaseException:  # an error, Ctrl-C or SIGTERM: the workers end with the render
        stop_pool(pool)
        for request in missing:  # a worker stopped while writing leaves its temporary file
            remove_stale(cache.path(request))
        raise
    pool.shutdown(wait=True)
    return unstored


_worker_engines: dict[str, SpeechEngine] = {}


def _quiet_worker() -> None:
    """A worker's stdout goes nowhere: pyttsx3 prints "Audio saved to …" from its own thread,
    sometimes after a redirect around the call has ended, into the user's terminal. And a worker
    ignores Ctrl-C: the parent decides, and stops the workers (``base/pools.py``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout = Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115 - as long as the worker


def clip_in_worker(request: SpeechRequest, cache_root: Path) -> str | Unstored:
    """Make one clip in a worker process and store it in the cache.

    Returns "" once the clip is in the cache (the parent reads it from there), the clip itself
    when the cache would not take it, or an error text when no clip could be made.
    """
    try:
        engine = _worker_engines.get(request.engine)
        if engine is None:
            engine = _worker_engines[request.engine] = start_engine(request.engine)
        for _attempt in range(2):  # eSpeak now and then writes an empty file: try once more
            spoken = synthesize_marked(engine, request, PhraseStore(cache_root))
            if spoken.samples.size:
                return _stored(request, _at_session_rate(spoken), cache_root)
    except Exception as error:  # reported to the parent as text: exceptions may not pickle
        return f"{type(error).__name__}: {error}"
    return "the engine produced no sound (tried twice)"


def _at_session_rate(spoken: Delivered) -> Clip:
    """The clip resampled to SAMPLE_RATE, its phrase marks scaled the same way (rounded to the
    nearest sample, within the resampled clip)."""
    samples = resample(spoken.samples, spoken.sample_rate, SAMPLE_RATE)
    scale = Fraction(SAMPLE_RATE, spoken.sample_rate)

    def scaled(offset: int) -> int:
        return min(round(offset * scale), samples.size)

    marks = tuple(replace(m, start=scaled(m.start), end=scaled(m.end)) for m in spoken.phrases)
    return Clip(samples, marks)


def _stored(request: SpeechRequest, clip: Clip, cache_root: Path) -> str | Unstored:
    """Put the clip in the cache and return ""; when the cache cannot take it (ENOSPC, EROFS,
    EACCES, ENOTDIR…), return the clip itself: the cache only saves time, the render needs it."""
    try:
        ClipCache(cache_root).store(request, clip)
    except OSError as error:
        return Unstored(to_pcm16(clip.samples), error.strerror or str(error), clip.phrases)
    return ""


def synthesize_one(engine: SpeechEngine, request: SpeechRequest) -> tuple[Samples, int]:
    """The utterance, delivered phrase by phrase with its pauses (``delivery.py``), trimmed;
    and its sample rate."""
    spoken = synthesize_marked(engine, request)
    return spoken.samples, spoken.sample_rate


def synthesize_marked(
    engine: SpeechEngine, request: SpeechRequest, store: PhraseStore | None = None
) -> Delivered:
    """The utterance, delivered phrase by phrase with its pauses (``delivery.py``), trimmed to
    its first and last audible sample, with where each phrase is heard in it; the phrases the
    ``store`` keeps are read from it, not spoken (for an engine whose phrases can be kept)."""
    seed = utterance_seed(request.text, request.voice, request.rate, str(request.sentence_pause))

    def speak(phrases: Sequence[str], seconds_per_word: float) -> tuple[list[Samples], int]:
        setting = engine.phrase_setting(request.voice, seconds_per_word)
        if setting is None:
            return engine.speak(phrases, request.voice, seconds_per_word, seed)
        asked = [PhraseRequest(engine.name, request.voice, text, setting) for text in phrases]
        return _phrases(
            asked, lambda texts: engine.speak(texts, request.voice, seconds_per_word, seed), store
        )

    try:
        spoken = deliver(request.text, request.rate, request.sentence_pause, speak)
    except (OSError, EOFError, ValueError, wave.Error):  # an empty or torn file from eSpeak
        return Delivered(frozen([]), SAMPLE_RATE, ())
    return _trimmed(spoken)


SpeakPhrases = Callable[[Sequence[str]], tuple[list[Samples], int]]


def _phrases(
    asked: Sequence[PhraseRequest], speak: SpeakPhrases, store: PhraseStore | None
) -> tuple[list[Samples], int]:
    """The phrases, from the store where it has them (at the rate the engine speaks), else
    spoken (each distinct text once) and kept; all of them quantised to 16 bits as kept.

    Measured on pigeon's two utterances with the listener's name (9 phrases, 20 s of speech),
    a row with a new name, piper: 1.33 CPU-s when every phrase was spoken, 0.17 with only
    "NAME." spoken (at the two utterances' speeds). A phrase kept costs 0.6 ms to write and
    0.08 ms to read back checked (1 s of speech), against 8 ms for eSpeak NG to speak it."""
    if not asked:
        return speak([])
    found = {phrase: store.load(phrase) for phrase in asked} if store else {}
    kept = {phrase: entry for phrase, entry in found.items() if entry is not None}
    missing = [phrase for phrase in dict.fromkeys(asked) if phrase not in kept]
    spoken = _spoken(missing, speak)
    if len({entry.sample_rate for entry in (*kept.values(), *spoken.values())}) > 1:
        kept, spoken = {}, _spoken(list(dict.fromkeys(asked)), speak)  # a model changed its rate
    for phrase, entry in spoken.items():
        _keep(store, phrase, entry)
    every = {**kept, **spoken}
    return [every[phrase].samples() for phrase in asked], every[asked[0]].sample_rate


def _spoken(
    phrases: Sequence[PhraseRequest], speak: SpeakPhrases
) -> dict[PhraseRequest, StoredPhrase]:
    """The phrases spoken, as the store keeps them (16-bit)."""
    if not phrases:
        return {}
    pieces, rate = speak([phrase.text for phrase in phrases])
    pcm = [np.frombuffer(to_pcm16(piece), dtype="<i2") for piece in pieces]
    return {phrase: StoredPhrase(p, rate) for phrase, p in zip(phrases, pcm, strict=True)}


def _keep(store: PhraseStore | None, phrase: PhraseRequest, entry: StoredPhrase) -> None:
    """Keep a phrase just spoken: a store that cannot take it (or an empty phrase, which an
    entry cannot be) only costs the time of speaking it again."""
    if store is None or not entry.pcm.size:
        return
    with contextlib.suppress(OSError):  # ENOSPC, EROFS, EACCES, ENOTDIR…: as _stored's clips
        store.store(phrase, entry)


def _trimmed(spoken: Delivered) -> Delivered:
    """The clip from its first to its last audible sample, its marks moved with it. The phrases
    are trimmed when spoken, so this cuts only a phrase the engine left silent at either end."""
    start, end = audible_span(spoken.samples)

    def moved(offset: int) -> int:
        return min(max(offset - start, 0), end - start)

    marks = tuple(replace(m, start=moved(m.start), end=moved(m.end)) for m in spoken.phrases)
    return Delivered(frozen(spoken.samples[start:end]), spoken.sample_rate, marks)
