"""Stage 6b: mastering. The session's loudness is measured, then one linear gain meets the target.

Spoken-word targets: -19 LUFS integrated for mono, -16 LUFS for stereo, true peak at most -1 dBTP.
A first pass mixes the session and feeds a loudness meter block by block (nothing is kept but an
energy every 100 ms). Speech has peaks far above its loudness, so meeting the target with one gain
would often push them over the ceiling: then each clip that would pass it is limited on its own
(``loudness.limit``: only its peaks are turned down, the rest of the clip is untouched) and the
mix is measured again. The result is a linear gain for the whole file: no compression, no pumping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from generator.audio import Samples, db_to_gain
from generator.loudness import (
    TARGET_MONO_LUFS,
    TARGET_STEREO_LUFS,
    TRUE_PEAK_CEILING_DB,
    LoudnessMeter,
    limit,
    true_peak,
)
from generator.mix import LOOPS, mix_blocks
from generator.timeline import Timeline

# LAME at 96 kbps gives back speech about 0.4 dB quieter than it is given (measured: pigeon mastered
# to -19.57 LUFS before encoding read -20.01 decoded, by this meter and by ffmpeg's): aim that much
# higher. Its peaks can also overshoot: by up to 0.8 dB in a stereo file here (cold renders of one
# short script: -1.5 dBTP before encoding, -1.8 to -0.7 after): aim this far under the ceiling.
ENCODER_LOSS_DB = 0.4
ENCODER_MARGIN_DB = 1.0
LIMIT_ROUNDS = 4  # limiting lowers the loudness, so the gain rises: limit again, from the originals
# The gain guided sessions get (pigeon, piper: 3.6 dB; epsom-soak, eSpeak NG: 2.2 dB): a session
# without words gets it too, so its bells sound as loud as they do between words.
WORDLESS_GAIN_DB = 3.0
CREST_SLACK_DB = 0.25  # close enough: the result lands within this of the aim (a pass saved)
MAX_LIMIT_DB = 12.0  # never ask a clip's peaks to come down further than this below the ceiling


@dataclass(frozen=True)
class Mastered:
    """The clips to mix (some limited) and the gain that brings the mix to its target."""

    audio: Mapping[str, Samples]
    gain: float
    loudness: float  # LUFS integrated, after the gain (as measured before encoding)
    true_peak: float  # dBTP, after the gain
    target: float
    limited: int  # clips whose peaks were turned down


@dataclass(frozen=True)
class Measured:
    loudness: float
    true_peak: float


def target_for(channels: int) -> float:
    return TARGET_STEREO_LUFS if channels > 1 else TARGET_MONO_LUFS


def measure(timeline: Timeline, audio: Mapping[str, Samples]) -> Measured:
    """The mix's integrated loudness and true peak at unity gain, from one streamed pass."""
    meter = LoudnessMeter(timeline.sample_rate, timeline.channels)
    for block in mix_blocks(timeline, audio):
        meter.feed(block)
    return Measured(meter.integrated(), meter.true_peak())


def master(timeline: Timeline, audio: Mapping[str, Samples]) -> Mastered:
    """The gain (and, where needed, the limited clips) that meet the loudness target."""
    target = target_for(timeline.channels)
    aim = target + ENCODER_LOSS_DB
    ceiling = TRUE_PEAK_CEILING_DB - ENCODER_MARGIN_DB
    measured = measure(timeline, audio)
    if not math.isfinite(measured.loudness):  # silence (a timer without bells): nothing to do
        return Mastered(audio, 1.0, measured.loudness, measured.true_peak, target, 0)
    if not any(event.kind == "speech" for event in timeline.events):
        # Bells and beds alone (a timer) are not spoken word: brought to the target they would
        # ring louder than in any guided session. They get a guided session's usual gain.
        boost = min(WORDLESS_GAIN_DB, ceiling - measured.true_peak)
        loudness = measured.loudness + boost - ENCODER_LOSS_DB
        return Mastered(audio, db_to_gain(boost), loudness, measured.true_peak + boost, target, 0)
    # A gain meets the aim under the ceiling when the mix's crest (true peak over loudness) is at
    # most `need`. Limiting the clips' peaks lowers the crest, and also a little of the loudness
    # (more, the deeper it cuts into speech), so the clips' ceiling is found by the secant method.
    need = ceiling - aim
    best = Candidate(audio, measured, 0)
    guess = ceiling - (aim - measured.loudness)
    room = db_to_gain(guess) - _loudest_bed(timeline, audio)  # a bed under words adds its peaks
    limit_at = 20 * math.log10(max(room, db_to_gain(guess - MAX_LIMIT_DB)))
    tried = [(measured.true_peak, _crest(measured))]  # unlimited: as if limited at its own peak
    peaks = _clip_peaks(timeline, audio)
    for _ in range(LIMIT_ROUNDS):
        if _crest(best.measured) <= need + CREST_SLACK_DB:
            break
        limited_audio, count = _limited(audio, peaks, limit_at, timeline.sample_rate)
        candidate = Candidate(limited_audio, measure(timeline, limited_audio), count)
        if candidate.reach(aim, ceiling) > best.reach(aim, ceiling):
            best = candidate
        tried.append((limit_at, _crest(candidate.measured)))
        (at_before, crest_before), (at_now, crest_now) = tried[-2:]
        slope = (crest_now - crest_before) / (at_now - at_before) if at_now != at_before else 1.0
        limit_at -= (crest_now - need) / min(max(slope, 0.1), 1.5)
        limit_at = max(limit_at, guess - MAX_LIMIT_DB)
    audio, measured, limited = best.audio, best.measured, best.limited
    boost = min(aim - measured.loudness, ceiling - measured.true_peak)
    return Mastered(
        audio,
        db_to_gain(boost),
        measured.loudness + boost - ENCODER_LOSS_DB,
        measured.true_peak + boost,
        target,
        limited,
    )


@dataclass(frozen=True)
class Candidate:
    """Clips limited at one ceiling, and how the mix measured with them."""

    audio: Mapping[str, Samples]
    measured: Measured
    limited: int

    def reach(self, aim: float, ceiling: float) -> float:
        """The loudness one gain can give this mix without passing the ceiling (at most aim)."""
        return min(aim, self.measured.loudness + ceiling - self.measured.true_peak)


def _crest(measured: Measured) -> float:
    return measured.true_peak - measured.loudness


def _loudest_bed(timeline: Timeline, audio: Mapping[str, Samples]) -> float:
    """The highest peak (linear) a looped bed reaches while words are spoken over it (ducked)."""
    peaks = [
        float(np.max(np.abs(audio[e.clip]))) * db_to_gain(-LOOPS[e.kind].duck_db)
        for e in timeline.events
        if e.kind in LOOPS and audio[e.clip].size
    ]
    return max(peaks, default=0.0)


def _clip_peaks(timeline: Timeline, audio: Mapping[str, Samples]) -> dict[str, float]:
    """The true peak (dBTP) of every clip the timeline places, loops left out: measured once,
    so each limiting round touches only the clips over its ceiling."""
    placed = {event.clip for event in timeline.events if event.clip and event.kind not in LOOPS}
    return {key: true_peak(audio[key]) for key in sorted(placed)}


def _limited(
    audio: Mapping[str, Samples], peaks: Mapping[str, float], ceiling_db: float, rate: int
) -> tuple[dict[str, Samples], int]:
    """The clips with every placed clip's true peak under ceiling_db, and how many were limited."""
    over = [key for key, peak in peaks.items() if peak > ceiling_db]
    result = dict(audio)
    for key in over:
        result[key] = limit(audio[key], ceiling_db, rate)
    return result, len(over)
