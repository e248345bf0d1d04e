"""The speech cache: finished clips on disk under the key of the request that made them.

The cache is shared by every render on the machine, at once and after crashes: an entry is
written whole under a temporary name and renamed into place, and carries a digest of its samples,
checked on every read, so a torn or damaged entry is made again rather than played. With the
samples it keeps where each phrase is heard (``delivery.PhraseMark``), under the same digest.
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

CLIP_FORMAT = 6  # bump when the way clips are made changes, so old cache entries are not reused

# A cache entry: magic, sample rate, sample count, the phrase marks' length in bytes; a BLAKE2b
# digest of the header, the marks and the samples; then the marks, UTF-8 JSON
# [[start, end, "phrase"], ...] (sample offsets in the clip); then the samples, 16-bit
# little-endian. A plain WAV cannot tell a flipped byte, nor where a phrase begins.
CLIP_MAGIC = b"STPCLIP2"
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
        fields.append(str(self.sentence_pause))
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("STILLPOINT_CACHE") or platformdirs.user_cache_dir("stillpoint"))


class ClipCache:
    """Finished clips on disk (trimmed, at the session rate) under their request's key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, request: SpeechRequest) -> Path:
        return self.root / "clips" / request.key[:2] / f"{request.key}.clip"

    def load(self, request: SpeechRequest) -> Clip | None:
        """The clip, or None when it is absent, torn or damaged (then it is made again)."""
        stored = self.load_pcm(request)
        return None if stored is None else stored.clip()

    def load_pcm(self, request: SpeechRequest) -> StoredClip | None:
        """The clip as stored (16-bit), checked as ``load`` checks it; None as ``load`` gives."""
        try:
            data = self.path(request).read_bytes()
        except OSError:
            return None
        return _decoded(data)

    def store(self, request: SpeechRequest, clip: Clip) -> None:
        """Write the clip whole or not at all: readers see the old entry or the new one."""
        destination = self.path(request)
        destination.parent.mkdir(parents=True, exist_ok=True)
        # not flushed: an entry is checked when read (its digest), and one a power cut tore is
        # made again; the two fsyncs were 2 ms of a piper clip's 16 beyond inference (measured)
        write_atomically(destination, _encoded(clip, SAMPLE_RATE), durable=False)


def _encoded(clip: Clip, rate: int) -> bytes:
    marks = json.dumps([[mark.start, mark.end, mark.text] for mark in clip.phrases])
    text = marks.encode()
    header = CLIP_HEADER.pack(CLIP_MAGIC, rate, clip.samples.size, len(text))
    pcm = to_pcm16(clip.samples)
    digest = hashlib.blake2b(header, digest_size=CLIP_DIGEST)
    digest.update(text)
    digest.update(pcm)  # in parts: the samples are not copied to be hashed
    return b"".join((header, digest.digest(), text, pcm))


def _decoded(data: bytes) -> StoredClip | None:
    marks_at = CLIP_HEADER.size + CLIP_DIGEST
    if len(data) < marks_at:
        return None
    magic, rate, count, marks_size = CLIP_HEADER.unpack_from(data)
    pcm_at = marks_at + marks_size
    digest, marks = data[CLIP_HEADER.size : marks_at], data[marks_at:pcm_at]
    if magic != CLIP_MAGIC or rate != SAMPLE_RATE or count == 0 or len(data) - pcm_at != 2 * count:
        return None
    view = memoryview(data)  # checked in parts, without copying the samples
    checked = hashlib.blake2b(view[: CLIP_HEADER.size], digest_size=CLIP_DIGEST)
    checked.update(view[marks_at:])
    if checked.digest() != digest:
        return None
    phrases = _marks(marks, count)
    if phrases is None:
        return None
    return StoredClip(np.frombuffer(data, dtype="<i2", offset=pcm_at), phrases, digest)


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
