"""Stage 6b: mastering. The session's loudness is measured, then one linear gain meets the target.

Spoken-word targets: -19 LUFS integrated for mono, -16 LUFS for stereo, true peak at most -1 dBTP.
Speech has peaks far above its loudness, so meeting the target with one gain would often push
them over the ceiling: then every clip is limited to one ceiling (``loudness.limit``: only its
peaks are turned down, the rest of the clip is untouched). The result is a linear gain for the
whole file: no compression, no pumping.

Measuring costs the distinct audio, not the session's length, and never holds the session.
BS.1770's K-weighting is linear and time-invariant, so the K-weighted session is the K-weighted
clips placed where the clips are: each clip's profile (``profiles.py``: its K-weighted energy in
1 ms blocks, its true peak; made once, when the voice was levelled) is placed, and the session's
loudness is those energies added into the meter's 100 ms steps (loops - beds, the dance's music -
are mixed once, K-weighted and ducked).
Limiting lowers the crest (true peak over loudness) and a little of the loudness too, so the
clips' ceiling is searched for by the secant method; each try estimates the limiter's gain on the
1 ms blocks, which costs a fraction of limiting. Only the chosen ceiling is applied to the real
clips, as the final mix reaches them. Where clips overlap each other or a loop, the true peak of
the limited mix is then measured there, so the gain never pushes it over the ceiling.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from generator.base.samples import Samples, db_to_gain, frozen
from generator.files.memo import Memo
from generator.sound.loudness import (
    LIMIT_MARGIN_DB,
    STEP_SECONDS,
    TARGET_MONO_LUFS,
    TARGET_STEREO_LUFS,
    TRUE_PEAK_CEILING_DB,
    envelope,
    integrated_loudness,
    k_weighted_looped,
    limit,
    reduction,
    true_peak,
)
from generator.sound.mix import BLOCK_SECONDS, LOOPS, mix_span, pan_gains
from generator.sound.profiles import BLOCK, Measures, Profile, SamplesMeasured
from generator.timeline.events import Event, Timeline

Floats = npt.NDArray[np.float64]

# LAME at 96 kbps gives back speech about 0.4 dB quieter than it is given (measured: pigeon mastered
# to -19.57 LUFS before encoding read -20.01 decoded, by this meter and by ffmpeg's): aim that much
# higher. Its peaks can also overshoot: by up to 0.8 dB in a stereo file here (cold renders of one
# short script: -1.5 dBTP before encoding, -1.8 to -0.7 after): aim this far under the ceiling.
ENCODER_LOSS_DB = 0.4
ENCODER_MARGIN_DB = 1.0
LIMIT_ROUNDS = 4  # ceilings tried at most: limiting lowers the loudness too, so the aim moves
# The gain guided sessions get (pigeon, piper: 3.6 dB; epsom-soak, eSpeak NG: 2.2 dB): a session
# without words gets it too, so its bells sound as loud as they do between words.
WORDLESS_GAIN_DB = 3.0
CREST_SLACK_DB = 0.25  # close enough: the result lands within this of the aim (a pass saved)
MAX_LIMIT_DB = 12.0  # never ask a clip's peaks to come down further than this below the ceiling
TRANSFORMED_BUDGET_BYTES = 32 << 20  # limited clips kept at once while mixing
PLAN_FORMAT = 4  # bump when the way plans are found changes, so old plans are not reused
# The search sees each clip in profiles.BLOCK blocks (1 ms): its K-weighted energy and its
# loudest envelope point in each.
ENVELOPE_SLACK_DB = 1.5  # a clip's envelope is found this far under the lowest ceiling tried


@dataclass(frozen=True)
class Plan:
    """What mastering decided: all a render needs to master the same clips the same way again."""

    limit_at: float  # dBTP: every placed clip's true peak is limited to this (inf: none is)
    gain_db: float
    loudness: float  # LUFS integrated, after the gain and encoding (as estimated)
    true_peak: float  # dBTP after the gain: at most this (a bound)
    limited: int  # clips whose peaks are turned down

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        fields = json.loads(text)
        return cls(
            float(fields["limit_at"]),
            float(fields["gain_db"]),
            float(fields["loudness"]),
            float(fields["true_peak"]),
            int(fields["limited"]),
        )


@dataclass(frozen=True)
class Mastered:
    """The clips to mix (limited as the mix reaches them), and the plan that limited them."""

    audio: Mapping[str, Samples]
    plan: Plan
    target: float  # LUFS integrated

    @property
    def gain(self) -> float:
        """The linear gain for the whole mix."""
        return db_to_gain(self.plan.gain_db)

    @property
    def loudness(self) -> float:
        return self.plan.loudness

    @property
    def true_peak(self) -> float:
        return self.plan.true_peak

    @property
    def limited(self) -> int:
        return self.plan.limited


@dataclass(frozen=True)
class Measured:
    loudness: float
    true_peak: float


def target_for(channels: int) -> float:
    return TARGET_STEREO_LUFS if channels > 1 else TARGET_MONO_LUFS


def master(
    timeline: Timeline,
    audio: Mapping[str, Samples],
    plans: PlanCache | None = None,
    measures: Measures | None = None,
) -> Mastered:
    """The gain (and, where needed, the limited clips) that meet the loudness target.

    With ``plans``, a session mastered before (the same clips at the same places) takes the
    plan it got then instead of searching again. ``measures``: where the clips' profiles come
    from (by default each clip in ``audio`` is profiled).
    """
    measures = measures or SamplesMeasured(audio)
    if plans is None:
        plan = plan_for(timeline, audio, measures)
    else:
        key = plan_key(timeline, measures)
        found = plans.load(key)
        plan = found or plan_for(timeline, audio, measures)
        if found is None:
            plans.save(key, plan)
    limited = _limiter(timeline, plan.limit_at)
    return Mastered(
        Transformed(audio, limited) if math.isfinite(plan.limit_at) else audio,
        plan,
        target_for(timeline.channels),
    )


def plan_for(
    timeline: Timeline, audio: Mapping[str, Samples], measures: Measures | None = None
) -> Plan:
    """Measure the session and find the gain, and the clips' ceiling if one is needed."""
    aim = target_for(timeline.channels) + ENCODER_LOSS_DB
    ceiling = TRUE_PEAK_CEILING_DB - ENCODER_MARGIN_DB
    session = _Session.of(timeline, audio, measures or SamplesMeasured(audio))
    measured = session.measured(math.inf)
    if not math.isfinite(measured.loudness):  # silence (a timer without bells): nothing to do
        return Plan(math.inf, 0.0, measured.loudness, measured.true_peak, 0)
    if not any(event.kind == "speech" for event in timeline.events):
        # Bells and beds alone (a timer) are not spoken word: brought to the target they would
        # ring louder than in any guided session. They get a guided session's usual gain.
        boost = min(WORDLESS_GAIN_DB, ceiling - measured.true_peak)
        loudness = measured.loudness + boost - ENCODER_LOSS_DB
        return Plan(math.inf, boost, loudness, measured.true_peak + boost, 0)
    best = _limiting(session, measured, aim, ceiling)
    peak = (
        session.limited_peak(best.limit_at) if math.isfinite(best.limit_at) else measured.true_peak
    )
    boost = min(aim - best.measured.loudness, ceiling - peak)
    return Plan(
        best.limit_at,
        boost,
        best.measured.loudness + boost - ENCODER_LOSS_DB,
        peak + boost,
        best.limited,
    )


@dataclass(frozen=True)
class Candidate:
    """Clips limited at one ceiling (dBTP; inf: none), and how the mix measures with them."""

    limit_at: float
    measured: Measured
    limited: int

    def reach(self, aim: float, ceiling: float) -> float:
        """The loudness one gain can give this mix without passing the ceiling (at most aim)."""
        return min(aim, self.measured.loudness + ceiling - self.measured.true_peak)


def _limiting(session: _Session, measured: Measured, aim: float, ceiling: float) -> Candidate:
    """The clips' ceiling at which one gain reaches the aim under the true-peak ceiling, or
    the closest found.

    A gain meets the aim under the ceiling when the mix's crest (true peak over loudness) is at
    most ``need``. Limiting the clips' peaks lowers the crest, and also a little of the loudness
    (more, the deeper it cuts into speech), so the clips' ceiling is found by the secant method.
    """
    need = ceiling - aim
    best = Candidate(math.inf, measured, 0)
    guess = ceiling - (aim - measured.loudness)
    room = db_to_gain(guess) - session.loudest_bed()  # a bed under words adds its peaks
    limit_at = 20 * math.log10(max(room, db_to_gain(guess - MAX_LIMIT_DB)))
    tried = [(measured.true_peak, _crest(measured))]  # unlimited: as if limited at its own peak
    for _ in range(LIMIT_ROUNDS):
        if _crest(best.measured) <= need + CREST_SLACK_DB:
            break
        candidate = Candidate(limit_at, session.measured(limit_at), session.over(limit_at))
        if candidate.reach(aim, ceiling) > best.reach(aim, ceiling):
            best = candidate
        tried.append((limit_at, _crest(candidate.measured)))
        (at_before, crest_before), (at_now, crest_now) = tried[-2:]
        slope = (crest_now - crest_before) / (at_now - at_before) if at_now != at_before else 1.0
        if slope <= 0:  # limiting deeper no longer lowers the crest (a bed's peaks rule it)
            break
        limit_at -= (crest_now - need) / min(max(slope, 0.1), 1.5)
        limit_at = max(limit_at, guess - MAX_LIMIT_DB)
    return best


def _crest(measured: Measured) -> float:
    return measured.true_peak - measured.loudness


@dataclass(frozen=True)
class _Searched:
    """A clip as the search sees it, in profiles.BLOCK blocks: its profile, and its envelope
    found as far down as the ceilings tried."""

    peak: float  # dBTP: the clip's true peak
    energy: Floats  # per block: the K-weighted sum of squares
    # the clip, read again when a ceiling is first tried: not held, so the search does not keep
    # every clip of the session in memory (220 MB for hip-release at 60 minutes, measured)
    read: Callable[[], Samples]
    # per block: the loudest envelope point, dB, exact wherever it passes the level (dBFS) it
    # is keyed by: only the blocks a ceiling tried can reach are oversampled, when first tried
    envelopes: dict[float, Floats] = dataclasses.field(default_factory=dict, compare=False)

    def envelope(self, floor_db: float) -> Floats:
        """Per block the loudest envelope point (dB), exact wherever it is over ``floor_db``
        (elsewhere some value under it)."""
        for done, found in self.envelopes.items():
            if done <= floor_db:
                return found
        level = floor_db - ENVELOPE_SLACK_DB  # a lower ceiling tried next is likely covered
        clip = self.read()
        starts = np.arange(0, clip.size, BLOCK)
        loudest = np.maximum.reduceat(envelope(clip, level), starts).astype(np.float64)
        decibels: Floats = 20 * np.log10(np.maximum(loudest, 1e-12))
        self.envelopes.clear()
        self.envelopes[level] = decibels
        return decibels

    def energy_limited(self, limit_at: float, rate: int) -> Floats:
        """The blocks' energy once the clip is limited to ``limit_at`` (estimated: the limiter's
        gain worked out on the blocks)."""
        if self.peak <= limit_at:
            return self.energy
        floor = limit_at - LIMIT_MARGIN_DB
        needed = np.maximum(self.envelope(floor) - floor, 0.0)
        gain_db = reduction(needed, rate / BLOCK)
        limited: Floats = self.energy * 10 ** (-gain_db / 10)
        return limited


def _searched(audio: Mapping[str, Samples], key: str, measured: Profile) -> _Searched:
    """The clip's profile; its envelope is found when a ceiling is tried, and only as far down
    as the ceiling (``_Searched.envelope``)."""
    peak = 20 * math.log10(max(db_to_gain(measured.peak), 1e-12))
    energy = measured.energy.astype(np.float64)  # the search's sums, as the meter's, in float64
    return _Searched(peak, energy, functools.partial(audio.__getitem__, key))


@dataclass(frozen=True)
class _Island:
    """Placed clips that sound together (overlapping), and the loops under them."""

    events: tuple[Event, ...]
    loops: tuple[Event, ...]
    peak: float  # dBTP of this stretch of the mix, as the clips are (not limited)

    @property
    def span(self) -> tuple[int, int]:
        return self.events[0].start, max(event.end for event in self.events)


@dataclass(frozen=True)
class _Session:
    """What the search needs of a session: clip profiles, placements, the loops' energy."""

    timeline: Timeline
    audio: Mapping[str, Samples]
    profiles: Mapping[str, _Searched]
    islands: tuple[_Island, ...]
    loops_energy: Floats  # per 100 ms step: the loops' K-weighted energy, ducked as mixed
    loop_peaks: Mapping[str, float]  # linear: every loop's true peak
    speech: tuple[tuple[int, int], ...]  # where words are spoken: loops duck under them

    @classmethod
    def of(cls, timeline: Timeline, audio: Mapping[str, Samples], measures: Measures) -> _Session:
        keys = sorted(_placed(timeline))
        measured = measures.profiles(keys, timeline.sample_rate)
        profiles = {key: _searched(audio, key, measured[key]) for key in keys}
        speech = tuple((e.start, e.end) for e in timeline.events if e.kind == "speech")
        loop_peaks = {
            event.clip: db_to_gain(true_peak(audio[event.clip])) if audio[event.clip].size else 0.0
            for event in _loops(timeline)
        }
        return cls(
            timeline,
            audio,
            profiles,
            tuple(_islands_of(timeline, audio, profiles, speech)),
            _loops_energy(timeline, audio, speech),
            loop_peaks,
            speech,
        )

    @property
    def loops_peak(self) -> float:
        """Linear: every loop at its loudest at once (where nothing else sounds)."""
        return sum(self.loop_peaks.values())

    def over(self, limit_at: float) -> int:
        """How many clips limiting at ``limit_at`` changes."""
        return sum(1 for profile in self.profiles.values() if profile.peak > limit_at)

    def measured(self, limit_at: float) -> Measured:
        """Loudness and true peak (estimated) with every placed clip limited to limit_at."""
        self._find_envelopes(limit_at)
        return Measured(self._loudness(limit_at), self._peak(limit_at))

    def _find_envelopes(self, limit_at: float) -> None:
        """The envelopes limiting at ``limit_at`` needs (``_Searched.energy_limited``), found on
        every core, each clip read and oversampled by one thread: for the 84 clips `make bench`'s
        script limits, 0.30 s on one thread."""
        over = [searched for searched in self.profiles.values() if searched.peak > limit_at]
        floor = limit_at - LIMIT_MARGIN_DB
        if len(over) > 1:
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                list(pool.map(lambda searched: searched.envelope(floor), over))

    def _loudness(self, limit_at: float) -> float:
        """The voice's loudness where there is one, else the whole mix's (a timer's bells).

        The target is the voice's (dialogue-gated, as broadcast loudness is): bells, beds and
        music keep the level the listener set against it. Measured over the whole mix, a loud
        bed would lower the loudness read, the gain would rise, and the limiter, cutting into
        the words to make room, would leave the bed louder against the voice than it was set.
        """
        timeline, rate = self.timeline, self.timeline.sample_rate
        step = round(STEP_SECONDS * rate)
        voiced = bool(self.speech)
        # each clip's blocks added into the steps as it comes, in order (the sums bincount made
        # of every block at once, which held two float64 values a block: 56 MB an hour, measured)
        placed = np.zeros_like(self.loops_energy)
        for event in timeline.events:
            if event.clip not in self.profiles or (voiced and event.kind != "speech"):
                continue
            energy = self.profiles[event.clip].energy_limited(limit_at, rate)
            blocks = min(energy.size, -(-(event.end - event.start) // BLOCK))
            steps = (event.start + np.arange(blocks) * BLOCK) // step
            inside = int(np.searchsorted(steps, placed.size))  # steps only rise
            weights = energy[:inside] * _channel_energy(event.pan, timeline.channels)
            np.add.at(placed, steps[:inside], weights)
        energies = placed if voiced else self.loops_energy + placed
        return integrated_loudness(energies, step)

    def _peak(self, limit_at: float) -> float:
        """The largest island's peak (estimated): its loudest clip limited to at most limit_at,
        plus what the rest of the stretch (a loop, another clip) added to the clip's own peak
        before limiting, which limiting is taken not to lower."""
        loudest = self.loops_peak
        for island in self.islands:
            clip_peak = max(self.profiles[event.clip].peak for event in island.events)
            added = max(0.0, db_to_gain(island.peak) - db_to_gain(clip_peak))
            loudest = max(loudest, db_to_gain(min(clip_peak, limit_at)) + added)
        return 20 * math.log10(loudest) if loudest > 0 else -math.inf

    def limited_peak(self, limit_at: float) -> float:
        """The mix's true peak with the clips limited to limit_at, measured where clips overlap
        each other or a loop (those stretches are mixed), and at most limit_at elsewhere."""
        limited = Transformed(self.audio, _limiter(self.timeline, limit_at))
        loudest = self.loops_peak
        for island in self.islands:
            if len(island.events) == 1 and not island.loops:
                peak = min(self.profiles[island.events[0].clip].peak, limit_at)
            else:
                events = [*island.events, *island.loops]
                mixed = mix_span(self.timeline, limited, island.span, events, self.speech)
                peak = true_peak(mixed)
            loudest = max(loudest, db_to_gain(peak))
        return 20 * math.log10(loudest) if loudest > 0 else -math.inf

    def loudest_bed(self) -> float:
        """The highest peak (linear) a loop reaches while words are spoken over it (ducked)."""
        ducked = [
            self.loop_peaks[e.clip] * db_to_gain(-LOOPS[e.kind].duck_db)
            for e in _loops(self.timeline)
        ]
        return max(ducked, default=0.0)


def _channel_energy(pan: float, channels: int) -> float:
    """How much of a mono clip's energy a placement puts into the file (both channels weigh 1)."""
    return 1.0 if channels == 1 else float(np.sum(pan_gains(pan) ** 2))


def _islands_of(
    timeline: Timeline,
    audio: Mapping[str, Samples],
    profiles: Mapping[str, _Searched],
    speech: Sequence[tuple[int, int]],
) -> Iterator[_Island]:
    """The placed clips in groups that overlap, in time order, with the loops under each; a
    group of more than one, or over a loop, is mixed and its true peak measured."""
    loops = _loops(timeline)
    for group in _groups(timeline.events):
        first, last = group[0].start, max(event.end for event in group)
        under = tuple(loop for loop in loops if loop.start < last and first < loop.end)
        if len(group) == 1 and not under:
            peak = profiles[group[0].clip].peak
        else:
            mixed = mix_span(timeline, audio, (first, last), [*group, *under], speech)
            peak = true_peak(mixed)
        yield _Island(tuple(group), under, peak)


def _groups(events: Sequence[Event]) -> Iterator[list[Event]]:
    """The placed clips (loops left out) in groups that overlap, in time order."""
    placed = sorted((e for e in events if e.clip and e.kind not in LOOPS), key=lambda e: e.start)
    group: list[Event] = []
    end = 0
    for event in placed:
        if group and event.start >= end:
            yield group
            group = []
        group.append(event)
        end = max(end, event.end) if len(group) > 1 else event.end
    if group:
        yield group


def _loops_energy(
    timeline: Timeline, audio: Mapping[str, Samples], speech: Sequence[tuple[int, int]]
) -> Floats:
    """The loops' K-weighted energy in each 100 ms step, as the mix plays them (ducked, faded)."""
    rate = timeline.sample_rate
    step = round(STEP_SECONDS * rate)
    energies = np.zeros(timeline.length // step)
    loops = _loops(timeline)
    if not loops:
        return energies
    weighted = {event.clip: _weighted_loop(audio[event.clip], rate) for event in loops}
    block = BLOCK_SECONDS * rate  # a whole number of steps
    for first in range(0, energies.size * step, block):
        last = min(first + block, energies.size * step)
        mixed = mix_span(timeline, weighted, (first, last), loops, speech)
        squares = np.square(mixed, dtype=np.float64).reshape(-1, step, timeline.channels)
        energies[first // step : last // step] = squares.sum(axis=(1, 2))
    return energies


def _weighted_loop(loop: Samples, rate: int) -> Samples:
    """A loop K-weighted as it sounds looping: filtered twice over, the second time kept
    (the filter has settled by then, and a loop's end leads into its start)."""
    if loop.size == 0:
        return loop
    return frozen(k_weighted_looped(loop, rate))


def _loops(timeline: Timeline) -> list[Event]:
    """The events that loop a sound for as long as they last (beds, music)."""
    return [event for event in timeline.events if event.kind in LOOPS and event.clip]


def _placed(timeline: Timeline) -> set[str]:
    """The clips the timeline places once each (loops left out): what limiting applies to."""
    return {event.clip for event in timeline.events if event.clip and event.kind not in LOOPS}


def _limiter(timeline: Timeline, limit_at: float) -> Callable[[str, Samples], Samples]:
    placed = _placed(timeline)

    def limited(key: str, clip: Samples) -> Samples:
        return limit(clip, limit_at, timeline.sample_rate) if key in placed else clip

    return limited


class Transformed(Mapping[str, Samples]):
    """The clips, each transformed when first asked for, and kept while memory allows.

    The mix asks for the clips sounding in each block, in time order: the clips it asked for
    lately are kept (up to ``budget`` bytes), so no transformed copy of every clip is held.
    """

    def __init__(
        self,
        audio: Mapping[str, Samples],
        transform: Callable[[str, Samples], Samples],
        budget: int = TRANSFORMED_BUDGET_BYTES,
    ) -> None:
        self._audio = audio
        self._transform = transform
        self._budget = budget
        self._kept: dict[str, Samples] = {}  # oldest first
        self._bytes = 0

    def __getitem__(self, key: str) -> Samples:
        clip = self._kept.pop(key, None)
        if clip is None:
            clip = self._transform(key, self._audio[key])
            self._bytes += clip.nbytes
        self._kept[key] = clip  # now the newest
        while self._bytes > self._budget and len(self._kept) > 1:
            self._bytes -= self._kept.pop(next(iter(self._kept))).nbytes
        return clip

    def __iter__(self) -> Iterator[str]:
        return iter(self._audio)

    def kept(self) -> list[str]:
        """The clips held transformed now, oldest first."""
        return list(self._kept)

    def __len__(self) -> int:
        return len(self._audio)


def plan_key(timeline: Timeline, measures: Measures) -> str:
    """What decides a plan: the targets, every placement, and the placed clips' audio (each as
    ``measures.identity`` gives it: a speech clip by its cache entry and level, unread)."""
    digest = hashlib.blake2b(digest_size=20)
    settings = (PLAN_FORMAT, ENCODER_LOSS_DB, ENCODER_MARGIN_DB, WORDLESS_GAIN_DB)
    digest.update(json.dumps([settings, timeline.sample_rate, timeline.channels]).encode())
    digest.update(json.dumps(timeline.length).encode())
    placements = [(e.kind, e.start, e.end, e.clip, e.pan) for e in timeline.events if e.clip]
    digest.update(json.dumps(placements).encode())
    for key in sorted({clip for *_, clip, _ in placements}):
        digest.update(key.encode())
        digest.update(measures.identity(key))
    return digest.hexdigest()


class PlanCache:
    """Plans on disk (``files/memo.py``), beside the speech clips' cache."""

    def __init__(self, root: Path) -> None:
        self.memo = Memo(root / "mastering")

    def load(self, key: str) -> Plan | None:
        text = self.memo.load(key)
        try:
            return None if text is None else Plan.from_json(text)
        except (ValueError, TypeError, KeyError):  # damaged: mastered again
            return None

    def save(self, key: str, plan: Plan) -> None:
        self.memo.save(key, plan.to_json())
