"""Stage 6: the timeline's audio, mixed block by block into preallocated buffers.

Each clip is added at its sample offset, so the work is linear in the session's length; blocks
stream to the encoder, so memory does not grow with it. (Repeated pydub ``+``/``overlay`` over the
growing whole would copy it every time: quadratic.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from generator.base.samples import Samples
from generator.sound.ambience import duck_gain, fade_gain, looped
from generator.timeline.events import Event, Timeline

BLOCK_SECONDS = 10
LOOP_PIECE = 1 << 15  # samples of a loop (0.74 s) whose gains are worked out at once: ~2 MB
SESSION_FADE = (0.5, 1.5)  # seconds: the file's own ends, inside its lead-in and tail silences


@dataclass(frozen=True)
class Loop:
    """How a looped sound plays under its event: faded at its edges, dipped under speech."""

    fade_in: float  # seconds
    fade_out: float
    duck_db: float  # lower by this while words are spoken over it


# Music under a window and ambience beds are already at the bed level, well below the voice; they
# fade in and out at their edges and dip further while words are spoken, so words stay clear.
LOOPS = {"music": Loop(2.0, 3.0, 8.0), "ambience": Loop(4.0, 4.0, 6.0)}
DUCK_ATTACK, DUCK_RELEASE = 0.3, 0.8  # seconds: down before the first word, up after the last


def mix_blocks(
    timeline: Timeline,
    audio: Mapping[str, Samples],
    gain: float = 1.0,
    span: tuple[int, int] | None = None,
) -> Iterator[Samples]:
    """The session as consecutive read-only blocks covering its whole length, or samples
    [first, last) of it: each sample the same whatever the span (``mix_span``), so parts of a
    session can be encoded apart and joined (``files/mp3.py``).

    Mono blocks are 1-D; a stereo timeline gives (samples, 2) blocks, interleaved when flattened.
    """
    rate = timeline.sample_rate
    block = BLOCK_SECONDS * rate
    begin, end = span or (0, timeline.length)
    sounding = sorted((e for e in timeline.events if e.clip), key=lambda e: e.start)
    speech = [(e.start, e.end) for e in timeline.events if e.kind == "speech"]
    upcoming = 0
    active: list[Event] = []
    for first in range(begin, end, block):
        last = min(first + block, end)
        while upcoming < len(sounding) and sounding[upcoming].start < last:
            active.append(sounding[upcoming])
            upcoming += 1
        active = [event for event in active if event.end > first]
        buffer = mix_span(timeline, audio, (first, last), active, speech)
        if gain != 1.0:
            buffer *= gain
        buffer.flags.writeable = False
        yield buffer


@dataclass(frozen=True)
class Mixed:
    """The session's mix as the encoder asks for it: any stretch, in blocks (``mix_blocks``)."""

    timeline: Timeline
    audio: Mapping[str, Samples]
    gain: float = 1.0

    @property
    def length(self) -> int:
        return self.timeline.length

    def blocks(self, first: int, last: int) -> Iterator[Samples]:
        return mix_blocks(self.timeline, self.audio, self.gain, (first, last))


def mix_span(
    timeline: Timeline,
    audio: Mapping[str, Samples],
    span: tuple[int, int],
    events: Sequence[Event],
    speech: Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """The sounds of ``events`` over samples [first, last) of the session, as the file has them
    there (loops ducked under ``speech``, the file's own fades), in a new writable buffer."""
    first, last = span
    rate = timeline.sample_rate
    if speech is None:
        speech = [(e.start, e.end) for e in timeline.events if e.kind == "speech"]
    shape = (last - first, timeline.channels) if timeline.channels > 1 else (last - first,)
    buffer = np.zeros(shape, dtype=np.float32)
    for event in events:
        if event.kind in LOOPS:  # sounds that repeat for as long as their event lasts
            _add_looped(buffer, (first, last), event, audio[event.clip], speech, rate)
        else:
            _add(buffer, first, last, event, audio[event.clip])
    if first < SESSION_FADE[0] * rate or last > timeline.length - SESSION_FADE[1] * rate:
        for start, end in _pieces(first, last):
            fade = fade_gain(end - start, timeline.length, *SESSION_FADE, start=start, rate=rate)
            part = buffer[start - first : end - first]
            part *= fade if buffer.ndim == 1 else fade[:, np.newaxis]
    return buffer


def _pieces(first: int, last: int) -> Iterator[tuple[int, int]]:
    """[first, last) in consecutive pieces of at most LOOP_PIECE samples, for gain curves.

    Worked out whole, a stretch's float64 gain curves came to some 58 bytes a sample (118 MB
    for a 46 s stretch mastering mixed, measured); each curve is a function of the sample's
    index alone, so the pieces give the same samples, bit for bit.
    """
    for start in range(first, last, LOOP_PIECE):
        yield start, min(start + LOOP_PIECE, last)


def _add(buffer: np.ndarray, first: int, last: int, event: Event, clip: Samples) -> None:
    start = max(first, event.start)
    end = min(last, event.end, event.start + clip.size)
    if end <= start:
        return
    _place(buffer, start - first, clip[start - event.start : end - event.start], event.pan)


def _place(buffer: np.ndarray, offset: int, part: Samples, pan: float) -> None:
    """Add a mono sound into the block at offset: as it is, or panned into a stereo block."""
    if buffer.ndim == 1:
        buffer[offset : offset + part.size] += part
    else:
        buffer[offset : offset + part.size] += part[:, np.newaxis] * pan_gains(pan)


def _add_looped(
    buffer: np.ndarray,
    block: tuple[int, int],
    event: Event,
    loop: Samples,
    speech: Sequence[tuple[int, int]],
    rate: int,
) -> None:
    """A loop for the event's whole length, faded at its edges and ducked under speech."""
    first, last = block
    plays = LOOPS[event.kind]
    fades = (plays.fade_in, plays.fade_out)
    ducking = (plays.duck_db, DUCK_ATTACK, DUCK_RELEASE)
    for start, end in _pieces(max(first, event.start), min(last, event.end)):
        offset, size = start - event.start, end - start
        sound = looped(loop, offset, size)
        gain = fade_gain(size, event.end - event.start, *fades, start=offset, rate=rate)
        ducked = duck_gain(size, speech, *ducking, start=start, rate=rate)
        _place(buffer, start - first, sound * gain * ducked, event.pan)


def pan_gains(pan: float) -> np.ndarray:
    """Left and right gains for a mono sound: the far side fades, the near side stays at 1.

    A balance law rather than constant power: centred sounds are exactly as loud as in mono,
    and panning never boosts a channel, so it cannot clip.
    """
    return np.array([min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)], dtype=np.float32)
