"""Stage 5: every cue gets an absolute sample position.

Positions come from an exact running time (fractions of a second), rounded to a sample only when
an event is placed, so fixed windows never drift however many of them follow each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from generator.cues import Bell, Chapter, Cue, Pause, Speech, Window
from generator.errors import Source
from generator.recipe import Settings

LEAD_IN = Fraction(1)  # seconds of silence before the first cue: players clip the very start
TAIL = Fraction(2)  # seconds of silence after the last cue

EventKind = Literal["speech", "bell", "pause"]


@dataclass(frozen=True)
class ClipRef:
    """The audio a cue plays: an id to find its samples when mixing, and its length in samples."""

    id: str
    samples: int


@dataclass(frozen=True)
class Event:
    kind: EventKind
    start: int  # sample of the first audible sample (speech, bell) or of the silence
    end: int  # one past the last sample
    source: Source
    text: str = ""
    sound: str = ""
    clip: str = ""  # ClipRef.id of the audio mixed here; empty for silence


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start: int
    end: int
    source: Source


@dataclass(frozen=True)
class Timeline:
    title: str
    sample_rate: int
    length: int
    events: tuple[Event, ...]
    chapters: tuple[ChapterMark, ...]
    warnings: tuple[str, ...] = ()

    def seconds(self, samples: int) -> float:
        return samples / self.sample_rate

    @property
    def duration(self) -> float:
        return self.seconds(self.length)


ClipLookup = Callable[[Speech | Window | Bell], ClipRef]


def build_timeline(
    title: str,
    cues: Sequence[Cue],
    settings: Settings,
    clip_of: ClipLookup,
    sample_rate: int,
) -> Timeline:
    """Place the cues one after another; ``clip_of`` gives the audio of each sounding cue."""
    placer = _Placer(settings, clip_of, sample_rate)
    for cue in cues:
        placer.place(cue)
    return placer.finish(title)


class _Placer:
    def __init__(self, settings: Settings, clip_of: ClipLookup, sample_rate: int) -> None:
        self.settings = settings
        self.clip_of = clip_of
        self.rate = sample_rate
        self.now = LEAD_IN  # exact running time in seconds
        self.events: list[Event] = []
        self.chapter_starts: list[tuple[str, int, Source]] = []
        self.warnings: list[str] = []
        self.after_speech = False  # two utterances in a row get the settings' gap between them

    def sample(self, seconds: Fraction) -> int:
        return round(seconds * self.rate)

    def place(self, cue: Cue) -> None:
        match cue:
            case Speech():
                if self.after_speech:
                    self.now += self.settings.gap
                self._sound("speech", cue, text=cue.text)
                self.after_speech = True
                return
            case Pause():
                self._silence(cue.duration.resolve(self.settings.breath), cue.source)
            case Window():
                self._window(cue)
            case Bell():
                self._sound("bell", cue, sound=cue.sound)
            case Chapter():
                self.chapter_starts.append((cue.title, self.sample(self.now), cue.source))
                return
        self.after_speech = False

    def _sound(
        self, kind: EventKind, cue: Speech | Window | Bell, text: str = "", sound: str = ""
    ) -> None:
        clip = self.clip_of(cue)
        start = self.sample(self.now)
        end = start + clip.samples
        self.events.append(
            Event(kind, start, end, cue.source, text=text, sound=sound, clip=clip.id)
        )
        self.now = Fraction(end, self.rate)

    def _silence(self, seconds: Fraction, source: Source) -> None:
        start, end = self.sample(self.now), self.sample(self.now + seconds)
        if end > start:
            self.events.append(Event("pause", start, end, source))
        self.now += seconds

    def _window(self, cue: Window) -> None:
        closes = self.now + cue.duration.resolve(self.settings.breath)
        if cue.text:
            self._sound("speech", cue, text=cue.text)
            if self.now > closes:
                said = self.events[-1]
                spoken = (said.end - said.start) / self.rate
                self.warnings.append(
                    f"{cue.source}: warning: the speech takes {spoken:.2f}s, longer than "
                    f"its [for {cue.duration}] window; the window was extended"
                )
                return
        self._silence(closes - self.now, cue.source)  # the rest of the window

    def finish(self, title: str) -> Timeline:
        length = self.sample(self.now + TAIL)
        ends = [start for _, start, _ in self.chapter_starts[1:]]
        ends.append(length)
        chapters = tuple(
            ChapterMark(name, start, end, source)
            for (name, start, source), end in zip(self.chapter_starts, ends, strict=False)
        )
        return Timeline(
            title, self.rate, length, tuple(self.events), chapters, tuple(self.warnings)
        )
