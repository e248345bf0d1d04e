"""Cover pictures for the library page and its feed: what kind of image, how large, as a data: URI.

A cover comes from a file's own tags (``tags.read_listing``: a PNG or a JPEG, by its first
bytes). The page embeds each distinct cover once, as a ``data:`` URI, so it stays one file that
works offline; a cover too large to embed is left out of the page (the file still carries it,
and the feed serves it as a file). No image library: the size in pixels is read from the PNG's
IHDR chunk or the JPEG's start-of-frame segment.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"
# The largest cover embedded in the page: the built-in covers are 600 x 600 PNGs of 30-120 KB;
# a cover of several MB is a camera's photo, and seven of them would make a page of 20 MB+.
MAX_PAGE_COVER_BYTES = 1_000_000
# All the covers of one page together (each distinct cover counted once): some 130 built-in
# covers. Past it, further sessions are listed without their cover (a page of hundreds of MB
# would take a phone's browser seconds to open).
MAX_PAGE_COVERS_BYTES = 16_000_000
# JPEG markers that start a frame (SOF0-SOF15 but DHT, JPG and DAC): their segment gives the size.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class Picture:
    """A cover as a page or a feed gives it: its type, its size in pixels if known, its bytes."""

    mime: str  # image/png or image/jpeg
    suffix: str  # .png or .jpg: the cover file written beside an audio file for the feed
    size: tuple[int, int] | None  # (width, height)
    data: bytes

    @property
    def uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    @property
    def sizes(self) -> str:
        """The Media Session's artwork ``sizes``: "600x600", or "" when unknown."""
        return f"{self.size[0]}x{self.size[1]}" if self.size else ""


def picture(data: bytes) -> Picture | None:
    """The cover's kind and size, or None when it is no PNG or JPEG."""
    if data.startswith(PNG):
        return Picture("image/png", ".png", _png_size(data), data)
    if data.startswith(JPEG):
        return Picture("image/jpeg", ".jpg", _jpeg_size(data), data)
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the IHDR chunk, always the first after the signature."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if width and height else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first start-of-frame segment, walking the segments' lengths
    (each step moves forward: a crafted length cannot loop)."""
    at = 2
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return (width, height) if width and height else None
        if length < 2:
            return None
        at += 2 + length
    return None
