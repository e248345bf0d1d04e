"""Stage 6: the timeline's audio, mixed block by block into preallocated buffers.

Each clip is added at its sample offset, so the work is linear in the session's length; blocks
stream to the encoder, so memory does not grow with it. (Repeated pydub ``+``/``overlay`` over the
growing whole would copy it every time: quadratic.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from generator.ambience import duck_gain, fade_gain, looped
from generator.audio import Samples, db_to_gain
from generator.timeline import Event, Timeline

BLOCK_SECONDS = 10
PEAK_CEILING_DB = -1.0  # no sample of the mix goes above this
# Music under a window (already at the bed level, well below the voice): it fades in and out
# at the window's edges and dips further while words are spoken over it, so they stay clear.
MUSIC_FADE = (2.0, 3.0)  # seconds in, out
MUSIC_DUCK_DB = 8.0
DUCK_ATTACK, DUCK_RELEASE = 0.3, 0.8  # seconds: down before the first word, up after the last
LOOPED_KINDS = ("music",)  # sounds that repeat for as long as their event lasts


def mix_gain(timeline: Timeline, audio: Mapping[str, Samples]) -> float:
    """One gain for the whole mix that keeps its peak under the ceiling (never a boost).

    Measured on a first mixing pass rather than bounded from the clips, so sounds that overlap
    are counted as they really add up; mixing is cheap next to encoding.
    """
    loudest = max(
        (float(np.max(np.abs(block))) for block in mix_blocks(timeline, audio)), default=0.0
    )
    ceiling = db_to_gain(PEAK_CEILING_DB)
    return min(1.0, ceiling / loudest) if loudest > 0 else 1.0


def mix_blocks(
    timeline: Timeline, audio: Mapping[str, Samples], gain: float = 1.0
) -> Iterator[Samples]:
    """The session as consecutive read-only blocks covering its whole length.

    Mono blocks are 1-D; a stereo timeline gives (samples, 2) blocks, interleaved when flattened.
    """
    rate = timeline.sample_rate
    block = BLOCK_SECONDS * rate
    sounding = sorted((e for e in timeline.events if e.clip), key=lambda e: e.start)
    speech = [(e.start, e.end) for e in timeline.events if e.kind == "speech"]
    upcoming = 0
    active: list[Event] = []
    for first in range(0, timeline.length, block):
        last = min(first + block, timeline.length)
        while upcoming < len(sounding) and sounding[upcoming].start < last:
            active.append(sounding[upcoming])
            upcoming += 1
        active = [event for event in active if event.end > first]
        shape = (last - first, timeline.channels) if timeline.channels > 1 else (last - first,)
        buffer = np.zeros(shape, dtype=np.float32)
        for event in active:
            if event.kind in LOOPED_KINDS:
                _add_looped(buffer, (first, last), event, audio[event.clip], speech, rate)
            else:
                _add(buffer, first, last, event, audio[event.clip])
        if gain != 1.0:
            buffer *= gain
        buffer.flags.writeable = False
        yield buffer


def _add(buffer: np.ndarray, first: int, last: int, event: Event, clip: Samples) -> None:
    start = max(first, event.start)
    end = min(last, event.end, event.start + clip.size)
    if end <= start:
        return
    part = clip[start - event.start : end - event.start]
    if buffer.ndim == 1:
        buffer[start - first : end - first] += part
    else:
        buffer[start - first : end - first] += part[:, np.newaxis] * pan_gains(event.pan)


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
    start, end = max(first, event.start), min(last, event.end)
    if end <= start:
        return
    offset, size = start - event.start, end - start
    sound = looped(loop, offset, size)
    gain = fade_gain(size, event.end - event.start, *MUSIC_FADE, start=offset, rate=rate)
    ducking = (MUSIC_DUCK_DB, DUCK_ATTACK, DUCK_RELEASE)
    ducked = duck_gain(size, speech, *ducking, start=start, rate=rate)
    part = sound * gain * ducked
    if buffer.ndim == 1:
        buffer[start - first : end - first] += part
    else:
        buffer[start - first : end - first] += part[:, np.newaxis] * pan_gains(event.pan)


def pan_gains(pan: float) -> np.ndarray:
    """Left and right gains for a mono sound: the far side fades, the near side stays at 1.

    A balance law rather than constant power: centred sounds are exactly as loud as in mono,
    and panning never boosts a channel, so it cannot clip.
    """
    return np.array([min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)], dtype=np.float32)
