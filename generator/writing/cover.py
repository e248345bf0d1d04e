"""Cover art: the user's own picture (``--set cover=FILE``), or one made by the project: a calm
PNG of ripples around a still point, one per session.

The colours come from the title (a hash, not chance), so a session always has the same cover and
different sessions look different in a player's list. Written with zlib alone: no image library.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from generator.errors import SettingsError
from generator.files.userfiles import display_path, read_bytes

MAX_COVER_BYTES = 10_000_000  # a 3000-pixel JPEG is 2-5 MB; anything this large is not a cover
SIZE = 600  # pixels a side: enough for a phone's player, about 30 KB
PALETTES = (  # (top, bottom) colours: dusk, sea, sage, clay, lavender, night
    ((44, 62, 80), (214, 162, 132)),
    ((22, 73, 94), (142, 200, 196)),
    ((63, 84, 64), (205, 214, 172)),
    ((94, 52, 44), (230, 190, 150)),
    ((70, 60, 110), (210, 190, 225)),
    ((18, 24, 44), (96, 112, 160)),
)


def cover_image(setting: str, title: str) -> bytes:
    """The user's cover image (the ``cover`` setting, a path), or one made from the title."""
    if not setting:
        return cover_png(title)
    path = Path(setting).expanduser()
    fix = f"Give a PNG or JPEG file of at most {MAX_COVER_BYTES // 1_000_000} MB."
    data = read_bytes(path, SettingsError, MAX_COVER_BYTES, fix)
    if not (data.startswith(b"\x89PNG") or data.startswith(b"\xff\xd8")):
        raise SettingsError(
            f"cover: {display_path(path)} is not a PNG or JPEG image", fix="Convert it first."
        )
    return data


def cover_png(title: str) -> bytes:
    """The PNG bytes of the cover for a session of this title."""
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    top, bottom = (np.array(c, dtype=np.float64) for c in PALETTES[digest[0] % len(PALETTES)])
    y, x = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    image = top + (bottom - top) * y[..., np.newaxis]  # a vertical gradient
    centre = (0.5 + (digest[1] - 128) / 1280, 0.62)
    distance = np.hypot(x - centre[0], y - centre[1])
    rings = 0.5 + 0.5 * np.cos(distance * 2 * np.pi * 9)  # ripples, nine a unit of distance
    fade = np.exp(-distance * 3.2)  # strongest near the still point
    glow = np.clip(rings * fade * 0.45 + np.exp(-((distance / 0.035) ** 2)), 0, 1)
    image = image + (255 - image) * glow[..., np.newaxis] * 0.6
    return _png(np.clip(np.rint(image), 0, 255).astype(np.uint8))


def _png(pixels: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an (h, w, 3) array."""
    height, width, _ = pixels.shape
    rows = np.hstack([np.zeros((height, 1), dtype=np.uint8), pixels.reshape(height, -1)])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)
