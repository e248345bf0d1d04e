"""The speech cache: finished clips on disk under the key of the request that made them.

The cache is shared by every render on the machine, at once and after crashes: an entry is
written whole under a temporary name and renamed into place, and carries a digest of its samples,
checked on every read, so a torn or damaged entry is made again rather than played.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import platformdirs

from generator.base.samples import SAMPLE_RATE, Samples, from_pcm16, to_pcm16
from generator.files.atomic import write_atomically

CLIP_FORMAT = 4  # bump when the way clips are made changes, so old cache entries are not reused

# A cache entry: magic, sample rate, sample count, BLAKE2b digest of all before it and of the
# samples; then the samples, 16-bit little-endian. A plain WAV cannot tell a flipped byte.
CLIP_MAGIC = b"STPCLIP1"
CLIP_HEADER = struct.Struct("<8sIQ")
CLIP_DIGEST = 32  # bytes


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

    def load(self, request: SpeechRequest) -> Samples | None:
        """The clip, or None when it is absent, torn or damaged (then it is made again)."""
        try:
            data = self.path(request).read_bytes()
        except OSError:
            return None
        return _decoded(data)

    def store(self, request: SpeechRequest, samples: Samples) -> None:
        """Write the clip whole or not at all: readers see the old entry or the new one."""
        destination = self.path(request)
        destination.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(destination, _encoded(samples, SAMPLE_RATE))


def _encoded(samples: Samples, rate: int) -> bytes:
    header = CLIP_HEADER.pack(CLIP_MAGIC, rate, samples.size)
    pcm = to_pcm16(samples)
    return header + hashlib.blake2b(header + pcm, digest_size=CLIP_DIGEST).digest() + pcm


def _decoded(data: bytes) -> Samples | None:
    start = CLIP_HEADER.size + CLIP_DIGEST
    if len(data) < start:
        return None
    magic, rate, count = CLIP_HEADER.unpack_from(data)
    digest, pcm = data[CLIP_HEADER.size : start], data[start:]
    if magic != CLIP_MAGIC or rate != SAMPLE_RATE or count == 0 or len(pcm) != 2 * count:
        return None
    if hashlib.blake2b(data[: CLIP_HEADER.size] + pcm, digest_size=CLIP_DIGEST).digest() != digest:
        return None
    return from_pcm16(pcm)
