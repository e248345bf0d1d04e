"""Stage 5: every cue gets an absolute sample position (``events.py`` holds the values).

Positions come from an exact running time (fractions of a second), rounded to a sample only when
an event is placed, so fixed windows never drift however many of them follow each other. Breath
phases and holds are laid on their own exact grid from their first sample: phase k of a breathing
pattern starts at ``origin + round(offset_k * rate)`` whatever the words in it take.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice

from generator.base.durations import format_clock_ms, format_seconds
from generator.errors import MarkupError, Source
from generator.markup.breathing import Phase, ToneKind
from generator.markup.cues import (
    DEFAULT,
    NO_BELL,
    OFF,
    SILENCE_TOKEN,
    AmbienceChange,
    At,
    Bell,
    BellSchedule,
    Breathe,
    Chapter,
    Cue,
    Hold,
    Pause,
    RateChange,
    Speech,
    VoiceChange,
    Window,
    next_silence,
)
from generator.markup.wording import number_words, spoken_length
from generator.recipes.settings import RATE_RANGE, Settings
from generator.speech.delivery import PhraseMark
from generator.timeline.events import (
    ChapterMark,
    ClipRef,
    ClipSource,
    Event,
    EventKind,
    Span,
    Timeline,
    ambience_id,
    music_id,
)

LEAD_IN = Fraction(1)  # seconds of silence before the first cue: players clip the very start
TAIL = Fraction(2)  # seconds of silence after the last cue
STRIKE_SPACING = Fraction(5, 2)  # seconds between the strikes of a double or triple bell
LAST_INTERVAL_BELL = Fraction(10)  # no interval bell this close to the end of its silence
TONE_GAP = Fraction(1, 4)  # a breath tone stops this much before its phase ends: phases stay apart


def build_timeline(
    title: str,
    cues: Sequence[Cue],
    settings: Settings,
    clips: ClipSource,
    sample_rate: int,
    stretch: Fraction = Fraction(0),
) -> Timeline:
    """Place the cues one after another. ``stretch`` (-1..1) sets every elastic pause's length."""
    placer = _Placer(settings, clips, sample_rate, stretch)
    placer.warm_up()
    placer.place_all(cues)
    return placer.finish(title)


def announced(text: str, following: Iterable[Cue], settings: Settings, stretch: Fraction) -> str:
    """The words an utterance really says: {silence} becomes the next silence's length."""
    if SILENCE_TOKEN not in text:
        return text
    silence = next_silence(following)
    if silence is None:  # parse_cues refuses this; kept for cues built by hand
        return text.replace(SILENCE_TOKEN, "a while")
    if isinstance(silence, Hold):
        seconds = silence.duration.resolve(settings.breath)
    else:
        seconds = silence.seconds(settings.breath, stretch)
    return text.replace(SILENCE_TOKEN, spoken_length(seconds))


@dataclass(frozen=True)
class _Context:
    """What every event placed now carries: the hold's side and pose, the breath phase."""

    side: str = ""
    pose: str = ""
    pan: float = 0.0
    phase: str = ""
    round: int = 0


class _Placer:
    def __init__(
        self, settings: Settings, clips: ClipSource, sample_rate: int, stretch: Fraction
    ) -> None:
        self.settings = settings
        self.clips = clips
        self.sample_rate = sample_rate
        self.stretch = stretch
        self.now = LEAD_IN  # exact running time in seconds
        self.events: list[Event] = []
        self.spans: list[Span] = []
        self.chapter_starts: list[tuple[str, int, Source]] = []
        self.warnings: list[str] = []
        self.after_speech = False  # two utterances in a row get the settings' gap between them
        # The last bell's first strike (on its sample) and when its ring ends, in seconds: a
        # [pause … from the bell] counts from that strike.
        self.struck: tuple[Fraction, Fraction] | None = None
        self.context = _Context()
        self.side_lengths: dict[str, tuple[int, Source]] = {}  # pose -> samples of a side
        self.stereo = False
        self.voice = settings.voice  # [voice] and [rate] change these from their cue on
        self.bed: tuple[str, int, Source | None] | None = None  # the ambience playing: since when
        self.speaking_rate = settings.rate

    def sample(self, seconds: Fraction) -> int:
        return round(seconds * self.sample_rate)

    def add(
        self,
        kind: EventKind,
        start: int,
        end: int,
        source: Source | None,
        *,
        text: str = "",
        sound: str = "",
        clip: ClipRef | None = None,
        detail: str = "",
        voice: str = "",
        rate: int = 0,
        prompt: bool = False,
        phrases: tuple[PhraseMark, ...] = (),
    ) -> Event:
        """Record an event, with what the current context (breath phase, hold) adds to it."""
        context = self.context
        event = Event(
            kind, start, end, source, text=text, sound=sound,
            clip=clip.id if clip else "", detail=detail,
            phase=context.phase, round=context.round, side=context.side, pose=context.pose,
            pan=context.pan,
            voice=voice, rate=rate,
            spoken=clip.spoken if clip and clip.spoken != text else "", prompt=prompt,
            phrases=phrases,
        )  # fmt: skip
        self.events.append(event)
        return event

    def warm_up(self) -> None:
        self._ambience(self.settings.ambience, None, here=0)  # the session's bed: from sample 0
        if self.settings.warmup:
            self._silence(
                self.settings.warmup, None, f"warm-up {format_seconds(self.settings.warmup)}"
            )

    def place_all(self, cues: Sequence[Cue]) -> None:
        for index, cue in enumerate(cues):
            self.place(cue, islice(cues, index + 1, None))  # lazy: read only for {silence}

    def place(self, cue: Cue, following: Iterable[Cue]) -> None:
        match cue:
            case Speech():
                if self.after_speech:
                    self.now += self.settings.gap
                self._speech(cue, following)
                self.after_speech = True
                return
            case Pause():
                self._pause(cue)
            case Window():
                self._window(cue, following)
            case Bell():
                strike = Fraction(self.sample(self.now), self.sample_rate)
                self.now = self._strike(cue.sound, cue.strikes, self.now, cue.source)
                self.struck = (strike, self.now)
            case Chapter():
                self.chapter_starts.append((cue.title, self.sample(self.now), cue.source))
                return
            case Breathe():
                self._breathe(cue)
            case Hold():
                self._hold(cue)
            case VoiceChange():
                self.voice = self.settings.voice if cue.voice == DEFAULT else cue.voice
                return
            case RateChange():
                shared = max(round(self.settings.rate * cue.pace), RATE_RANGE[0])
                self.speaking_rate = cue.rate or shared
                return
            case AmbienceChange():
                self._ambience(cue.bed, cue.source)
                return
            case At():  # pragma: no cover - parse_cues keeps [at] inside holds, handled there
                raise MarkupError("[at …] outside a [hold]", where=cue.source)
        self.after_speech = False

    def _speech(self, cue: Speech | Window, following: Iterable[Cue]) -> None:
        text = announced(cue.text, following, self.settings, self.stretch)
        rate = self.speaking_rate
        if isinstance(cue, Speech):
            rate = cue.rate or round(self.speaking_rate * cue.pace)
        prompt = isinstance(cue, Speech) and cue.prompt
        start = self._say(text, self.sample(self.now), rate, cue.source, prompt)
        self.now = Fraction(start, self.sample_rate)

    def _say(self, text: str, start: int, rate: int, source: Source, prompt: bool = False) -> int:
        """Place an utterance at a sample in the current voice; returns its end."""
        clip = self.clips.speech(text, self.voice, rate)
        end = start + clip.samples
        phrases = tuple(mark.shifted(start) for mark in clip.phrases)  # in the file's samples
        self.add(
            "speech", start, end, source,
            text=text, clip=clip, voice=self.voice, rate=rate, prompt=prompt, phrases=phrases,
        )  # fmt: skip
        return end

    def _strike(self, name: str, strikes: int, at: Fraction, source: Source) -> Fraction:
        """Ring a bell (struck ``strikes`` times) at ``at``; returns when its last ring fades."""
        sound = name or self.settings.bell
        if sound == NO_BELL:
            return at
        clip = self.clips.bell(sound)
        end = at
        for strike in range(strikes):
            start = self.sample(at + strike * STRIKE_SPACING)
            self.add("bell", start, start + clip.samples, source, sound=sound, clip=clip)
            end = Fraction(start + clip.samples, self.sample_rate)
        return end

    def _silence(self, seconds: Fraction, source: Source | None, detail: str = "") -> None:
        start, end = self.sample(self.now), self.sample(self.now + seconds)
        if end > start:
            self.add("pause", start, end, source, detail=detail)
        self.now += seconds

    def _pause(self, cue: Pause) -> None:
        breath = self.settings.breath
        seconds = cue.seconds(breath, self.stretch)
        begins = self._bell_strike(cue, seconds) if cue.from_bell else self.now
        detail = _pause_detail(cue, breath, seconds)
        if cue.from_bell:
            detail = ", ".join(part for part in (detail, "counted from the bell's strike") if part)
        # From the bell, the silence is what is left after the ring: the next cue starts exactly
        # ``seconds`` after the strike, whatever the bell's sound, with no rounding carried on.
        self._silence(begins + seconds - self.now, cue.source, detail)
        if cue.bells is not None:
            for offset in _bell_times(cue.bells, seconds, breath, cue.source):
                self._strike(cue.bells.sound, cue.bells.strikes, begins + offset, cue.source)

    def _bell_strike(self, cue: Pause, seconds: Fraction) -> Fraction:
        """When the bell before a [pause … from the bell] was struck; MarkupError when no bell
        comes just before it, or when the pause would end before that bell has faded."""
        if self.struck is None or self.struck[1] != self.now:  # parse_cues refuses this too
            raise MarkupError(
                "[pause … from the bell] does not follow a [bell]",
                where=cue.source,
                fix="Strike one on the line before it: [bell], then [pause 20m from the bell].",
            )
        strike, faded = self.struck
        if strike + seconds < faded:
            raise MarkupError(
                f"[pause … from the bell] lasts {format_seconds(seconds)} from the strike, but the "
                f"bell before it rings for {format_seconds(faded - strike)}",
                where=cue.source,
                fix=f"Make the pause at least {format_seconds(faded - strike)}, or ring a shorter "
                "bell.",
            )
        return strike

    def _window(self, cue: Window, following: Iterable[Cue]) -> None:
        closes = self.now + cue.duration.resolve(self.settings.breath)
        if cue.music:  # under the whole window, however long its words take
            start, end = self.sample(self.now), self.sample(closes)
            music = ClipRef(music_id(cue.music), end - start)
            self.add("music", start, end, cue.source, sound=cue.music, clip=music)
        if cue.text:
            self._speech(cue, following)
            if self.now > closes:
                said = self.events[-1]
                spoken = (said.end - said.start) / self.sample_rate
                self.warnings.append(
                    f"{cue.source}: warning: the speech takes {spoken:.2f}s, longer than "
                    f"its [for {cue.duration}] window; the window was extended"
                )
                return
        self._silence(closes - self.now, cue.source)  # the rest of the window

    def _breathe(self, cue: Breathe) -> None:
        pattern = cue.pattern
        per_round = pattern.round_seconds
        if cue.length is not None:
            total = cue.length.resolve(self.settings.breath)
            rounds = math.floor(total / per_round)
            if rounds == 0:
                raise MarkupError(
                    f"[breathe {pattern.name} for {cue.length}]: shorter than one round "
                    f"({format_seconds(per_round)})",
                    where=cue.source,
                    fix=f"Give it at least {format_seconds(per_round)}.",
                )
        else:
            rounds = cue.rounds or 1
            total = rounds * per_round
        spoken = rounds if cue.spoken_rounds is None else min(cue.spoken_rounds, rounds)
        origin = self.sample(self.now)
        offset = Fraction(0)
        overruns: list[str] = []
        for number in range(1, rounds + 1):
            for phase in pattern.phases:
                self.context = _Context(phase=phase.name, round=number)
                start = origin + self.sample(offset)
                end = origin + self.sample(offset + phase.seconds)
                if number <= spoken:
                    overruns += self._spoken_phase(phase, start, end, cue)
                elif cue.tones and phase.tone is not None:
                    self._tone_phase(phase.tone, start, end, cue.source)
                else:
                    self.add("pause", start, end, cue.source, detail=f"{phase.name}, quiet")
                offset += phase.seconds
        self.context = _Context()
        if total > offset:
            quiet, closes = origin + self.sample(offset), origin + self.sample(total)
            self.add("pause", quiet, closes, cue.source, detail="rest of the breathing time")
        self.now = Fraction(origin, self.sample_rate) + total
        detail = f"{rounds} rounds x ({pattern.describe()}) = {format_clock_ms(rounds * per_round)}"
        if total > rounds * per_round:
            detail += f", then {format_seconds(total - rounds * per_round)} of quiet"
        closes = origin + self.sample(total)
        self.spans.append(Span("breathe", origin, closes, cue.source, pattern.name, detail))
        for word in sorted(set(overruns)):
            self.warnings.append(
                f"{cue.source}: warning: {word!r} is longer than its breath phase "
                "and runs into the next"
            )

    def _spoken_phase(self, phase: Phase, start: int, end: int, cue: Breathe) -> list[str]:
        """The phase word at the phase's start, counts on each second after it; returns overruns."""
        seconds = range(1, math.ceil(phase.seconds)) if cue.count else range(0)
        words = [phase.word, *(number_words(second + 1) for second in seconds)]
        starts = [start, *(start + self.sample(Fraction(second)) for second in seconds)]
        overruns = []
        last = start
        for word, at, limit in zip(words, starts, [*starts[1:], end], strict=True):
            said = self._say(word, at, self.speaking_rate, cue.source)
            if said > limit:
                overruns.append(word)
            last = max(last, said)
        if end > last:
            self.add("pause", last, end, cue.source, detail=f"rest of the {phase.name}")
        return overruns

    def _tone_phase(self, kind: ToneKind, start: int, end: int, source: Source) -> None:
        length = max(end - start - self.sample(TONE_GAP), (end - start) // 2)
        clip = self.clips.tone(kind, length)
        self.add("tone", start, start + clip.samples, source, sound=kind, clip=clip)
        self.add("pause", start + clip.samples, end, source, detail="between tones")

    def _hold(self, cue: Hold) -> None:
        seconds = cue.duration.resolve(self.settings.breath)
        origin = self.sample(self.now)
        closes = origin + self.sample(seconds)
        self._check_sides(cue, closes - origin)
        pan = 0.0
        if cue.side in ("left", "right") and self.settings.side_pan:
            pan = float(self.settings.side_pan) * (-1 if cue.side == "left" else 1)
            self.stereo = True
        self.context = _Context(side=cue.side, pose=cue.pose, pan=pan)
        self.now = Fraction(origin, self.sample_rate)
        self.after_speech = False
        for at, cues in _segments(cue):
            anchor = self._anchor(cue, at, seconds, origin)
            if anchor > self.now:
                self._silence(anchor - self.now, at.source if at else cue.source)
            elif anchor < self.now:
                self.warnings.append(
                    f"{at.source if at else cue.source}: warning: the words before it run "
                    f"{float(self.now - anchor):.2f}s past this point; they start late"
                )
            self.after_speech = False
            self.place_all(cues)
        if self.sample(self.now) > closes:
            self.warnings.append(
                f"{cue.source}: warning: its cues run "
                f"{float(self.now - Fraction(closes, self.sample_rate)):.2f}s past the "
                f"[hold {cue.duration}]; the hold was extended"
            )
            closes = self.sample(self.now)
        elif self.sample(self.now) < closes:
            self._silence(Fraction(closes, self.sample_rate) - self.now, cue.source)
        self.context = _Context()
        self.now = Fraction(closes, self.sample_rate)
        arithmetic = _breaths_detail(cue.duration.breaths, self.settings.breath, seconds)
        label = " ".join(
            part for part in (cue.pose, f"{cue.side} side" if cue.side else "") if part
        )
        self.spans.append(
            Span(
                "hold", origin, closes, cue.source, label or "hold", arithmetic, cue.side, cue.pose
            )
        )

    def _anchor(self, cue: Hold, at: At | None, seconds: Fraction, origin: int) -> Fraction:
        if at is None:
            return Fraction(origin, self.sample_rate)
        offset = at.offset.resolve(self.settings.breath)
        if offset > seconds:
            raise MarkupError(
                f"[at {at.offset}{' to go' if at.from_end else ''}] is beyond the end of its "
                f"[hold {cue.duration}]",
                where=at.source,
                fix="Use a time within the hold.",
            )
        return Fraction(origin, self.sample_rate) + (seconds - offset if at.from_end else offset)

    def _check_sides(self, cue: Hold, samples: int) -> None:
        """Both sides of a pose hold for exactly the same number of samples, or it is an error."""
        if not cue.side or not cue.pose:
            return
        if cue.pose not in self.side_lengths:
            self.side_lengths[cue.pose] = (samples, cue.source)
            return
        first, where = self.side_lengths[cue.pose]
        if first != samples:
            raise MarkupError(
                f"the {cue.side} side of {cue.pose} holds {self._length(samples)}, "
                f"but the side at {where} holds {self._length(first)}",
                where=cue.source,
                fix="Give both sides the same [hold] length.",
            )

    def _length(self, samples: int) -> str:
        return format_seconds(Fraction(samples, self.sample_rate))

    def _ambience(self, bed: str, source: Source | None, here: int | None = None) -> None:
        """End the bed playing (if any) here, and start ``bed`` unless it is off."""
        here = self.sample(self.now) if here is None else here
        if self.bed is not None:
            name, start, where = self.bed
            if here > start:
                clip = ClipRef(ambience_id(name), here - start)
                self.add("ambience", start, here, where, sound=name, clip=clip)
        self.bed = None if bed.lower() == OFF else (bed, here, source)

    def finish(self, title: str) -> Timeline:
        length = self.sample(self.now + TAIL)
        self._ambience(OFF, None, here=length)  # a bed plays to the very end of the file
        ends = [start for _, start, _ in self.chapter_starts[1:]]
        ends.append(length)
        chapters = tuple(
            ChapterMark(name, start, end, source)
            for (name, start, source), end in zip(self.chapter_starts, ends, strict=False)
        )
        events = tuple(sorted(self.events, key=lambda event: event.start))
        return Timeline(
            title,
            self.sample_rate,
            length,
            events,
            chapters,
            tuple(self.spans),
            2 if self.stereo else 1,
            tuple(self.warnings),
        )


def _segments(hold: Hold) -> list[tuple[At | None, list[Cue]]]:
    """A hold's body split at its [at] marks: (mark or None for the start, cues after it)."""
    segments: list[tuple[At | None, list[Cue]]] = [(None, [])]
    for cue in hold.body:
        if isinstance(cue, At):
            segments.append((cue, []))
        else:
            segments[-1][1].append(cue)
    return [(at, cues) for at, cues in segments if at is not None or cues]


def _bell_times(
    schedule: BellSchedule, seconds: Fraction, breath: Fraction, source: Source
) -> list[Fraction]:
    if schedule.every is not None:
        step = schedule.every.resolve(breath)
        last = math.ceil((seconds - LAST_INTERVAL_BELL) / step)  # k * step must stay below it
        return [step * k for k in range(1, max(last, 1))]
    times = [time.resolve(breath) for time in schedule.at]
    for time in times:
        if time > seconds:
            raise MarkupError(
                f"a bell at {format_seconds(time)} is after the end of its "
                f"{format_seconds(seconds)} silence",
                where=source,
                fix="List times within the pause.",
            )
    return sorted(times)


def _pause_detail(cue: Pause, breath: Fraction, seconds: Fraction) -> str:
    if cue.elastic:
        low, nominal, high = cue.bounds(breath)
        return (
            f"stretchable {format_seconds(low)}..{format_seconds(high)} "
            f"(usually {format_seconds(nominal)}) -> {format_clock_ms(seconds)}"
        )
    if cue.duration.breaths:
        return _breaths_detail(cue.duration.breaths, breath, seconds)
    return ""


def _breaths_detail(breaths: Fraction, breath: Fraction, seconds: Fraction) -> str:
    if not breaths:
        return format_clock_ms(seconds)
    count = f"{float(breaths):g} breath{'s' if breaths != 1 else ''}"
    return f"{count} x {format_seconds(breath)} = {format_clock_ms(seconds)}"
