"""Loudness as listeners hear it: ITU-R BS.1770-4 / EBU R128 metering and a true-peak limiter.

``LoudnessMeter`` measures a session's integrated loudness (LUFS) and true peak (dBTP) while it
is mixed: the mixer feeds it block by block and only the energy of each 100 ms (one float) is
kept, never the audio. ``true_peak`` measures one clip; ``limit`` keeps a clip's true peak under
a ceiling by turning it down only around its peaks; ``gain_for`` is the gain from a measured
loudness to a target.

K-weighting, the meter's pre-filter, is two biquads (a +4 dB high shelf, then the RLB high-pass).
BS.1770 tabulates them for 48 kHz only; ``k_weighting`` re-derives them for any rate from their
analogue prototypes (the derivation libebur128 uses; at 48 kHz it gives the standard's table).

An IIR filter is a per-sample recurrence, so it is computed here block-wise, exactly (not as an
FIR approximation): the audio is cut into 100 ms chunks (one gating step each). A chunk's output
is its own input's response - a convolution with the first chunk-length taps of the impulse
response, which is all the chunk can reach, done for all chunks at once by FFT - plus the
ringing of everything before it, which is the filter's 4-number state carried through
precomputed powers of the state matrix. Only that state passes from chunk to chunk (a loop over
chunks, ten a second). Nothing is truncated, so the output equals the recurrence's up to
rounding (measured against the recurrence: within 2e-10 of the signal's RMS, 1e-11 LU) and does
not depend on how the audio is split into blocks. (An FIR approximation would need thousands of
taps for the 38 Hz high-pass to ring out, and would still be an approximation.)

True peak follows BS.1770 Annex 2: the signal is oversampled four times with a windowed-sinc
interpolator (16 taps per phase, against the Annex's 12; within 0.05 dB of the ideal up to 80 %
of the Nyquist frequency, 17.6 kHz at 44.1 kHz) and the largest absolute value is the peak.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from generator.base.samples import SAMPLE_RATE, Samples, db_to_gain

Floats = npt.NDArray[np.float64]
Real = npt.NDArray[np.floating[Any]]  # either precision
Points = npt.NDArray[np.float32]  # oversampled points between samples

# Spoken-word targets (Apple Podcasts): mono is measured 3 dB lower than the same voice in stereo.
TARGET_MONO_LUFS = -19.0
TARGET_STEREO_LUFS = -16.0
TRUE_PEAK_CEILING_DB = -1.0

# BS.1770-4 gating: 400 ms blocks overlapping by 75 %, i.e. made of four 100 ms steps.
STEP_SECONDS = 0.1
STEPS_PER_BLOCK = 4
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
_LOUDNESS_OFFSET = -0.691  # BS.1770's constant: a 997 Hz sine reads its RMS level in LUFS

# The K-filter's analogue prototypes (what the 48 kHz coefficients of BS.1770 are samples of).
SHELF_HZ, SHELF_GAIN_DB, SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
SHELF_BAND_EXPONENT = 0.4996667741545416  # the shelf's mid gain, as a power of its top gain
HIGHPASS_HZ, HIGHPASS_Q = 38.13547087602444, 0.5003270373238773

# True peak: four times oversampling, Kaiser-windowed sinc interpolation.
OVERSAMPLING = 4
_HALF_TAPS = 8  # taps each side of the point: 16 per phase
_KAISER_BETA = 5.0
_TAPS = 2 * _HALF_TAPS

# The limiter: gain falls in ATTACK_SECONDS before a peak (a smooth S-curve, so no click) and
# recovers exponentially with RELEASE_SECONDS as time constant (gain riding the syllables, not
# pumping). It aims LIMIT_MARGIN_DB under the ceiling: the gain varies across a peak's
# interpolation taps, so the peak after limiting differs slightly from the envelope's estimate.
ATTACK_SECONDS = 0.005
RELEASE_SECONDS = 0.08
LIMIT_MARGIN_DB = 0.1
RELEASE_FLOOR_DB = 0.001  # a release ends here, so gain is exactly 1 again between peaks
_LIMIT_PASSES = 3

_MAX_PIECE_SECONDS = 1  # a long feed is measured in pieces that stay in the CPU cache
_BOUND_BLOCK = 16  # samples: blocks whose neighbourhood's loudest sample bounds their points
_BETWEEN_PIECE = 1 << 15  # samples oversampled at once: their windows' copy stays small (2 MB)


def gain_for(measured_lufs: float, target_lufs: float) -> float:
    """The gain that takes audio measured at ``measured_lufs`` to ``target_lufs``.

    Silence (measured -inf) has no loudness to correct: its gain is 1.
    """
    if not math.isfinite(measured_lufs):
        return 1.0
    return db_to_gain(target_lufs - measured_lufs)


# --- K-weighting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Biquad:
    """One second-order section: b0 + b1 z^-1 + b2 z^-2 over 1 + a1 z^-1 + a2 z^-2."""

    b: tuple[float, float, float]
    a: tuple[float, float, float]


def k_weighting(rate: int) -> tuple[Biquad, Biquad]:
    """BS.1770's pre-filter (high shelf) and RLB high-pass for ``rate``, by bilinear transform."""
    k = math.tan(math.pi * SHELF_HZ / rate)
    top = 10 ** (SHELF_GAIN_DB / 20)
    band = top**SHELF_BAND_EXPONENT
    norm = 1 + k / SHELF_Q + k * k
    shelf = Biquad(
        b=(
            (top + band * k / SHELF_Q + k * k) / norm,
            2 * (k * k - top) / norm,
            (top - band * k / SHELF_Q + k * k) / norm,
        ),
        a=(1.0, 2 * (k * k - 1) / norm, (1 - k / SHELF_Q + k * k) / norm),
    )
    k = math.tan(math.pi * HIGHPASS_HZ / rate)
    norm = 1 + k / HIGHPASS_Q + k * k
    # BS.1770's numerator (1, -2, 1), not scaled to unity gain: the -0.691 offset allows for it
    highpass = Biquad(
        b=(1.0, -2.0, 1.0), a=(1.0, 2 * (k * k - 1) / norm, (1 - k / HIGHPASS_Q + k * k) / norm)
    )
    return shelf, highpass


@dataclass(frozen=True)
class _StateSpace:
    """x -> y as z' = A z + B x, y = C z + D x."""

    a: Floats
    b: Floats
    c: Floats
    d: float


def _section(biquad: Biquad) -> _StateSpace:
    # transposed direct form II: the state is the two partial sums carried to the next sample
    (b0, b1, b2), (_, a1, a2) = biquad.b, biquad.a
    return _StateSpace(
        a=np.array([[-a1, 1.0], [-a2, 0.0]]),
        b=np.array([b1 - a1 * b0, b2 - a2 * b0]),
        c=np.array([1.0, 0.0]),
        d=b0,
    )


def _cascade(first: _StateSpace, second: _StateSpace) -> _StateSpace:
    """``first`` then ``second`` as one system."""
    n, m = first.b.size, second.b.size
    a = np.zeros((n + m, n + m))
    a[:n, :n] = first.a
    a[n:, :n] = np.outer(second.b, first.c)
    a[n:, n:] = second.a
    return _StateSpace(
        a=a,
        b=np.concatenate([first.b, second.b * first.d]),
        c=np.concatenate([second.d * first.c, second.c]),
        d=second.d * first.d,
    )


def _powers_applied(matrix: Floats, vectors: Floats, count: int) -> Floats:
    """``vectors @ matrix**n`` for n = 0 .. count-1, stacked: (count, *vectors.shape).

    By doubling (rows for n < k give those for k <= n < 2k through matrix**k): a dozen matrix
    products for a 100 ms chunk.
    """
    rows = vectors[np.newaxis]
    power = matrix
    while rows.shape[0] < count:
        rows = np.concatenate([rows, rows @ power])
        power = power @ power
    return rows[:count]


@dataclass(frozen=True)
class _ChunkResponse:
    """What filtering one chunk of ``size`` samples needs, computed once per rate.

    ``spectrum``: the first ``size`` taps of the impulse response, transformed (zero-state part);
    ``ringing[:, n]``: output n of a chunk for each unit initial state (zero-input part);
    ``to_state``: each input sample's share of the state after the chunk;
    ``carry``: the state matrix to the power ``size`` (the initial state after the chunk).
    """

    size: int
    fft_size: int
    spectrum: npt.NDArray[np.complex128]
    ringing: Floats
    to_state: Floats
    carry: Floats


@functools.cache
def _chunk_response(rate: int, size: int) -> _ChunkResponse:
    system = _cascade(*(_section(biquad) for biquad in k_weighting(rate)))
    ringing = _powers_applied(system.a, system.c, size).T  # row c A^n for each n, transposed
    impulse = np.concatenate([[system.d], (ringing[:, : size - 1].T @ system.b)])
    # columns A^(size-1-n) B: the input at n reaches the end of the chunk through size-1-n steps
    to_state = _powers_applied(system.a.T, system.b, size)[::-1]
    fft_size = _fft_size(2 * size - 1)  # a linear, not circular, convolution of a chunk
    return _ChunkResponse(
        size=size,
        fft_size=fft_size,
        spectrum=np.fft.rfft(impulse, n=fft_size),
        ringing=ringing,
        to_state=to_state,
        carry=np.linalg.matrix_power(system.a, size),
    )


def _fft_size(minimum: int) -> int:
    """The smallest 2^a 3^b at least ``minimum``.

    For 100 ms at 44.1 kHz that is 9216, which numpy transforms twice as fast as 16384.
    """
    size = minimum
    while True:
        rest = size
        for factor in (2, 3):
            while rest % factor == 0:
                rest //= factor
        if rest == 1:
            return size
        size += 1


class _KFilter:
    """K-weighting streamed over whole chunks, its state carried between calls."""

    def __init__(self, rate: int, channels: int, chunk: int) -> None:
        self._response = _chunk_response(rate, chunk)
        self._state = np.zeros((channels, self._response.carry.shape[0]))

    def run(self, chunks: Floats) -> Floats:
        """Filter (channels, count, chunk) consecutive chunks; the same shape back."""
        response = self._response
        if chunks.any():
            spectra = np.fft.rfft(chunks, n=response.fft_size, axis=-1)
            own = np.fft.irfft(spectra * response.spectrum, n=response.fft_size, axis=-1)
        else:  # silence: only the ringing of what came before (exact, and no FFT)
            own = np.zeros((*chunks.shape[:-1], response.size))
        # the state after each chunk from its own input; then chunk to chunk, in order
        shares = chunks @ response.to_state
        starts = np.empty_like(shares)
        state = self._state
        carry = response.carry.T
        for index in range(chunks.shape[1]):
            starts[:, index] = state
            state = state @ carry + shares[:, index]
        self._state = state
        filtered: Floats = own[..., : response.size] + starts @ response.ringing
        return filtered


def k_weighted(samples: Real, rate: int = SAMPLE_RATE) -> Floats:
    """One mono clip K-weighted (float64), from silence: as the meter filters it."""
    chunk = _step(rate)
    count = -(-samples.size // chunk)
    padded = np.zeros(count * chunk)
    padded[: samples.size] = samples
    filtered = _KFilter(rate, 1, chunk).run(padded.reshape(1, count, chunk))
    return filtered.reshape(-1)[: samples.size]


LOOP_GROUP = 50  # chunks filtered at once by k_weighted_looped: 5 s at 100 ms chunks


def k_weighted_looped(loop: Real, rate: int = SAMPLE_RATE) -> Floats:
    """A loop K-weighted as it sounds looping: ``k_weighted`` of the loop twice over, the second
    time kept (the filter has settled, and the loop's end leads into its start), worked out
    LOOP_GROUP chunks at a time: the whole at once took about 125 bytes a loop sample (329 MB
    for a one-minute bed, measured), this a few megabytes."""
    chunk = _step(rate)
    total = 2 * loop.size
    count = -(-total // chunk)
    run = _KFilter(rate, 1, chunk).run
    kept = np.empty(loop.size)
    for first in range(0, count, LOOP_GROUP):
        start, stop = first * chunk, min(first + LOOP_GROUP, count) * chunk
        piece = np.zeros(stop - start)
        taken = np.arange(start, min(stop, total))
        piece[: taken.size] = loop[taken % loop.size]
        filtered = run(piece.reshape(1, -1, chunk)).reshape(-1)[: taken.size]
        second = taken >= loop.size  # the second time round is kept
        kept[taken[second] - loop.size] = filtered[second]
    return kept


# k_weighted_energy works on this much of a clip at once. A second's transforms stay in the CPU
# cache: the 103 clips of `make bench`'s script (673 s) took 0.52 CPU-s at 1 s, 1.33 at 5 s and
# 0.67 at 0.3 s (the same values; tools/bench_render.py's clips, one thread).
ENERGY_GROUP_SECONDS = 1


def k_weighted_energy(samples: Real, block: int, rate: int = SAMPLE_RATE) -> Floats:
    """One mono clip's K-weighted energy (sum of squares) in consecutive blocks of ``block``
    samples (the last may be shorter), from silence.

    As ``k_weighted`` filters, but in float32 (half the work; its rounding, about 1e-7 of the
    energy, is far below what a loudness in LU can show): for estimates made on many clips.
    Worked out ENERGY_GROUP_SECONDS at a time (whole chunks and whole blocks, the filter's state
    carried between them): the whole clip at once took about 34 bytes a sample (67 MB for a
    46 s clip, twice over when two threads profile clips), this about 2 MB.
    """
    chunk = _step(rate)
    unit = math.lcm(chunk, block)  # a group ends where a chunk and a block both end
    group = unit * max(1, round(ENERGY_GROUP_SECONDS * rate / unit))
    filtering = _Float32KFilter(rate, chunk)
    energies = [np.zeros(0)]
    for start in range(0, samples.size, group):
        filtered = filtering.run(samples[start : start + group])
        squares = np.square(filtered, dtype=np.float64)
        energies.append(np.add.reduceat(squares, np.arange(0, filtered.size, block)))
    energy: Floats = np.concatenate(energies)
    return energy


class _Float32KFilter:
    """K-weighting in float32 (the chunks' own response; the state carried in float64), fed
    consecutive pieces of a clip, each but the last a whole number of chunks."""

    def __init__(self, rate: int, chunk: int) -> None:
        self._chunk = chunk
        self._response = _chunk_response(rate, chunk)
        self._spectrum = _single_spectrum(rate, chunk)
        self._state = np.zeros(self._response.carry.shape[0])

    def run(self, samples: Real) -> Real:
        """The next piece of the clip K-weighted: as many samples back, in float32."""
        chunk, response = self._chunk, self._response
        count = -(-samples.size // chunk)
        padded = np.zeros(count * chunk, dtype=np.float32)
        padded[: samples.size] = samples
        chunks = padded.reshape(count, chunk)
        spectra = np.fft.rfft(chunks, n=response.fft_size, axis=-1)
        spectra *= self._spectrum
        filtered = np.fft.irfft(spectra, n=response.fft_size, axis=-1)[:, :chunk]
        shares = chunks.astype(np.float64) @ response.to_state
        starts = np.empty_like(shares)
        state = self._state
        carry = response.carry.T
        for index in range(count):
            starts[index] = state
            state = state @ carry + shares[index]
        self._state = state
        filtered += (starts @ response.ringing).astype(np.float32)
        kept: Real = filtered.reshape(-1)[: samples.size]
        return kept


@functools.cache
def _single_spectrum(rate: int, chunk: int) -> npt.NDArray[np.complex64]:
    return _chunk_response(rate, chunk).spectrum.astype(np.complex64)


def _step(rate: int) -> int:
    return round(STEP_SECONDS * rate)


# --- true peak -----------------------------------------------------------------------------


@functools.cache
def _phase_kernels() -> Floats:
    """Interpolation taps (rows) for the points 1/4, 2/4 and 3/4 of the way between samples.

    Row p's taps weigh samples -7 .. +8 around the sample before its point. Each row sums to 1,
    so a constant signal interpolates exactly. (The point at 0/4 is the sample itself.)
    """
    taps = np.arange(-_HALF_TAPS + 1, _HALF_TAPS + 1)
    offsets = np.arange(1, OVERSAMPLING) / OVERSAMPLING
    distance = taps[np.newaxis, :] - offsets[:, np.newaxis]
    window = np.i0(_KAISER_BETA * np.sqrt(1 - (distance / _HALF_TAPS) ** 2)) / np.i0(_KAISER_BETA)
    kernels = np.sinc(distance) * window
    normalised: Floats = kernels / kernels.sum(axis=1, keepdims=True)
    return normalised


@functools.cache
def _interpolation_gain() -> float:
    """The most an oversampled point can exceed the loudest sample it is made from."""
    return float(np.abs(_phase_kernels()).sum(axis=1).max())


def _between(frames: Real) -> Points:
    """The oversampled points between samples: (channels, len - 15, 3) for (channels, len).

    Output i holds the points after sample i + 7 of the input: a 'valid' correlation, so the
    caller pads with silence, or history, as the clip or stream needs. Each piece of the signal
    is viewed as overlapping 16-sample windows and multiplied by the three phases' taps at once
    (one matrix product; in float32, whose rounding, about 1e-7, is far below what a peak in dB
    can show): four times faster than three correlations in float64.
    """
    kernels = _phase_kernels_t32()
    length = frames.shape[1] - _TAPS + 1
    points = np.empty((frames.shape[0], max(length, 0), kernels.shape[1]), dtype=np.float32)
    for channel, signal in enumerate(frames):
        samples = signal.astype(np.float32, copy=False)
        for start in range(0, length, _BETWEEN_PIECE):
            end = min(length, start + _BETWEEN_PIECE)
            windows = np.lib.stride_tricks.sliding_window_view(
                samples[start : end + _TAPS - 1], _TAPS
            )
            np.matmul(windows, kernels, out=points[channel, start:end])
    return points


@functools.cache
def _phase_kernels_t32() -> npt.NDArray[np.float32]:
    return np.ascontiguousarray(_phase_kernels().T, dtype=np.float32)


def _abs_max(values: Real) -> float:
    # two reductions, no array of absolute values
    return max(float(values.max()), -float(values.min())) if values.size else 0.0


def _to_db(amplitude: float) -> float:
    return 20 * math.log10(amplitude) if amplitude > 0 else -math.inf


class _PeakFollower:
    """The largest oversampled value so far, fed in blocks of any length.

    The last 15 samples are kept, so the points near a block's end are computed, once, when the
    next block arrives; ``peak`` adds those of the final samples as if silence followed.
    """

    def __init__(self, channels: int) -> None:
        self._history = np.zeros((channels, _TAPS - 1))
        self._peak = 0.0

    def feed(self, frames: Floats) -> None:
        if frames.shape[1] == 0:
            return
        joined = np.concatenate([self._history, frames], axis=1)
        loudest = _abs_max(joined)
        self._peak = max(self._peak, _abs_max(frames))
        # No point between samples can exceed the loudest sample times the interpolator's
        # largest total |tap| weight: when that is under the peak so far, skip the oversampling
        # (exact: the same peak, and most blocks of a session are quieter than its loudest).
        if loudest * _interpolation_gain() > self._peak:
            self._peak = max(self._peak, _abs_max(_between(joined)))
        self._history = joined[:, -(_TAPS - 1) :]

    def peak(self) -> float:
        ending = np.concatenate([self._history, np.zeros_like(self._history)], axis=1)
        return max(self._peak, _abs_max(_between(ending)))


def _frames(samples: Real, channels: int | None = None) -> Floats:
    """Mono (n,) or interleaved (n, channels) samples as float64 (channels, n) rows."""
    _check_shape(samples, channels)
    if samples.ndim == 1:
        return samples.astype(np.float64)[np.newaxis]
    return np.ascontiguousarray(samples.T, dtype=np.float64)


def _check_shape(samples: Real, channels: int | None) -> None:
    if samples.ndim not in (1, 2):
        raise ValueError(f"audio must be (samples,) or (samples, channels), not {samples.shape}")
    if channels is not None and (1 if samples.ndim == 1 else samples.shape[1]) != channels:
        raise ValueError(f"expected {channels} channel(s), got audio shaped {samples.shape}")


def true_peak(samples: Real) -> float:
    """One clip's true peak in dBTP (4x oversampled, silence around it); -inf for silence.

    Mono (n,) or (n, channels): the loudest channel's.
    """
    if samples.ndim not in (1, 2):
        raise ValueError(f"audio must be (samples,) or (samples, channels), not {samples.shape}")
    if samples.size == 0:
        return -math.inf
    # no point can pass the loudest sample where the interpolation bound does not
    frames = _frames32(samples)
    return _to_db(_abs_max(_envelope_above(frames, _abs_max(frames))))


# --- the meter -----------------------------------------------------------------------------


class LoudnessMeter:
    """Integrated loudness and true peak of audio fed in consecutive blocks of any length.

    Mono blocks are 1-D (or (n, 1)); stereo blocks are (n, 2). Both channels weigh 1, as
    BS.1770 weighs left and right, so the same voice reads 3 LU louder in stereo than in mono.
    The meter keeps the filter state, at most one 100 ms step of pending audio, 15 samples for
    the interpolator and one float per 100 ms: an hour is 36 000 floats.
    """

    def __init__(self, rate: int = SAMPLE_RATE, channels: int = 1, peaks: bool = True) -> None:
        """``peaks=False``: loudness only (``true_peak`` then raises): no oversampling."""
        if channels not in (1, 2):
            raise ValueError(f"the meter measures mono or stereo audio, not {channels} channels")
        self.rate, self.channels = rate, channels
        self._step = _step(rate)
        self._filter = _KFilter(rate, channels, self._step)
        self._peaks = _PeakFollower(channels) if peaks else None
        self._pending = np.zeros((channels, 0))
        self._energies: list[Floats] = []  # per step: K-weighted squares, summed over channels

    @property
    def piece(self) -> int:
        """Samples measured at once: a block fed in pieces of this is measured as it is whole."""
        return round(_MAX_PIECE_SECONDS * self.rate)

    def feed(self, block: Real) -> None:
        """Measure the next ``block`` of the audio."""
        _check_shape(block, self.channels)
        # each piece made float64 (channels, n) as it is measured, not the whole block at once
        for start in range(0, block.shape[0], self.piece):
            self._feed(_frames(block[start : start + self.piece], self.channels))

    def _feed(self, frames: Floats) -> None:
        if self._peaks is not None:
            self._peaks.feed(frames)
        joined = np.concatenate([self._pending, frames], axis=1)
        count = joined.shape[1] // self._step
        if count:
            chunks = joined[:, : count * self._step].reshape(self.channels, count, self._step)
            filtered = self._filter.run(chunks)
            self._energies.append(np.einsum("ckn,ckn->k", filtered, filtered))
        self._pending = joined[:, count * self._step :].copy()

    def integrated(self) -> float:
        """Gated integrated loudness (LUFS) of everything fed so far.

        -inf when no 400 ms block passes the -70 LUFS absolute gate (silence, or under 400 ms
        of audio): no loudness to speak of, and ``gain_for`` then leaves the audio alone. A
        last step shorter than 100 ms is not measured, as in BS.1770's block scheme.
        """
        if not self._energies:
            return -math.inf
        return integrated_loudness(np.concatenate(self._energies), self._step)

    def true_peak(self) -> float:
        """True peak (dBTP) of everything fed so far, over both channels; -inf for silence."""
        if self._peaks is None:
            raise RuntimeError("this meter measures loudness only (made with peaks=False)")
        return _to_db(self._peaks.peak())


def integrated_loudness(step_energies: Floats, step: int) -> float:
    """Gated integrated loudness (LUFS) from the K-weighted energy (sum of squares over the
    channels) of each consecutive 100 ms step of ``step`` samples; -inf when nothing passes."""
    powers = step_energies / step
    if powers.size < STEPS_PER_BLOCK:
        return -math.inf
    blocks = np.convolve(powers, np.full(STEPS_PER_BLOCK, 1 / STEPS_PER_BLOCK), "valid")
    return _gated_loudness(blocks)


def _gated_loudness(blocks: Floats) -> float:
    """BS.1770-4's two gates over the blocks' mean-square powers, then their mean, in LUFS."""
    loudness = _LOUDNESS_OFFSET + 10 * np.log10(np.maximum(blocks, 1e-30))
    audible = loudness > ABSOLUTE_GATE_LUFS
    if not audible.any():
        return -math.inf
    relative = _lufs(float(np.mean(blocks[audible]))) + RELATIVE_GATE_LU
    return _lufs(float(np.mean(blocks[audible & (loudness > relative)])))


def _lufs(power: float) -> float:
    return _LOUDNESS_OFFSET + 10 * math.log10(power)


# --- the limiter ---------------------------------------------------------------------------


def limit(samples: Samples, ceiling_db: float, rate: int = SAMPLE_RATE) -> Samples:
    """The clip with its true peak at most ``ceiling_db``, turned down only around its peaks.

    Returned as it is (the same array) when its true peak is already under the ceiling. Mono
    (n,) or (n, channels); channels share one gain, so the stereo image does not move.

    The gain (in dB) each sample needs is found from the oversampled envelope; a running
    maximum of the reduction over the next ATTACK_SECONDS lowers the gain before a peak
    arrives; an exponential release follows each peak; two moving averages over the attack
    smooth the curve without letting it rise above what any peak needs. No sample is clipped.

    Only what can pass the target is worked on: the envelope is oversampled where its bound
    does (``_envelope_above``), and the gain worked out and applied only on the stretches where
    it is under 1 (``_stretches``); the rest of the clip is copied as it is.
    """
    if samples.size == 0:
        return samples
    original = _frames32(samples)
    target = ceiling_db - LIMIT_MARGIN_DB
    over = db_to_gain(target)
    envelope = _envelope_above(original, over)  # its maximum is the clip's true peak
    if _to_db(_abs_max(envelope)) <= ceiling_db:
        return samples
    frames = original.copy()
    peak = math.inf
    for _ in range(_LIMIT_PASSES):  # a second pass, if any, only trims what the first left over
        turned: list[tuple[int, int]] = []  # (start, length): each curve let go once applied
        for start, reduced in _stretches(*_needed(envelope, target), rate):
            stretch = frames[:, start : start + reduced.size]
            stretch[...] = stretch * 10 ** (-reduced / 20)  # in float64, rounded once
            turned.append((start, reduced.size))
        _envelope_again(frames, envelope, turned, over)
        peak = _to_db(_abs_max(envelope))
        if peak <= ceiling_db:
            break
    else:  # never seen: a uniform trim of the remainder rather than a clip over the ceiling
        frames = (frames * db_to_gain(target - peak)).astype(np.float32)
    limited: Samples = frames.T.reshape(samples.shape)  # a view of our own copy: no other
    limited.flags.writeable = False
    return limited


def _envelope_again(
    frames: Points, envelope: Points, stretches: list[tuple[int, int]], threshold: float
) -> None:
    """``envelope`` (from ``_envelope_above(.., threshold)``) brought up to date, in place, after
    the stretches of ``frames`` were turned down: a sample's value is made from the samples up
    to 8 either side of it, so only those within 8 of a stretch change; each stretch is looked
    at again with twice that around it (the values near a piece's cut-off ends are not kept).
    """
    size = frames.shape[1]
    for start, length in stretches:
        first, last = max(0, start - _HALF_TAPS), min(size, start + length + _HALF_TAPS)
        lead, end = max(0, first - _TAPS), min(size, last + _TAPS)
        again = _envelope_above(frames[:, lead:end], threshold)
        envelope[first:last] = again[first - lead : last - lead]


def _frames32(samples: Real) -> Points:
    """Mono (n,) or interleaved (n, channels) samples as float32 (channels, n) rows (a view of
    a mono float32 clip, no copy)."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)[np.newaxis]
    return np.ascontiguousarray(samples.T, dtype=np.float32)


def envelope(samples: Real, above_db: float = -math.inf) -> Real:
    """Per sample of a clip, mono or (n, channels): the loudest oversampled value near it (the
    largest of them is the clip's true peak; ``limit`` works from it).

    With ``above_db``, exact only where it passes that level (dBFS): elsewhere a value under it
    (the sample's own), found without oversampling there.
    """
    if samples.size == 0:
        return np.zeros(0)
    if math.isinf(above_db) and above_db < 0:
        return _envelope(_frames(samples))
    return _envelope_above(_frames32(samples), db_to_gain(above_db))  # in float32


def reduction(needed_db: Floats, rate: float) -> Floats:
    """The limiter's smooth reduction curve (dB) for the reduction each value needs, at ``rate``
    values a second: what ``limit`` applies, also usable on a coarser grid to estimate it."""
    half = max(1, round(ATTACK_SECONDS * rate / 2))
    held = _running_max(needed_db, 2 * half - 1)
    released = _release(held, RELEASE_SECONDS * rate)
    released[released < RELEASE_FLOOR_DB] = 0.0  # a peak needing less is within the margin
    return _moving_average(_moving_average(released, half), half)


def _envelope(frames: Floats) -> Floats:
    """Per sample: the largest oversampled value within a sample of it, over all channels.

    The points before the first sample and after the last (the interpolator's ringing into the
    silence around the clip) count towards the first and the last sample.
    """
    silence = np.zeros((frames.shape[0], _TAPS - 1))
    points = _between(np.concatenate([silence, frames, silence], axis=1))
    np.abs(points, out=points)
    # the three phases and the channels by pairs: numpy reduces a short last axis slowly
    between = np.maximum(np.maximum(points[..., 0], points[..., 1]), points[..., 2])
    between = np.maximum.reduce(between, axis=0)  # index j: the points after sample j - 8
    size = frames.shape[1]
    envelope: Floats = np.maximum.reduce(np.abs(frames), axis=0)
    np.maximum(envelope, between[_HALF_TAPS - 1 : _HALF_TAPS - 1 + size], out=envelope)
    np.maximum(envelope, between[_HALF_TAPS : _HALF_TAPS + size], out=envelope)
    envelope[0] = max(envelope[0], _abs_max(between[: _HALF_TAPS - 1]))
    envelope[-1] = max(envelope[-1], _abs_max(between[_HALF_TAPS + size :]))
    return envelope


def _envelope_above(frames: Real, threshold: float) -> Points:
    """``_envelope(frames)`` wherever it exceeds ``threshold`` (linear); elsewhere a value at
    most ``threshold`` (there, each sample's own loudest absolute value). In float32.

    A point between samples is a weighted sum of the 16 samples around it, so it is at most the
    loudest of them times ``_interpolation_gain()``. Only blocks of samples where that bound
    passes the threshold are oversampled: the peaks of speech, a small part of it.
    """
    size = frames.shape[1]
    loudest: Points = np.abs(frames[0], dtype=np.float32)
    for channel in frames[1:]:
        np.maximum(loudest, np.abs(channel, dtype=np.float32), out=loudest)
    if size == 0:
        return loudest
    whole = size // _BOUND_BLOCK
    block_peaks = np.empty(-(-size // _BOUND_BLOCK), dtype=np.float32)
    columns = loudest[: whole * _BOUND_BLOCK].reshape(whole, _BOUND_BLOCK)
    block_peaks[:whole] = columns[:, 0]
    for column in range(1, _BOUND_BLOCK):  # column by column: numpy reduces short rows slowly
        np.maximum(block_peaks[:whole], columns[:, column], out=block_peaks[:whole])
    if whole < block_peaks.size:
        block_peaks[whole] = loudest[whole * _BOUND_BLOCK :].max()
    near = block_peaks.copy()  # a sample's points reach 8 samples out: into the next block only
    np.maximum(near[1:], block_peaks[:-1], out=near[1:])
    np.maximum(near[:-1], block_peaks[1:], out=near[:-1])
    flagged = np.flatnonzero(near.astype(np.float64) * _interpolation_gain() > threshold)
    if flagged.size:
        _oversample_blocks(frames, flagged, loudest)
    return loudest


def _oversample_blocks(frames: Real, blocks: npt.NDArray[np.intp], envelope: Points) -> None:
    """Raise ``envelope`` (each sample's loudest absolute value) to ``_envelope``'s values in
    the given blocks of _BOUND_BLOCK samples, in place.

    Sample n's value takes the points after samples n - 1 and n; the points after sample j are
    made from samples j - 7 .. j + 8. So a block's 16 samples need 17 sets of points, from 32
    samples: those are gathered for every block at once (silence around the clip), viewed as
    17 overlapping windows each and multiplied by the phases' taps. The first and the last
    sample also take the interpolator's ringing into the silence around the clip.
    """
    channels, size = frames.shape
    lead = _TAPS - 1
    span = _BOUND_BLOCK + _TAPS  # samples a block's points are made from
    whole = -(-size // _BOUND_BLOCK) * _BOUND_BLOCK
    padded = np.zeros((channels, lead + whole + _TAPS), np.float32)
    padded[:, lead : lead + size] = frames
    kernels = _phase_kernels_t32()
    offsets = np.arange(span)
    piece = max(1, _BETWEEN_PIECE // span)
    for first in range(0, blocks.size, piece):
        chosen = blocks[first : first + piece]
        # points after sample j come from padded[j + 8 .. j + 23]: for a block starting at
        # sample s, the points after s - 1 .. s + 15 from padded[s + 7 .. s + 38]
        gathered = padded[:, (chosen * _BOUND_BLOCK + _HALF_TAPS - 1)[:, np.newaxis] + offsets]
        windows = np.lib.stride_tricks.sliding_window_view(gathered, _TAPS, axis=-1)
        points = np.matmul(windows.reshape(-1, _TAPS), kernels)
        np.abs(points, out=points)
        loudest_point = np.maximum(np.maximum(points[:, 0], points[:, 1]), points[:, 2])
        between = np.maximum.reduce(
            loudest_point.reshape(channels, chosen.size, _BOUND_BLOCK + 1), axis=0
        )
        per_sample = np.maximum(between[:, :-1], between[:, 1:]).reshape(-1)
        where = (chosen[:, np.newaxis] * _BOUND_BLOCK + np.arange(_BOUND_BLOCK)).reshape(-1)
        inside = where < size
        envelope[where[inside]] = np.maximum(envelope[where[inside]], per_sample[inside])
    ringing = _HALF_TAPS - 1 + _TAPS - 1  # samples that make the 7 sets of points either side
    if blocks[0] == 0:  # the points after samples -8 .. -2: the ringing before the clip
        envelope[0] = max(envelope[0], _abs_max(_between(padded[:, :ringing])))
    if blocks[-1] == (size - 1) // _BOUND_BLOCK:  # after samples size .. size + 6
        ending = padded[:, size + _HALF_TAPS : size + _HALF_TAPS + ringing]
        envelope[size - 1] = max(envelope[size - 1], _abs_max(_between(ending)))


def _needed(envelope: Real, target_db: float) -> tuple[npt.NDArray[np.intp], Floats, int]:
    """The reduction (dB) each envelope value needs to come to ``target_db``, sparse: where it
    passes, the values there, and the envelope's size (a float64 value for every sample of a
    clip took 8 bytes a sample where a few per cent need any)."""
    where = np.flatnonzero(envelope > db_to_gain(target_db))
    return where, 20 * np.log10(envelope[where].astype(np.float64)) - target_db, envelope.size


def _stretches(
    where: npt.NDArray[np.intp], needed_db: Floats, size: int, rate: float
) -> Iterator[tuple[int, Floats]]:
    """``reduction`` of the reduction needed (``needed_db`` at the sorted indices ``where``, 0
    elsewhere, ``size`` values in all) as the stretches where it is not 0: (start, values), in
    order, each made when asked for.

    Most of a clip needs no reduction, and the curve is 0 again once a peak's release has
    fallen under RELEASE_FLOOR_DB: the curve is worked out on each stretch alone, from the
    look-ahead before its first peak to the end of its last release (and the smoothing), and is
    the same there as over the whole clip, as nothing before a stretch reaches into it.
    """
    positive = needed_db > 0
    peaks = where[positive]
    if peaks.size == 0:
        return
    half = max(1, round(ATTACK_SECONDS * rate / 2))
    width = 2 * half - 1
    # a peak's release falls under the floor after time_constant * ln(need / floor) samples;
    # the smoothing then reaches 2 * half further (and 2 more for rounding)
    ratios = np.maximum(needed_db[positive], RELEASE_FLOOR_DB) / RELEASE_FLOOR_DB
    releases = np.ceil(RELEASE_SECONDS * rate * np.log(ratios)).astype(np.intp)
    starts = np.maximum(peaks - width, 0)
    ends = np.minimum(peaks + releases + 2 * half + 2, size)
    reach = np.maximum.accumulate(ends)
    new = np.flatnonzero(starts[1:] > reach[:-1]) + 1  # a gap: a new stretch begins
    firsts = np.concatenate([[0], new])
    lasts = np.concatenate([new - 1, [peaks.size - 1]])
    for first, last in zip(starts[firsts].tolist(), reach[lasts].tolist(), strict=True):
        needed = np.zeros(last - first)
        inside = slice(*np.searchsorted(where, (first, last)).tolist())
        needed[where[inside] - first] = needed_db[inside]
        yield first, reduction(needed, rate)


def _running_max(values: Floats, width: int) -> Floats:
    """max(values[n : n + width]) for every n; values are >= 0 and silence follows the end.

    Van Herk / Gil-Werman: in blocks of ``width``, a window is the tail of one block (a
    backward running maximum) and the head of the next (a forward one).
    """
    size = values.size
    blocks = -(-(size + width - 1) // width)
    padded = np.zeros(blocks * width)
    padded[:size] = values
    rows = padded.reshape(blocks, width)
    heads = np.maximum.accumulate(rows, axis=1).reshape(-1)
    tails = np.maximum.accumulate(rows[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    held: Floats = np.maximum(tails[:size], heads[width - 1 : width - 1 + size])
    return held


def _release(reduction: Floats, time_constant: float) -> Floats:
    """max over m <= n of reduction[m] * exp(-(n - m) / time_constant), for every n.

    A peak follower with instant attack and exponential release, without its per-sample loop:
    in logs each decay is a straight line of slope -1/time_constant, so adding n / time_constant
    makes them level and a running maximum finds the highest.
    """
    time = np.arange(reduction.size) / time_constant
    logs = np.full(reduction.size, -np.inf)
    reducing = reduction > 0
    logs[reducing] = np.log(reduction[reducing]) + time[reducing]
    # in place: a stretch's float64 curves are its limiting's memory
    released: Floats = np.maximum.accumulate(logs, out=logs)
    released -= time
    return np.exp(released, out=released)


def _moving_average(values: Floats, width: int) -> Floats:
    """Mean of values[n - width + 1 .. n]; before the start, the first value continues."""
    sums = np.cumsum(np.concatenate([np.full(width, values[0]), values]))
    averaged: Floats = sums[width:] - sums[:-width]
    averaged /= width
    return averaged
