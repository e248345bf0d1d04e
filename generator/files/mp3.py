"""MP3 streams encoded in parts, joined into one: the frames, the seams and the Info tag.

A long session is encoded by several LAME encoders at once (``ffmpeg.encode``), each given its
share of the mix with some audio either side, and their frames are joined here into one stream
that a decoder plays as if one encoder had made it: the same length to the sample, the same
gapless trim.

Why a seam can be clean. MPEG-1 Layer III codes SAMPLES_PER_FRAME samples a frame, and frame i
of an encoder that was given the mix from sample ``first`` decodes to the mix's samples from
``first + 1152 i`` on (LAME's delay is the same in every part). So a part that starts on a
multiple of 1152 has its frames on the grid of the part before it, and from LEAD frames before
its seam its filterbanks and its psychoacoustic model have settled on the same audio: around a
seam the joined file decodes as close to the mix as one encoder's file does (measured on a
10-minute pigeon render: 26.05 dB SNR over the 52 ms about a seam in speech, as one encoder's;
a seam in silence decoded to one encoder's very samples until the next sound, 2.5 s on).
In speech about half the frames of a window can be a seam (36 of 64 measured); in silence all.

Two things must agree at the seam frame F, and the first frame of the part's WINDOW where both
hold is taken:
- the bit reservoir: the later part's frame F reads its first ``main_data_begin`` bytes from
  the frames before it; they are copied into the end of the earlier part's frames, which needs
  as many bytes unused after the earlier part's frame F-1's own data;
- the windows: after a start or short window (block types 1, 2) comes a short or stop window
  (2, 3), after a long or stop window (0, 3) a long or start one (0, 1), or the overlapping
  halves would not cancel each other's aliasing.

The file starts with ffmpeg's Info frame (the Xing header of a constant-bitrate file, with its
LAME tag) as the first part wrote it; its frame and byte counts, table of contents, end padding
and CRCs are made again for the joined stream. Players read the length and the gapless trim
from it.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

SAMPLES_PER_FRAME = 1152  # MPEG-1 Layer III
LEAD = 40  # frames a part starts before its window (1.04 s at 44.1 kHz): the encoder settles
WINDOW = 128  # frames in which a seam is looked for (3.3 s): one comes within the first few
_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)  # kbit/s
_RATES = (44100, 48000, 32000)  # Hz, by the header's sample rate index (MPEG-1)
_MONO = 3  # the header's channel mode of a one-channel stream
_TAG_OFFSET = {1: 21, 2: 36}  # bytes from a frame's start to its "Info" tag, by channels
_CRC_SPAN = 190  # bytes of the Info frame the LAME tag's own CRC covers
CHUNK = 1 << 22  # bytes copied (and checksummed) at a time: 4 MB
_WINDOW = 1 << 16  # bytes read at a time to find frames: an hour's 12 parts hold 0.8 MB


class SpliceError(Exception):
    """The parts cannot be joined (no seam in a window, or not the stream expected): the
    caller encodes the mix again in one part."""


@dataclass(frozen=True)
class Part:
    """One encoder's share: the mix's samples [first, last), and where the next part may take
    over (frame numbers of the joined stream, counted without the Info frame)."""

    first: int
    last: int
    seams: range  # empty for the last part

    @property
    def origin(self) -> int:
        """The joined stream's frame number of this part's first frame."""
        return self.first // SAMPLES_PER_FRAME


def plan_parts(length: int, part_samples: int) -> tuple[Part, ...]:
    """Parts of about part_samples each (one for a mix shorter than two): a function of the
    length alone, so a file is the same bytes whatever machine or how many encoders made it."""
    count = max(1, length // part_samples)
    nominal = [round(length * index / count / SAMPLES_PER_FRAME) for index in range(1, count)]
    if count > 1 and nominal[0] < LEAD:
        return (Part(0, length, range(0)),)
    starts = [0, *((frame - LEAD) * SAMPLES_PER_FRAME for frame in nominal)]
    ends = [min(length, (frame + WINDOW + LEAD) * SAMPLES_PER_FRAME) for frame in nominal]
    windows = [range(frame, frame + WINDOW) for frame in nominal]
    return tuple(
        Part(first, last, seams)
        for first, last, seams in zip(starts, [*ends, length], [*windows, range(0)], strict=True)
    )


# --- frames ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """What a seam needs of a frame's side information."""

    payload: int  # bytes after its header and side information
    main_data_begin: int  # bytes its main data starts before its payload
    main_data: int  # bytes of its own main data
    first_blocks: tuple[int, ...]  # the block type of its first granule, a channel each
    last_blocks: tuple[int, ...]  # of its last granule


class _File:
    """A file read by slices, through a window of _WINDOW bytes: read, not mapped, so that its
    pages are not counted in the process's resident memory."""

    def __init__(self, file: IO[bytes]) -> None:
        self._descriptor = file.fileno()
        self._size = os.fstat(self._descriptor).st_size
        self._window, self._at = b"", 0

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, span: slice) -> bytes:
        start, stop = span.start, min(span.stop, self._size)
        if start < self._at or stop > self._at + len(self._window):
            if stop - start > _WINDOW:
                return os.pread(self._descriptor, stop - start, start)
            self._window, self._at = os.pread(self._descriptor, _WINDOW, start), start
        return self._window[start - self._at : stop - self._at]


class Stream:
    """An encoder's output file: its frames' offsets, and the side information of any frame."""

    def __init__(self, data: _File, info_frame: bool) -> None:
        self.data = data
        offsets = _frame_offsets(data)
        if len(offsets) < 2 + info_frame:
            raise SpliceError("a part has no audio frames")
        self.info = offsets[0] if info_frame else -1  # the Info frame's offset
        self.offsets = offsets[1:] if info_frame else offsets  # the audio frames'
        self.end = len(data)

    @property
    def frames(self) -> int:
        return len(self.offsets) - 1  # the last offset is the stream's end

    def side(self, frame: int) -> Side:
        return _side(self.data, self.offsets[frame], self.offsets[frame + 1])

    def payload_tail(self, frame: int, count: int) -> bytes:
        """The last count bytes of main data before frame's own payload (the reservoir)."""
        pieces: list[bytes] = []
        while count > 0:
            frame -= 1
            start, end = self.offsets[frame], self.offsets[frame + 1]
            available = end - start - _header_and_side(self.data, start)
            take = min(count, available)
            pieces.insert(0, bytes(self.data[end - take : end]))
            count -= take
        return b"".join(pieces)


def _frame_offsets(data: _File) -> array[int]:
    """Where each frame starts, and the stream's end; SpliceError on anything but constant
    bitrate MPEG-1 Layer III frames back to back. (An array: 8 bytes an offset, not a Python
    int's 36.)"""
    offsets, at, size = array("q"), 0, len(data)
    while at + 4 <= size:
        header = int.from_bytes(data[at : at + 4], "big")
        if header >> 17 != 0x7FFD:  # the sync word, MPEG-1, Layer III
            raise SpliceError(f"no MPEG-1 Layer III frame at byte {at}")
        offsets.append(at)
        at += _frame_bytes(header)
    if at != size:
        raise SpliceError(f"a frame runs past the stream's end at byte {offsets[-1]}")
    offsets.append(at)
    return offsets


def _frame_bytes(header: int) -> int:
    bitrate = _BITRATES[header >> 12 & 15] * 1000
    rate = _RATES[min(header >> 10 & 3, 2)]
    if not bitrate:
        raise SpliceError("a free-format frame")
    return 144 * bitrate // rate + (header >> 9 & 1)


def _header_and_side(data: _File, at: int) -> int:
    header = int.from_bytes(data[at : at + 4], "big")
    crc = 0 if header >> 16 & 1 else 2
    return 4 + crc + (17 if header >> 6 & 3 == _MONO else 32)


def _side(data: _File, start: int, end: int) -> Side:
    """The side information of the frame at [start, end) (ISO 11172-3, 2.4.1.7)."""
    header = int.from_bytes(data[start : start + 4], "big")
    channels = 1 if header >> 6 & 3 == _MONO else 2
    skip = _header_and_side(data, start)
    bits = _Bits(bytes(data[start + skip - (17 if channels == 1 else 32) : start + skip]))
    main_data_begin = bits.take(9)
    bits.take(5 if channels == 1 else 3)  # private bits
    bits.take(4 * channels)  # scfsi
    lengths, blocks = 0, []
    for _granule in range(2):
        for _channel in range(channels):
            length, block = _granule_channel(bits)
            lengths += length
            blocks.append(block)
    return Side(
        end - start - skip,
        main_data_begin,
        (lengths + 7) // 8,
        tuple(blocks[:channels]),
        tuple(blocks[channels:]),
    )


def _granule_channel(bits: _Bits) -> tuple[int, int]:
    """part2_3_length (bits of main data) and block type of one granule of one channel."""
    length = bits.take(12)
    bits.take(9 + 8 + 4)  # big_values, global_gain, scalefac_compress
    if bits.take(1):  # window switching
        block = bits.take(2)
        bits.take(1 + 10 + 9)  # mixed block flag, two table selects, three subblock gains
    else:
        block = 0
        bits.take(15 + 4 + 3)  # three table selects, region0 and region1 counts
    bits.take(3)  # preflag, scalefac_scale, count1table_select
    return length, block


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.value, self.left = int.from_bytes(data, "big"), len(data) * 8

    def take(self, count: int) -> int:
        self.left -= count
        return self.value >> self.left & (1 << count) - 1


# --- seams -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seam:
    """Where the joined stream goes from one part to the next: the frame (of the joined stream),
    and the later part's reservoir bytes that end the earlier part's frames."""

    frame: int
    reservoir: bytes


def find_seam(before: Stream, before_part: Part, after: Stream, after_part: Part) -> Seam:
    """The first frame of before_part's window where after may take over (see the module)."""
    for frame in before_part.seams:
        earlier = before.side(frame - 1 - before_part.origin)
        later_index = frame - after_part.origin
        later = after.side(later_index)
        free = earlier.payload + earlier.main_data_begin - earlier.main_data
        if free >= later.main_data_begin and _windows_meet(earlier, later):
            return Seam(frame, after.payload_tail(later_index, later.main_data_begin))
    raise SpliceError(f"no seam between frames {before_part.seams.start} and "
                      f"{before_part.seams.stop}")  # fmt: skip


def _windows_meet(earlier: Side, later: Side) -> bool:
    short_next = [block in (1, 2) for block in earlier.last_blocks]
    short_now = [block in (2, 3) for block in later.first_blocks]
    return short_next == short_now


# --- the joined file ---------------------------------------------------------------------


def join(paths: Sequence[Path], parts: Sequence[Part], length: int, into: IO[bytes]) -> None:
    """Write the parts' streams (files an encoder wrote, the first with its Info frame) as one
    MP3 stream into ``into``; SpliceError when they cannot be joined."""
    with ExitStack() as stack:
        files = [_File(stack.enter_context(path.open("rb"))) for path in paths]
        streams = [Stream(file, index == 0) for index, file in enumerate(files)]
        seams = [
            find_seam(streams[k], parts[k], streams[k + 1], parts[k + 1])
            for k in range(len(parts) - 1)
        ]
        _write(streams, parts, seams, length, into)


def _write(
    streams: Sequence[Stream], parts: Sequence[Part], seams: Sequence[Seam], length: int,
    into: IO[bytes],
) -> None:  # fmt: skip
    first = streams[0]
    info = bytearray(first.data[first.info : first.offsets[0]])
    into.write(info)  # counted again below, once the frames are written
    written = _Written(len(info))
    starts = [0, *(seam.frame for seam in seams)]
    ends = [*(seam.frame for seam in seams), parts[-1].origin + streams[-1].frames]
    for index, (stream, part) in enumerate(zip(streams, parts, strict=True)):
        reservoir = seams[index].reservoir if index < len(seams) else b""
        frames = range(starts[index] - part.origin, ends[index] - part.origin)
        for chunk in _frames_bytes(stream, frames, reservoir):
            written.add(into, chunk)
        written.mark_frames(stream, frames)
    frames_total = ends[-1]
    padding = frames_total * SAMPLES_PER_FRAME - _delay(info) - length
    _finish_info(info, frames_total, written, padding)
    into.seek(0)
    into.write(info)
    into.seek(0, 2)


def _frames_bytes(stream: Stream, frames: range, reservoir: bytes) -> Iterator[bytes]:
    """The bytes of the frames, the last len(reservoir) bytes of their main data replaced."""
    start, end = stream.offsets[frames.start], stream.offsets[frames.stop]
    tail = _patched_tail(stream, frames, reservoir)
    plain_end = end - len(tail)
    for at in range(start, plain_end, CHUNK):
        yield bytes(stream.data[at : min(at + CHUNK, plain_end)])
    yield bytes(tail)


def _patched_tail(stream: Stream, frames: range, reservoir: bytes) -> bytearray:
    """The frames the reservoir bytes land in, with them in place (nothing for no reservoir)."""
    if not reservoir:
        return bytearray()
    first = frames.stop - 1
    covered = 0
    while True:
        start, end = stream.offsets[first], stream.offsets[first + 1]
        covered += end - start - _header_and_side(stream.data, start)
        if covered >= len(reservoir) or first == frames.start:
            break
        first -= 1
    tail = bytearray(stream.data[stream.offsets[first] : stream.offsets[frames.stop]])
    left = len(reservoir)
    for frame in range(frames.stop - 1, first - 1, -1):  # from the last frame backwards
        end = stream.offsets[frame + 1] - stream.offsets[first]
        payload = end - (stream.offsets[frame] - stream.offsets[first])
        payload -= _header_and_side(stream.data, stream.offsets[frame])
        take = min(left, payload)
        tail[end - take : end] = reservoir[left - take : left]
        left -= take
        if not left:
            break
    return tail


class _Written:
    """Bytes written so far, their CRC, and where each frame of the joined stream starts."""

    def __init__(self, info_bytes: int) -> None:
        self.size = info_bytes
        self.crc = 0
        self.frame_starts = array("q")

    def add(self, into: IO[bytes], chunk: bytes) -> None:
        into.write(chunk)
        self.size += len(chunk)
        self.crc = crc16(chunk, self.crc)

    def mark_frames(self, stream: Stream, frames: range) -> None:
        """The kept frames' offsets in the joined file (for the table of contents)."""
        base = self.size - (stream.offsets[frames.stop] - stream.offsets[frames.start])
        shift = base - stream.offsets[frames.start]
        self.frame_starts.extend(stream.offsets[frame] + shift for frame in frames)


def _delay(info: bytearray) -> int:
    at = _tag_at(info)
    return int.from_bytes(info[at + 141 : at + 144], "big") >> 12


def _tag_at(info: bytearray) -> int:
    channels = 1 if info[3] >> 6 & 3 == _MONO else 2
    at = _TAG_OFFSET[channels]
    if bytes(info[at : at + 4]) not in (b"Info", b"Xing"):
        raise SpliceError("the first part has no Info frame")
    return at


def _finish_info(info: bytearray, frames: int, written: _Written, padding: int) -> None:
    """The Info frame's counts, table of contents, padding and CRCs, as ffmpeg's muxer writes
    them (libavformat/mp3enc.c, mp3_update_xing), for the joined stream."""
    if not 0 <= padding < 1 << 12:
        raise SpliceError(f"the joined stream's end padding ({padding} samples) does not fit")
    at = _tag_at(info)
    delay = _delay(info)
    info[at + 8 : at + 12] = frames.to_bytes(4, "big")
    info[at + 12 : at + 16] = written.size.to_bytes(4, "big")
    info[at + 16 : at + 116] = _table_of_contents(written.frame_starts, written.size)
    info[at + 141 : at + 144] = (delay << 12 | padding).to_bytes(3, "big")
    info[at + 148 : at + 152] = written.size.to_bytes(4, "big")  # the music length
    info[at + 152 : at + 154] = written.crc.to_bytes(2, "big")  # the music CRC
    info[at + 154 : at + 156] = bytes(2)
    info[at + 154 : at + 156] = crc16(bytes(info[:_CRC_SPAN])).to_bytes(2, "big")


def _table_of_contents(frame_starts: Sequence[int], size: int) -> bytes:
    """Xing's seek table: for each percent of the frames, where it starts, as 256ths of the
    file."""
    entries = [0]
    for percent in range(1, 100):
        start = frame_starts[percent * len(frame_starts) // 100]
        entries.append(min(256 * start // size, 255))
    return bytes(entries)


# --- CRC-16 ------------------------------------------------------------------------------


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _bit in range(8):
        table = np.where(table & 1, table >> 1 ^ 0xA001, table >> 1)
    return table.astype(np.uint16)


_TABLE = _crc_table()  # CRC-16/ARC (the LAME tag's CRCs): reflected polynomial 0x8005
# Rows checksummed side by side, then combined (see crc16): the most rows first (4 MB in 0.02 s
# with 65536, 0.04 s with 4096: measured), then what is left over in fewer.
_LANES = (65536, 256)


def crc16(data: bytes, crc: int = 0) -> int:
    """CRC-16/ARC of data, from the state crc: the LAME tag's music and tag CRCs.

    A byte at a time in Python would take seconds for an hour's MP3 (43 MB). The CRC is linear:
    the state after X then Y is the state after X carried through len(Y) zero bytes, xor Y's
    CRC from zero. So the data is cut into _LANES runs checksummed side by side in numpy, and
    their CRCs are combined.
    """
    done = 0
    for rows in _LANES:
        whole = (len(data) - done) // rows * rows
        if whole:
            lanes = np.frombuffer(data, np.uint8, count=whole, offset=done).reshape(rows, -1)
            crc = _carried(crc, whole) ^ _combined(_side_by_side(lanes), lanes.shape[1])
            done += whole
    for byte in data[done:]:
        crc = crc >> 8 ^ int(_TABLE[(crc ^ byte) & 0xFF])
    return crc


def _side_by_side(lanes: np.ndarray) -> np.ndarray:
    """Each row's CRC from zero."""
    state = np.zeros(lanes.shape[0], dtype=np.uint16)
    for column in np.ascontiguousarray(lanes.T):
        state = state >> 8 ^ _TABLE[(state ^ column) & 0xFF]
    return state


def _combined(crcs: np.ndarray, width: int) -> int:
    """The CRC of the rows one after another, from each row's CRC (rows width bytes long)."""
    while crcs.size > 1:
        carry = _carry(width)
        crcs = _apply(carry, crcs[0::2]) ^ crcs[1::2]
        width *= 2
    return int(crcs[0])


def _carried(crc: int, zeros: int) -> int:
    """The state crc carried through so many zero bytes."""
    return int(_apply(_carry(zeros), np.array([crc], dtype=np.uint16))[0]) if crc else 0


def _carry(zeros: int) -> np.ndarray:
    """The linear map of zero bytes on the state, as the images of its 16 bits."""
    result = np.left_shift(1, np.arange(16)).astype(np.uint16)  # no bytes: each bit itself
    power: np.ndarray = result  # then the map of 1, 2, 4, … zero bytes, by squaring
    for _bit in range(8):  # one zero byte: eight steps of the reflected polynomial
        power = (power >> 1 ^ np.where(power & 1, 0xA001, 0)).astype(np.uint16)
    while zeros:
        if zeros & 1:
            result = _apply(power, result)
        power = _apply(power, power)
        zeros >>= 1
    return result


def _apply(images: np.ndarray, states: np.ndarray) -> np.ndarray:
    """A linear map (the images of the 16 bits) applied to each state."""
    bits = (states[:, np.newaxis] >> np.arange(16, dtype=np.uint16)) & 1
    mapped: np.ndarray = np.bitwise_xor.reduce(bits * images, axis=1)
    return mapped.astype(np.uint16)
