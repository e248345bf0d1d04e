"""Stage 5's values: the timeline of placed events, spans and chapters, and where clips come from.

A ``Timeline`` is what every later stage reads: the mixer, mastering, the writers of the MP3's
chapters, the JSON and the transcripts, and the plan ``stillpoint script`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from generator.errors import Source
from generator.markup.breathing import ToneKind
from generator.speech.delivery import PhraseMark

EventKind = Literal["speech", "bell", "tone", "pause", "music", "ambience"]
SpanKind = Literal["breathe", "hold"]


@dataclass(frozen=True)
class ClipRef:
    """The audio a cue plays: an id to find its samples when mixing, and its length in samples."""

    id: str
    samples: int
    spoken: str = ""  # the words the engine was given, when a lexicon respelled them
    # Speech: where each phrase is heard, in samples from the clip's start, in the words as
    # written (known when it was spoken: the pauses between phrases are Stillpoint's own).
    phrases: tuple[PhraseMark, ...] = ()


def music_id(path: str) -> str:
    """The id a music file's samples go by in the mix."""
    return f"music:{path}"


def ambience_id(bed: str) -> str:
    """The id an ambience bed's loop goes by in the mix."""
    return f"ambience:{bed}"


class ClipSource(Protocol):
    """Where the timeline gets the length (and the mixer's id) of each sound it places."""

    def speech(self, text: str, voice: str, rate: int) -> ClipRef: ...

    def bell(self, name: str) -> ClipRef: ...

    def tone(self, kind: ToneKind, samples: int) -> ClipRef: ...


@dataclass(frozen=True)
class Event:
    kind: EventKind
    start: int  # sample of the first audible sample (speech, bell, tone) or of the silence
    end: int  # one past the last sample
    source: Source | None
    text: str = ""
    sound: str = ""
    clip: str = ""  # ClipRef.id of the audio mixed here; empty for silence
    detail: str = ""  # how a silence's length was reached, for the plan
    phase: str = ""  # in a breath pattern: inhale, hold, exhale, hold-empty, top-up
    round: int = 0  # in a breath pattern: 1, 2, ...
    side: str = ""  # in a two-sided hold: left or right
    pose: str = ""
    pan: float = 0.0  # -1 left … 1 right (stereo output only)
    voice: str = ""  # speech: the voice id and rate it was made with
    rate: int = 0
    spoken: str = ""  # speech: what the engine said, when a lexicon changed the words
    prompt: bool = False  # speech: a question to write about ([prompt])
    phrases: tuple[PhraseMark, ...] = ()  # speech: where each phrase is heard (file's samples)


@dataclass(frozen=True)
class Span:
    """A stretch laid on an exact grid: a breathing pattern or a hold."""

    kind: SpanKind
    start: int
    end: int
    source: Source
    label: str
    detail: str  # the arithmetic: "8 breaths x 10s = 1:20"
    side: str = ""
    pose: str = ""


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
    spans: tuple[Span, ...] = ()
    channels: int = 1
    warnings: tuple[str, ...] = ()

    def seconds(self, samples: int) -> float:
        return samples / self.sample_rate

    @property
    def duration(self) -> float:
        return self.seconds(self.length)
