"""The speech cache: finished clips on disk under the key of the request that made them, and
beside them the phrases they were made of.

The cache is shared by every render on the machine, at once and after crashes: an entry is
written whole under a temporary name and renamed into place, and carries a digest of its samples,
checked on every read, so a torn or damaged entry is made again rather than played. With the
samples it keeps where each phrase is heard (``delivery.PhraseMark``), under the same digest.

Layout under the cache root: ``clips/KK/KEY.clip`` (a finished clip, at SAMPLE_RATE) and
``phrases/KK/KEY.phrase`` (one phrase as an engine spoke it, untrimmed, at the engine's own rate),
KK the key's first two hex digits. A phrase is kept only for an engine whose phrases are a
function of (voice, text, its speed setting) alone (``SpeechEngine.phrase_setting``): a batch
row that differs from the last by a name then speaks only the phrases with the name in them
("Welcome, Anna." is the phrases "Welcome," and "Anna.").
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt
import platformdirs

from generator.base.samples import PCM16_SCALE, SAMPLE_RATE, Samples, to_pcm16
from generator.files.atomic import write_atomically
from generator.speech.delivery import PhraseMark

# Bump when the way clips are made changes, so old cache entries are not reused. 7: phrases
# spoken on their own (piper reseeded per phrase) and quantised to 16 bits before they are joined.
CLIP_FORMAT = 7
# An engine's own format, for a change to its clips alone (the others' clips stay in the cache).
# pyttsx3 1: eSpeak NG reads an utterance's phrases in one process, breaks between them.
ENGINE_FORMATS = {"pyttsx3": 1}
PHRASE_FORMAT = 1  # bump when the way an engine's phrases are spoken or kept changes

# A cache entry: magic, sample rate, sample count, the phrase marks' length in bytes; a BLAKE2b
# digest of the header, the marks and the samples; then the marks, UTF-8 JSON
# [[start, end, "phrase"], ...] (sample offsets in the clip); then the samples, 16-bit
# little-endian. A plain WAV cannot tell a flipped byte, nor where a phrase begins. A phrase entry
# is laid out the same, with its own magic, the engine's rate and one mark: its whole text.
CLIP_MAGIC = b"STPCLIP2"
PHRASE_MAGIC = b"STPPHRS1"
CLIP_HEADER = struct.Struct("<8sIQI")
CLIP_DIGEST = 32  # bytes


@dataclass(frozen=True, eq=False)  # eq: numpy arrays do not compare to one truth value
class Clip:
    """A finished clip: its samples at SAMPLE_RATE (trimmed), and where each phrase is heard in
    them, as the engine was given it."""

    samples: Samples
    phrases: tuple[PhraseMark, ...]


Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True, eq=False)
class StoredClip:
    """A clip as the cache keeps it: 16-bit samples (half a float32 clip's memory), its marks."""

    pcm: Pcm
    phrases: tuple[PhraseMark, ...]
    digest: bytes = b""  # the entry's, checked as it was read (b"": a clip not in the cache)

    @property
    def size(self) -> int:
        return int(self.pcm.size)

    def clip(self) -> Clip:
        return Clip(pcm_samples(self.pcm), self.phrases)


def pcm_samples(pcm: Pcm) -> Samples:
    """16-bit samples as read-only float32, exactly as ``from_pcm16`` gives them (the scale is a
    power of two: exact in float32), without its float64 copy."""
    samples = pcm.astype(np.float32)
    samples *= np.float32(1 / PCM16_SCALE)
    samples.flags.writeable = False
    return samples


@dataclass(frozen=True)
class SpeechRequest:
    """Everything that decides how one clip sounds: its cache key is made from these alone."""

    engine: str
    voice: str
    rate: int  # words a minute as heard, pauses included (speech/delivery.py)
    text: str
    sentence_pause: Fraction = Fraction(1)  # seconds between sentences at delivery.BASE_RATE

    @property
    def key(self) -> str:
        fields = [CLIP_FORMAT, SAMPLE_RATE, self.engine, self.voice, self.rate, self.text]
        if self.engine in ENGINE_FORMATS:
            fields.append(ENGINE_FORMATS[self.engine])
        fields.append(str(self.sentence_pause))
        return _key(fields)


@dataclass(frozen=True)
class PhraseRequest:
    """Everything that decides how one phrase sounds, for an engine whose phrases do not depend
    on what it said before them (``SpeechEngine.phrase_setting``)."""

    engine: str
    voice: str
    text: str
    setting: str  # the engine's speed as it speaks with it, exactly: repr of piper's length scale

    @property
    def key(self) -> str:
        return _key([PHRASE_FORMAT, self.engine, self.voice, self.text, self.setting])


@dataclass(frozen=True, eq=False)
class StoredPhrase:
    """A phrase as the store keeps it: 16-bit samples at the engine's rate, untrimmed."""

    pcm: Pcm
    sample_rate: int

    def samples(self) -> Samples:
        return pcm_samples(self.pcm)


def _key(fields: list[object]) -> str:
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("STILLPOINT_CACHE") or platformdirs.user_cache_dir("stillpoint"))


class _Entries:
    """Checked entries in a folder of the cache root, ``FOLDER/KK/KEY.SUFFIX``."""

    folder = ""
    suffix = ""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / self.folder / key[:2] / f"{key}.{self.suffix}"

    def _read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except OSError:
            return None

    def _write(self, key: str, entry: bytes) -> None:
        """Write the entry whole or not at all: readers see the old entry or the new one."""
        destination = self._path(key)
        destination.parent.mkdir(parents=True, exist_ok=True)
        # not flushed: an entry is checked when read (its digest), and one a power cut tore is
        # made again; the two fsyncs were 2 ms of a piper clip's 16 beyond inference (measured)
        write_atomically(destination, entry, durable=False)


class ClipCache(_Entries):
    """Finished clips on disk (trimmed, at the session rate) under their request's key."""

    folder, suffix = "clips", "clip"

    def path(self, request: SpeechRequest) -> Path:
        return self._path(request.key)

    def load(self, request: SpeechRequest) -> Clip | None:
        """The clip, or None when it is absent, torn or damaged (then it is made again)."""
        stored = self.load_pcm(request)
        return None if stored is None else stored.clip()

    def load_pcm(self, request: SpeechRequest) -> StoredClip | None:
        """The clip as stored (16-bit), checked as ``load`` checks it; None as ``load`` gives."""
        data = self._read(request.key)
        entry = None if data is None else _decoded(data, CLIP_MAGIC)
        if entry is None or entry[0] != SAMPLE_RATE:
            return None
        return entry[1]

    def store(self, request: SpeechRequest, clip: Clip) -> None:
        """Write the clip whole or not at all (OSError when the cache cannot take it)."""
        pcm = to_pcm16(clip.samples)
        self._write(request.key, _encoded(CLIP_MAGIC, SAMPLE_RATE, clip.phrases, pcm))


class PhraseStore(_Entries):
    """Phrases as an engine spoke them, under their ``PhraseRequest``'s key, beside the clips.

    16-bit samples at the engine's own rate: 44.1 kB a second of speech at piper's and eSpeak
    NG's 22 050 Hz, half what float32 would take; the clips made from them are 16-bit too, and a
    phrase is quantised the same way whether it was just spoken or read from here
    (``synthesis.py``), so a clip is the same bytes either way.
    """

    folder, suffix = "phrases", "phrase"

    def path(self, phrase: PhraseRequest) -> Path:
        return self._path(phrase.key)

    def load(self, phrase: PhraseRequest) -> StoredPhrase | None:
        """The phrase, or None when it is absent, torn, damaged or another text's."""
        data = self._read(phrase.key)
        entry = None if data is None else _decoded(data, PHRASE_MAGIC)
        if entry is None or [mark.text for mark in entry[1].phrases] != [phrase.text]:
            return None
        return StoredPhrase(entry[1].pcm, entry[0])

    def store(self, phrase: PhraseRequest, spoken: StoredPhrase) -> None:
        """Write the phrase whole or not at all (OSError when the store cannot take it)."""
        mark = PhraseMark(0, spoken.pcm.size, phrase.text)
        pcm = spoken.pcm.astype("<i2", copy=False).tobytes()
        self._write(phrase.key, _encoded(PHRASE_MAGIC, spoken.sample_rate, (mark,), pcm))


def _encoded(magic: bytes, rate: int, marks: tuple[PhraseMark, ...], pcm: bytes) -> bytes:
    """An entry: header, digest, marks, samples (``pcm``: 16-bit little-endian)."""
    text = json.dumps([[mark.start, mark.end, mark.text] for mark in marks]).encode()
    header = CLIP_HEADER.pack(magic, rate, len(pcm) // 2, len(text))
    digest = hashlib.blake2b(header, digest_size=CLIP_DIGEST)
    digest.update(text)
    digest.update(pcm)  # in parts: the samples are not copied to be hashed
    return b"".join((header, digest.digest(), text, pcm))


def _decoded(data: bytes, expected: bytes) -> tuple[int, StoredClip] | None:
    """The entry's sample rate and contents, or None unless it is whole, undamaged and of the
    kind ``expected`` (its magic)."""
    marks_at = CLIP_HEADER.size + CLIP_DIGEST
    if len(data) < marks_at:
        return None
    magic, rate, count, marks_size = CLIP_HEADER.unpack_from(data)
    pcm_at = marks_at + marks_size
    digest, marks = data[CLIP_HEADER.size : marks_at], data[marks_at:pcm_at]
    if magic != expected or count == 0 or len(data) - pcm_at != 2 * count:
        return None
    view = memoryview(data)  # checked in parts, without copying the samples
    checked = hashlib.blake2b(view[: CLIP_HEADER.size], digest_size=CLIP_DIGEST)
    checked.update(view[marks_at:])
    if checked.digest() != digest:
        return None
    phrases = _marks(marks, count)
    if phrases is None:
        return None
    return rate, StoredClip(np.frombuffer(data, dtype="<i2", offset=pcm_at), phrases, digest)


def _marks(data: bytes, count: int) -> tuple[PhraseMark, ...] | None:
    """The phrase marks of an entry, or None unless each is [start, end, text] inside the clip's
    ``count`` samples, in order (a digest that matches was written by us: this is belt and
    braces against a bug, not against an attacker, who could make the digest too)."""
    try:
        items = json.loads(data.decode())
    except ValueError:  # not UTF-8 (UnicodeDecodeError is one), not JSON
        return None
    if not isinstance(items, list):
        return None
    marks: list[PhraseMark] = []
    last = 0
    for item in items:
        if not (isinstance(item, list) and len(item) == 3):
            return None
        start, end, text = item
        if not (type(start) is int and type(end) is int and isinstance(text, str)):  # no bools
            return None
        if not last <= start <= end <= count:
            return None
        marks.append(PhraseMark(start, end, text))
        last = end
    return tuple(marks)
