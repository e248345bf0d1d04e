"""Ambience beds under long silences: synthesised loops, a user's own file, ducking and fades.

Four beds are made here, nothing is downloaded or shipped: ``brown`` and ``pink`` noise, an
``ocean`` of slow irregular swells and a soft ``drone`` chord. Each is one loop of a fixed length,
made from a fixed seed, at BED_LUFS, and built once per process.

The built-in loops are seamless by construction: every component is periodic in the loop's length.
Noise is white noise filtered in the frequency domain (one inverse FFT), so the filter wraps around
and the loop is exactly one period of a stationary noise; the drone's partials sit on the same
FFT bins; the ocean's swells are a periodic envelope. Looping end to start is then no different
from any other point: no click, no level or spectrum jump. (A crossfaded tail only matches the
head on average, and over a tonal sound an equal-power crossfade bumps the level by up to 3 dB.)
A user's file cannot be made periodic, so its tail is crossfaded into its head instead, aligned
and weighted by how alike the two are (``seamless``).

The mixer asks for a bed block by block (``bed_block``, ``looped``), and for the gain curves of a
block (``duck_gain``, ``fade_gain``): all are functions of the absolute sample index, so blocks
made separately join exactly and a long session is never held whole.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from generator.base.samples import SAMPLE_RATE, SILENCE_DB, Samples, db_to_gain
from generator.errors import StillpointError
from generator.files.soundfiles import AMBIENCE, READABLE, Role, SoundFileError, read_sound
from generator.recipes.settings import LEVEL_DEFAULTS
from generator.sound.balance import against_voice, loudness_gain
from generator.sound.loudness import limit

BEDS = ("brown", "pink", "ocean", "drone")
# Beds are levelled by loudness as ears hear it (BS.1770, K-weighted), not by RMS: at equal RMS
# brown noise sounds 4.6 dB quieter than pink (-33.8 against -29.2 LUFS), its energy sitting low.
# A bed is made at its default level, 18 LU under the voice (ambience_level; balance.py): heard
# through long silences, never competing with words. That also keeps a bed alone under the
# loudness meter's relative gate, so a session's integrated loudness is its voice's. The level
# the listener sets scales it from here (sources.ambience_used).
BED_LUFS = against_voice(LEVEL_DEFAULTS["ambience_level"])
# Music of the listener's own under a window (the free dance) is the point of that window: it
# sits nearer the voice (music_level, 8 LU under it by default), and dips under words.
MUSIC_LUFS = against_voice(LEVEL_DEFAULTS["music_level"])
# A bed's peaks stay this far over its loudness so that, under words and after the session is
# brought to its loudness target, they leave the words room under the true-peak ceiling: a
# built-in bed's few higher crests (the ocean's) are limited; a user's file is turned down.
PEAK_OVER_LOUDNESS_DB = 20.0
BED_PEAK_LIMIT_DB = BED_LUFS + PEAK_OVER_LOUDNESS_DB
LOOP_SECONDS = 60  # long enough that noise and swells are not heard to repeat
# A loop's peaks are limited in pieces, each seen with this much of the loop either side: the
# limiter's look-ahead (5 ms) and its release to nothing (80 ms time constant: 0.6 s from the
# ocean's deepest reduction, 1.3 dB), twice over for its second pass, with room to spare.
LIMIT_PIECE_SECONDS = 5
LIMIT_CONTEXT_SECONDS = 2.0

CROSSFADE_SECONDS = 2.0  # a user's file: its tail fades into its head over this
ALIGN_SECONDS = 0.025  # ...after moving the loop point up to this, to match a 40 Hz period
MIN_FILE_SECONDS = 1.0

Floats = npt.NDArray[np.float64]
Real = npt.NDArray[np.floating[Any]]  # either precision


class BedError(StillpointError):
    """An ambience bed is unknown, or a sound file given as a bed cannot be used."""


# --- the built-in beds ---------------------------------------------------------------------


def _highpass(freqs: Real, cutoff: float, order: int) -> Real:
    """Butterworth magnitude response: flat above the cutoff, order x 6 dB/octave below."""
    response: Real = 1 / np.sqrt(1 + (cutoff / freqs) ** (2 * order))
    return response


def _lowpass(freqs: Real, cutoff: float, order: int) -> Real:
    response: Real = 1 / np.sqrt(1 + (freqs / cutoff) ** (2 * order))
    return response


def _noise(size: int, rng: np.random.Generator, magnitude: Callable[[Real], Real]) -> Samples:
    """White Gaussian noise filtered by ``magnitude(Hz)`` circularly: periodic in ``size``.

    In single precision, as it is heard: the inverse FFT is then about three times as fast.
    """
    freqs = np.fft.rfftfreq(size, d=1 / SAMPLE_RATE).astype(np.float32)
    gains = np.zeros(freqs.size, dtype=np.float32)
    gains[1:] = magnitude(freqs[1:])  # nothing at DC
    white = rng.standard_normal(2 * freqs.size, dtype=np.float32).view(np.complex64)
    return np.fft.irfft(white * gains, n=size).astype(np.float32, copy=False)


def _brown(size: int, rng: np.random.Generator) -> Samples:
    # power falls 6 dB/octave; 4th order at 25 Hz so no rumble eats the level or the headroom
    return _noise(size, rng, lambda f: _highpass(f, 25.0, 4) / f)


def _pink(size: int, rng: np.random.Generator) -> Samples:
    return _noise(size, rng, lambda f: _highpass(f, 20.0, 4) / np.sqrt(f))


# The ocean: the waves' envelope at a control rate, drawn out to the audio rate in straight lines.
CONTROL_RATE = 100  # divides SAMPLE_RATE
WAVE_INTERVAL = (6.0, 12.0)  # seconds between wave crests, drawn at random
WAVE_RISE = (2.0, 4.0)  # seconds a wave takes to build to its crest
WAVE_SHAPE = 3.0  # gamma-like wave: smooth rise, a wash about twice as long as the rise
SWELL_DB = 18.0  # crest to trough, before overlapping waves fill the troughs in
FOAM_DB = -9.0  # the bright hiss at a crest, against the roar


def _swells(seconds: int, rng: np.random.Generator) -> Floats:
    """The waves' envelope (0..1, crests near 1) at CONTROL_RATE, periodic in ``seconds``."""
    count = max(1, round(seconds / np.mean(WAVE_INTERVAL)))
    gaps = rng.uniform(*WAVE_INTERVAL, count)
    onsets = np.cumsum(gaps * seconds / gaps.sum()) - gaps[0] * rng.uniform()
    rises = rng.uniform(*WAVE_RISE, count)
    sizes = rng.uniform(0.55, 1.0, count)
    times = np.arange(seconds * CONTROL_RATE) / CONTROL_RATE
    # each wave's time since its onset, around the loop: the last waves' wash carries over the seam
    since = np.mod(times[np.newaxis, :] - onsets[:, np.newaxis], seconds) / rises[:, np.newaxis]
    waves = sizes[:, np.newaxis] * (since * np.exp(1 - since)) ** WAVE_SHAPE
    envelope: Floats = waves.sum(axis=0)
    return envelope / float(envelope.max())


def _ocean(size: int, rng: np.random.Generator) -> Samples:
    """Surf: a dark roar swelling with each wave, and foam hiss brightening its crest."""
    swell = _swells(size // SAMPLE_RATE, rng)
    roar = _noise(size, rng, lambda f: _highpass(f, 40.0, 2) * _lowpass(f, 1500.0, 2) / f**0.8)
    foam = _noise(size, rng, lambda f: _highpass(f, 1200.0, 2) * _lowpass(f, 9000.0, 2) / f**0.5)
    roar *= _upsampled(10 ** (SWELL_DB * (swell - 1) / 20)) / np.sqrt(np.mean(roar**2))
    foam *= _upsampled(db_to_gain(FOAM_DB) * swell**3) / np.sqrt(np.mean(foam**2))
    return roar + foam


def _upsampled(control: Floats) -> Floats:
    """A periodic CONTROL_RATE curve at the audio rate, joined by straight lines."""
    step = SAMPLE_RATE // CONTROL_RATE
    following = np.roll(control, -1)  # the last point leads back to the first: the loop
    fraction = np.arange(step) / step
    lines = control[:, np.newaxis] + (following - control)[:, np.newaxis] * fraction
    return lines.reshape(-1)


@dataclass(frozen=True)
class _Voice:
    """A note of the drone: two sines ``beat`` Hz apart, swaying in level ``sway`` times a loop."""

    hz: float
    level_db: float
    beat: float
    sway: int


# G major in just intonation, open and low (G2 D3 G3 B3 D4): warm, and in tune with the breath
# tones (G3, D4). Beats of at most 0.3 Hz are a slow shimmer, not a wobble.
DRONE_VOICES = (
    _Voice(98.0, 0.0, 0.12, 2),
    _Voice(147.0, -4.0, 0.18, 3),
    _Voice(196.0, -8.0, 0.22, 1),
    _Voice(245.0, -16.0, 0.30, 4),
    _Voice(294.0, -13.0, 0.26, 5),
)
SWAY_DEPTH = 0.4  # each voice's level moves by about +-3.5 dB, on its own slow cycle
PARTNER = 0.5  # the second, detuned sine is softer: the note shimmers rather than vanishing


def _drone(size: int, rng: np.random.Generator) -> Samples:
    """The chord built on FFT bins of the loop: every partial and sway is exactly periodic."""
    seconds = size / SAMPLE_RATE
    spectrum = np.zeros(size // 2 + 1, dtype=np.complex64)  # single precision, as for noise

    def add(hz: float, amplitude: float, phase: float, sway: int, sway_phase: float) -> None:
        k = round(hz * seconds)
        scale = amplitude * size / 2  # irfft's scale: a cosine of this amplitude
        spectrum[k] += scale * np.exp(1j * phase)
        for sign in (1, -1):  # its level times 1 + m cos(sway): two sidebands of m/2
            turn = phase + sign * sway_phase
            spectrum[k + sign * sway] += scale * SWAY_DEPTH / 2 * np.exp(1j * turn)

    for voice in DRONE_VOICES:
        sway_phase = rng.uniform(0, 2 * np.pi)
        for side, share in ((-0.5, 1.0), (0.5, PARTNER)):
            hz, amplitude = voice.hz + side * voice.beat, share * db_to_gain(voice.level_db)
            add(hz, amplitude, rng.uniform(0, 2 * np.pi), voice.sway, sway_phase)
    return np.fft.irfft(spectrum, n=size).astype(np.float32, copy=False)


@dataclass(frozen=True)
class _Bed:
    make: Callable[[int, np.random.Generator], Floats | Samples]
    seed: int


_BEDS = {
    "brown": _Bed(_brown, 1),
    "pink": _Bed(_pink, 2),
    "ocean": _Bed(_ocean, 3),
    "drone": _Bed(_drone, 4),
}


def _rms(samples: Floats | Samples) -> float:
    # squares at the samples' precision, summed in float64: no second copy of a long file
    return math.sqrt(float(np.mean(np.square(samples), dtype=np.float64)))


def _level_gain(
    samples: Floats | Samples, peak_limit_db: float = 0.0, level_lufs: float = BED_LUFS
) -> float:
    """The gain that brings the sound to level_lufs, or less to keep under the peak limit."""
    return loudness_gain(np.asarray(samples, dtype=np.float32), level_lufs, peak_limit_db)


def _at_level(samples: Floats | Samples) -> Samples:
    levelled = (samples * _level_gain(samples)).astype(np.float32)
    levelled.flags.writeable = False
    return levelled


def synthesise(name: str) -> Samples:
    """A built-in bed's loop, made afresh: LOOP_SECONDS, from the bed's own seed."""
    bed = _BEDS.get(name)
    if bed is None:
        raise BedError(
            f"unknown ambience bed {name!r}",
            fix=f"Beds: {', '.join(BEDS)}, or the path of a sound file.",
        )
    loop = _at_level(bed.make(LOOP_SECONDS * SAMPLE_RATE, np.random.default_rng(bed.seed)))
    return _peaks_limited(loop)


def _peaks_limited(loop: Samples) -> Samples:
    """The loop with its true peak under BED_PEAK_LIMIT_DB, still seamless (the loop itself
    when no peak passes).

    The limiter sees the loop as it will be heard, around and around: it is limited in pieces of
    LIMIT_PIECE_SECONDS, each with LIMIT_CONTEXT_SECONDS of the loop on either side (wrapping
    around its ends), and only the piece kept. A sample's gain depends only on what lies within
    the limiter's look-ahead and release of it, so this is the loop limited as one of endless
    copies, with the limiter's working memory that of a piece, not of the loop (its oversampled
    envelope and float64 gain curves come to some 70 bytes a sample: 560 MB for three loops).
    """
    size = loop.size
    piece = LIMIT_PIECE_SECONDS * SAMPLE_RATE
    context = min(round(LIMIT_CONTEXT_SECONDS * SAMPLE_RATE), size)
    limited: Samples | None = None  # made when a first piece changes
    for start in range(0, size, piece):
        end = min(start + piece, size)
        around = np.take(loop, np.arange(start - context, end + context) % size)
        kept = limit(around, BED_PEAK_LIMIT_DB)
        if kept is around:  # under the ceiling: the same array back
            continue
        if limited is None:
            limited = loop.copy()
        limited[start:end] = kept[context : context + end - start]
    if limited is None:
        return loop
    limited.flags.writeable = False
    return limited


@functools.cache
def bed_loop(name: str) -> Samples:
    """A built-in bed's loop, made once per process (about 10 MB each)."""
    return synthesise(name)


def bed_block(name: str, start: int, length: int) -> Samples:
    """Samples [start, start + length) of the built-in bed looped forever from sample 0."""
    return looped(bed_loop(name), start, length)


def looped(loop: Samples, start: int, length: int) -> Samples:
    """Samples [start, start + length) of ``loop`` repeated forever from sample 0 (read-only)."""
    if loop.size == 0:
        raise ValueError("cannot loop an empty sound")
    if start < 0 or length < 0:
        raise ValueError("a block cannot start or last less than 0 samples")
    first = start % loop.size
    pieces = [loop[first : first + length]]
    taken = pieces[0].size
    while taken < length:  # whole turns of the loop, then what is left of one
        pieces.append(loop[: length - taken])
        taken += pieces[-1].size
    block = np.concatenate(pieces) if len(pieces) > 1 else pieces[0].copy()
    block.flags.writeable = False
    return block


# --- a user's file as a bed ----------------------------------------------------------------


def load_bed(
    path: Path, level_lufs: float = BED_LUFS, role: Role = AMBIENCE, seconds: float | None = None
) -> Samples:
    """Any sound file ffmpeg reads, as a seamless mono loop at the bed level.

    Only the first ``seconds`` (what the session can use; at most ``role.max_seconds``) are
    read: a longer bed would only be heard to the session's end. The level is the built-ins' RMS
    unless the file's peaks would then pass BED_PEAK_LIMIT_DB, so music and noise beds sit alike
    under the voice.
    """
    fix = f"Use {READABLE} at least a second long."
    try:
        samples = read_sound(path, role, seconds=seconds)
    except SoundFileError as error:
        raise BedError(error.what, fix=error.fix) from None
    if samples.size < MIN_FILE_SECONDS * SAMPLE_RATE:
        raise BedError(f"{path} is shorter than {MIN_FILE_SECONDS:g} s", fix=fix)
    rms = _rms(samples)
    if not math.isfinite(rms) or rms < db_to_gain(SILENCE_DB):
        raise BedError(f"{path} is silent", fix=fix)
    crossfade = min(round(CROSSFADE_SECONDS * SAMPLE_RATE), samples.size // 4)
    loop = seamless(samples, crossfade)
    del samples  # the decoded file: only the loop is kept
    peak_limit = level_lufs + PEAK_OVER_LOUDNESS_DB
    loop *= _level_gain(loop, peak_limit, level_lufs)  # in place: a long file is not copied again
    loop.flags.writeable = False
    return loop


def seamless(samples: Samples, crossfade: int, align: int | None = None) -> Samples:
    """The sound as a loop whose end runs into its start without a click or a level jump.

    A new array. The last ``crossfade`` samples fade into the first ones (so many fewer). The
    loop point first moves back by up to ``align`` samples to where the tail is most like the head
    (a tonal sound then meets itself in phase); the fade's law follows their correlation: equal
    power for unrelated sounds, equal gain for alike ones, so the level holds either way.
    """
    if crossfade <= 0:
        return samples.copy()
    if align is None:
        align = round(ALIGN_SECONDS * SAMPLE_RATE)
    align = max(0, min(align, samples.size - 2 * crossfade))
    head = samples[:crossfade].astype(np.float64)
    shift, likeness = _best_lag(head, samples[samples.size - crossfade - align :])
    end = samples.size - shift
    tail = samples[end - crossfade : end].astype(np.float64)
    fade_in = np.sin(0.5 * np.pi * (np.arange(crossfade) + 0.5) / crossfade)
    # fade_in² + fade_out² + 2 rho fade_in fade_out = 1: the sum keeps the level of either part
    rho = min(max(likeness, 0.0), 1.0)
    fade_out = np.sqrt(1 - fade_in**2 * (1 - rho**2)) - rho * fade_in
    loop = samples[: end - crossfade].copy()
    loop[:crossfade] = head * fade_in + tail * fade_out
    return loop


def _best_lag(head: Floats, region: Samples) -> tuple[int, float]:
    """How far from the end of ``region`` a stretch most like ``head`` ends, and how alike.

    Normalised cross-correlation over every lag at once, through the FFT.
    """
    lags = region.size - head.size + 1
    size = 1 << (region.size + head.size).bit_length()
    correlation = np.fft.irfft(np.fft.rfft(region, size) * np.conj(np.fft.rfft(head, size)), size)
    energy = np.cumsum(np.concatenate([[0.0], np.square(region, dtype=np.float64)]))
    window_energy = energy[head.size : head.size + lags] - energy[:lags]
    denominator = np.sqrt(window_energy * float(np.sum(head**2)))
    likeness = np.divide(
        correlation[:lags], denominator, out=np.zeros(lags), where=denominator > 1e-12
    )
    best = int(np.argmax(likeness))
    return lags - 1 - best, float(likeness[best])


# --- gain curves for a block of the session --------------------------------------------------


def _rise(x: Floats) -> Floats:
    """Raised cosine from 0 (x <= 0) to 1 (x >= 1): no step, and no kink at either end."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def _as_gain(values: Floats) -> Samples:
    gain = values.astype(np.float32)
    gain.flags.writeable = False
    return gain


def duck_gain(
    length: int,
    speech: Sequence[tuple[int, int]],
    depth_db: float,
    attack: float,
    release: float,
    start: int = 0,
    *,
    rate: int = SAMPLE_RATE,
) -> Samples:
    """The bed's gain for session samples [start, start + length): lowered under speech.

    1.0 away from speech; ``-depth_db`` while any speech interval [begin, end) plays; moving in
    dB along a raised cosine over ``attack`` seconds before each onset and ``release`` seconds
    after each end. Where ramps overlap, the deeper one wins, so nearby lines merge into one dip.
    """
    if depth_db < 0 or attack < 0 or release < 0:
        raise ValueError("ducking depth, attack and release cannot be negative")
    down, up = round(attack * rate), round(release * rate)
    stop = start + length
    duck = np.zeros(max(length, 0))
    spans = np.asarray(speech, dtype=np.int64).reshape(-1, 2)
    near = (spans[:, 0] < spans[:, 1]) & (spans[:, 0] - down < stop) & (spans[:, 1] + up > start)
    for begin, end in spans[near].tolist():  # only the lines whose ramps reach this block
        _duck_line(duck, start, begin, end, down, up)
    return _as_gain(_decibels_down(duck, depth_db))


def _duck_line(duck: Floats, start: int, begin: int, end: int, down: int, up: int) -> None:
    """Raise ``duck`` (samples from ``start``; 0: none, 1: full depth) to one line's dip: the
    ramps worked out where they move, 1 between them (what the rises give there, exactly). An
    hour's ramps on every sample of every line took 12 of a 35 s render over a bed (py-spy)."""
    first, last = max(begin - down, start), min(end + up, start + duck.size)
    flat_from, flat_to = min(max(begin, first), last), min(max(end, first), last)
    for ramp_start, ramp_end in ((first, flat_from), (flat_to, last)):
        if ramp_start < ramp_end:
            at = np.arange(ramp_start, ramp_end, dtype=np.float64)  # absolute: blocks agree
            amount = np.ones(at.size)
            if down:
                amount = np.minimum(amount, _rise((at - (begin - down)) / down))
            if up:
                amount = np.minimum(amount, _rise((end + up - at) / up))
            span = duck[ramp_start - start : ramp_end - start]
            np.maximum(span, amount, out=span)
    duck[flat_from - start : flat_to - start] = 1.0  # both rises are 1 here: the full depth


def _decibels_down(duck: Floats, depth_db: float) -> Floats:
    """10 ** (-depth_db * duck / 20), worked out only where the duck is partial (1 and the
    full depth's gain elsewhere, the very values the power gives)."""
    gain = np.ones(duck.size)
    full = duck == 1.0
    gain[full] = 10 ** (-depth_db * np.ones(1) / 20)[0]
    partial = np.flatnonzero((duck != 0.0) & ~full)
    gain[partial] = 10 ** (-depth_db * duck[partial] / 20)
    return gain


def fade_gain(
    length: int,
    total: int,
    fade_in: float,
    fade_out: float,
    start: int = 0,
    *,
    rate: int = SAMPLE_RATE,
) -> Samples:
    """The session's fade for samples [start, start + length) of its ``total``.

    A raised cosine from 0 at sample 0 over ``fade_in`` seconds, and down to 0 at ``total`` over
    ``fade_out`` seconds (0 beyond it); both multiply when a short session overlaps them.
    """
    if fade_in < 0 or fade_out < 0:
        raise ValueError("fades cannot last less than 0 s")
    stop = start + max(length, 0)
    gain = np.zeros(stop - start)
    gain[: max(0, min(total, stop) - start)] = 1.0
    rising, falling = fade_in * rate, fade_out * rate
    # each rise worked out only where it moves (1 past it, 0 before: what it gives there)
    if rising > 0:
        _fade(gain, start, 0, math.ceil(rising), lambda at: _rise(at / rising))
    if falling > 0:
        falls = math.floor(total - falling)
        _fade(gain, start, falls, total, lambda at: _rise((total - at) / falling))
    return _as_gain(gain)


def _fade(
    gain: Floats, start: int, first: int, last: int, rise: Callable[[Floats], Floats]
) -> None:
    """Multiply the gain (samples from ``start``) by ``rise`` over samples [first, last)."""
    first, last = max(first, start), min(last, start + gain.size)
    if first < last:
        gain[first - start : last - start] *= rise(np.arange(first, last, dtype=np.float64))
