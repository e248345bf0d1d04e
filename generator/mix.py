"""Stage 6: the timeline's audio, mixed block by block into preallocated buffers.

Each clip is added at its sample offset, so the work is linear in the session's length; blocks
stream to the encoder, so memory does not grow with it. (Repeated pydub ``+``/``overlay`` over the
growing whole would copy it every time: quadratic.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from generator.audio import Samples, db_to_gain
from generator.timeline import Event, Timeline

BLOCK_SECONDS = 10
PEAK_CEILING_DB = -1.0  # no sample of the mix goes above this


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
    block = BLOCK_SECONDS * timeline.sample_rate
    sounding = sorted((e for e in timeline.events if e.clip), key=lambda e: e.start)
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


def pan_gains(pan: float) -> np.ndarray:
    """Left and right gains for a mono sound: the far side fades, the near side stays at 1.

    A balance law rather than constant power: centred sounds are exactly as loud as in mono,
    and panning never boosts a channel, so it cannot clip.
    """
    return np.array([min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)], dtype=np.float32)
