"""Stage 3's values: typed, immutable cues that remember their source line.

``markup.py`` makes them from script markup; the timeline places them. A ``Hold`` carries the
cues inside it, so code that needs every cue uses ``walk``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from generator.base.durations import MAX_SECONDS, Duration, format_clock
from generator.errors import MarkupError, Source
from generator.markup.breathing import Pattern

SILENCE_TOKEN = "{silence}"  # noqa: S105 - not a password: replaced by the next silence's length
NO_BELL = "none"


@dataclass(frozen=True)
class Speech:
    text: str
    source: Source
    rate: int | None = None  # [say 110]: this utterance at this rate
    pace: Fraction = Fraction(1)  # [say slowly]: this utterance at a share of the current rate
    prompt: bool = False  # [prompt]: a question to write about, printed on the prompt sheet


@dataclass(frozen=True)
class VoiceChange:
    """[voice ID]: speech from here on in this voice; DEFAULT goes back to the session's."""

    voice: str
    source: Source


@dataclass(frozen=True)
class AmbienceChange:
    """[ambience NAME]: a bed (built-in name or a sound file) under all that follows; OFF stops."""

    bed: str
    source: Source


@dataclass(frozen=True)
class RateChange:
    """[rate WPM]: speech from here on at this rate; None: at ``pace`` times the session's
    ([rate slowly]: 4/5, [rate default]: 1)."""

    rate: int | None
    source: Source
    pace: Fraction = Fraction(1)


@dataclass(frozen=True)
class BellSchedule:
    """Bells inside a silence: every interval from its start, or at listed times."""

    sound: str = ""  # empty: the session's bell
    strikes: int = 1
    every: Duration | None = None
    at: tuple[Duration, ...] = ()


@dataclass(frozen=True)
class Pause:
    """Silence of a fixed length, or elastic between ``shortest`` and ``longest``.

    ``from_bell``: its length (and its interval bells) count from the first strike of the bell
    just before it, not from the end of that bell's ring, as a meditation timer counts: the next
    cue starts exactly this long after the strike.
    """

    duration: Duration  # the length when no total length is asked for
    source: Source
    shortest: Duration | None = None
    longest: Duration | None = None
    bells: BellSchedule | None = None
    from_bell: bool = False

    @property
    def elastic(self) -> bool:
        return self.shortest is not None

    def bounds(self, breath: Fraction) -> tuple[Fraction, Fraction, Fraction]:
        """(shortest, nominal, longest) in seconds."""
        nominal = self.duration.resolve(breath)
        if self.shortest is None or self.longest is None:
            return nominal, nominal, nominal
        return self.shortest.resolve(breath), nominal, self.longest.resolve(breath)

    def seconds(self, breath: Fraction, stretch: Fraction = Fraction(0)) -> Fraction:
        """The length at a stretch from -1 (all shortest) through 0 (nominal) to 1 (all longest).

        Every elastic pause gives up or takes the same share of its room, so they change
        proportionally.
        """
        low, nominal, high = self.bounds(breath)
        room = high - nominal if stretch >= 0 else nominal - low
        return nominal + stretch * room


@dataclass(frozen=True)
class Window:
    """A fixed stretch of time that may open with speech; the next cue starts when it ends."""

    duration: Duration
    text: str
    source: Source
    music: str = ""  # a sound file that plays under the window (the listener's own music)


@dataclass(frozen=True)
class Bell:
    sound: str  # empty: the session's default bell; "none": no sound
    source: Source
    strikes: int = 1


@dataclass(frozen=True)
class Chapter:
    title: str
    source: Source


@dataclass(frozen=True)
class Breathe:
    """A breath pattern for a number of rounds, or for as many whole rounds as fit a length."""

    pattern: Pattern
    source: Source
    rounds: int | None = None
    length: Duration | None = None
    spoken_rounds: int | None = None  # phase words for this many rounds; None: all of them
    tones: bool = False  # soft rising/falling tones in the rounds after the spoken ones
    count: bool = False  # count the seconds of each spoken phase aloud


@dataclass(frozen=True)
class At:
    """Inside a hold: the cues after it start this far from the hold's start (or its end)."""

    offset: Duration
    from_end: bool
    source: Source


@dataclass(frozen=True)
class Hold:
    """A window of exact length; the cues inside are placed at breath counts within it."""

    duration: Duration
    source: Source
    body: tuple[Cue, ...] = field(default=())
    pose: str = ""
    side: str = ""


Cue = (
    Speech
    | Pause
    | Window
    | Bell
    | Chapter
    | Breathe
    | At
    | Hold
    | VoiceChange
    | RateChange
    | AmbienceChange
)
DEFAULT = "default"  # [voice default], [rate default]
OFF = "off"  # [ambience off], ambience = "off"


def walk(cues: Sequence[Cue]) -> Iterator[Cue]:
    """Every cue, including those inside holds, in order."""
    for cue in cues:
        yield cue
        if isinstance(cue, Hold):
            yield from walk(cue.body)


def map_cues(cues: Sequence[Cue], change: Callable[[Cue], Cue]) -> tuple[Cue, ...]:
    """The cues with ``change`` applied to each, inside holds too."""
    changed = []
    for cue in cues:
        if isinstance(cue, Hold):
            cue = replace(cue, body=map_cues(cue.body, change))
        changed.append(change(cue))
    return tuple(changed)


def scaled_holds(cues: Sequence[Cue], scale: Fraction) -> tuple[Cue, ...]:
    """Every hold ``scale`` times as long (whole breaths stay whole); its [at] marks move with it.

    Marks counted from the start move proportionally; marks counted back from the end stay,
    so "two more breaths" is still two breaths before the end.
    """
    if scale == 1:
        return tuple(cues)

    def scaled(cue: Cue) -> Cue:
        if isinstance(cue, Hold):
            return replace(cue, duration=_scaled(cue.duration, scale, minimum=1))
        if isinstance(cue, At) and not cue.from_end:
            return replace(cue, offset=_scaled(cue.offset, scale, minimum=0))
        return cue

    return map_cues(cues, scaled)


def _scaled(duration: Duration, scale: Fraction, minimum: int) -> Duration:
    breaths = scaled_breaths(duration.breaths, scale, minimum) if duration.breaths else Fraction(0)
    return Duration(duration.seconds * scale, breaths)


def scaled_breaths(breaths: Fraction, scale: Fraction, minimum: int = 1) -> Fraction:
    """A count of breaths at a level: whole breaths, rounded half up, never below ``minimum``."""
    return Fraction(max(minimum, math.floor(breaths * scale + Fraction(1, 2))))


def next_silence(following: Iterable[Cue]) -> Pause | Hold | None:
    """The silence an announcement speaks of: the first pause or hold after it."""
    return next((cue for cue in following if isinstance(cue, Pause | Hold)), None)


def written_seconds(cue: Cue, breath: Fraction) -> Fraction:
    """How long a cue lasts as written (a pause at its usual length); speech and bells count 0
    here, since their length needs their sound."""
    if isinstance(cue, Pause):
        return cue.seconds(breath)
    if isinstance(cue, Window | Hold):
        return cue.duration.resolve(breath)
    if isinstance(cue, Breathe):
        if cue.length is not None:
            return cue.length.resolve(breath)
        return (cue.rounds or 0) * cue.pattern.round_seconds
    return Fraction(0)


def check_session(cues: Sequence[Cue], breath: Fraction, where: str) -> None:
    """MarkupError for a session that makes no sound, or lasts longer than MAX_SECONDS.

    Both are typos rather than plans (an empty file, 1000m for 10m), and both would otherwise
    cost a render: silence, or hours of audio nobody asked for.
    """
    if not any(isinstance(cue, Speech | Window | Bell | Breathe | Hold) for cue in walk(cues)):
        raise MarkupError(
            "the script has nothing to say or play",
            where=where,
            fix="Write the words to speak, one paragraph an utterance, or [bell] and [pause 5m].",
        )
    _check_sides(cues)
    total = Fraction(0)
    for cue in cues:  # a hold's own length covers the cues inside it
        total += written_seconds(cue, breath)
        if total > MAX_SECONDS:
            raise MarkupError(
                f"the session lasts more than {MAX_SECONDS // 3600} hours by this line "
                f"({format_clock(float(total))} of pauses, holds and breathing so far)",
                where=cue.source,
                fix=f"Shorten its pauses or holds: a session lasts at most {MAX_SECONDS // 3600} "
                "hours.",
            )


def _check_sides(cues: Sequence[Cue]) -> None:
    """A pose held on one side twice in a row is a typo in its sides (["left", "left"]): the
    words between the holds would ask the listener to change sides and then not change."""
    last_side: dict[str, str] = {}  # pose -> the side of its last hold
    for cue in walk(cues):
        if not isinstance(cue, Hold) or not cue.pose:
            continue
        if cue.side and last_side.get(cue.pose) == cue.side:
            raise MarkupError(
                f"{cue.pose} is held on the {cue.side} side twice in a row",
                where=cue.source,
                fix='Hold each side once: sides = ["right", "left"].',
            )
        last_side[cue.pose] = cue.side
