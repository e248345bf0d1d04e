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
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from generator.base.samples import SAMPLE_RATE, Samples, db_to_gain, frozen

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
    if samples.ndim == 1:
        frames = samples.astype(np.float64)[np.newaxis]
    elif samples.ndim == 2:
        frames = np.ascontiguousarray(samples.T, dtype=np.float64)
    else:
        raise ValueError(f"audio must be (samples,) or (samples, channels), not {samples.shape}")
    if channels is not None and frames.shape[0] != channels:
        raise ValueError(f"expected {channels} channel(s), got audio shaped {samples.shape}")
    return frames


def true_peak(samples: Real) -> float:
    """One clip's true peak in dBTP (4x oversampled, silence around it); -inf for silence.

    Mono (n,) or (n, channels): the loudest channel's.
    """
    follower = _PeakFollower(1 if samples.ndim == 1 else samples.shape[1])
    follower.feed(_frames(samples))
    return _to_db(follower.peak())


# --- the meter -----------------------------------------------------------------------------


class LoudnessMeter:
    """Integrated loudness and true peak of audio fed in consecutive blocks of any length.

    Mono blocks are 1-D (or (n, 1)); stereo blocks are (n, 2). Both channels weigh 1, as
    BS.1770 weighs left and right, so the same voice reads 3 LU louder in stereo than in mono.
    The meter keeps the filter state, at most one 100 ms step of pending audio, 15 samples for
    the interpolator and one float per 100 ms: an hour is 36 000 floats.
    """

    def __init__(self, rate: int = SAMPLE_RATE, channels: int = 1) -> None:
        if channels not in (1, 2):
            raise ValueError(f"the meter measures mono or stereo audio, not {channels} channels")
        self.rate, self.channels = rate, channels
        self._step = _step(rate)
        self._filter = _KFilter(rate, channels, self._step)
        self._peaks = _PeakFollower(channels)
        self._pending = np.zeros((channels, 0))
        self._energies: list[Floats] = []  # per step: K-weighted squares, summed over channels

    def feed(self, block: Real) -> None:
        """Measure the next ``block`` of the audio."""
        frames = _frames(block, self.channels)
        piece = round(_MAX_PIECE_SECONDS * self.rate)
        for start in range(0, frames.shape[1], piece):
            self._feed(frames[:, start : start + piece])

    def _feed(self, frames: Floats) -> None:
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
    """
    if samples.size == 0:
        return samples
    frames = _frames(samples)
    envelope = _envelope(frames)  # its maximum is the clip's true peak
    if _to_db(_abs_max(envelope)) <= ceiling_db:
        return samples
    target = ceiling_db - LIMIT_MARGIN_DB
    peak = math.inf
    for _ in range(_LIMIT_PASSES):  # a second pass, if any, only trims what the first left over
        frames = frames * _limiter_gain(envelope, target, rate)
        envelope = _envelope(frames)
        peak = _to_db(_abs_max(envelope))
        if peak <= ceiling_db:
            break
    else:  # never seen: a uniform trim of the remainder rather than a clip over the ceiling
        frames = frames * db_to_gain(target - peak)
    return frozen(frames.T.reshape(samples.shape))


def envelope(samples: Real) -> Floats:
    """Per sample of a clip, mono or (n, channels): the loudest oversampled value near it (the
    largest of them is the clip's true peak; ``limit`` works from it)."""
    return _envelope(_frames(samples)) if samples.size else np.zeros(0)


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


def _limiter_gain(envelope: Floats, target_db: float, rate: int) -> Floats:
    """The smooth gain curve that brings every envelope value to ``target_db`` or under.

    Worked in dB of reduction. Each sample's need is held over the look-ahead window before it
    (``_running_max``) and then averaged twice over half that window looking back: every value
    averaged at a peak is at least the peak's need, so the average is too.
    """
    needed = np.zeros(envelope.size)
    over = envelope > db_to_gain(target_db)  # the logarithm only where it is needed
    needed[over] = 20 * np.log10(envelope[over]) - target_db
    gain: Floats = 10 ** (-reduction(needed, rate) / 20)
    return gain


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
    released: Floats = np.exp(np.maximum.accumulate(logs) - time)
    return released


def _moving_average(values: Floats, width: int) -> Floats:
    """Mean of values[n - width + 1 .. n]; before the start, the first value continues."""
    sums = np.cumsum(np.concatenate([np.full(width, values[0]), values]))
    averaged: Floats = (sums[width:] - sums[:-width]) / width
    return averaged
