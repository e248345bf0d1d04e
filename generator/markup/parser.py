"""Stage 3: script markup becomes typed cues (``cues.py``), each remembering its source line.

Markup (docs/markup.md is the reference):
  a line of text               spoken; consecutive lines form one utterance, a blank line ends it
  [pause 5s]                   silence; [pause 30s..3m] or [pause 1m (30s..3m)] may stretch
  [pause 20m every 5m]         silence with interval bells ([pause 20m at 2m, 7m bell chime x2])
  [bell] [pause 20m from the bell every 5m]   the pause and its bells count from the bell's strike
  [for 4s] Breathe in          a fixed window: speech at its start, the next cue exactly 4s later
  [bell] / [bell NAME x2]      a sound from sounds/, struck once or more; [bell none] rings nothing
  [chapter TITLE]              a chapter starts here
  [breathe box x6]             a breath pattern for rounds or a length: [breathe 4-7-8 for 3m]
  [hold 8 breaths pose pigeon side left] ... [at 4 breaths] ... [at 2 breaths to go] ... [end hold]
  [ambience ocean] / [ambience off]   a bed under everything from here (or a sound file)
  [prompt] What am I holding?  a question to write about: spoken, and on the prompt sheet
  {silence} in spoken text     the real length of the next silence or hold, in words

Spoken text is checked for what would otherwise be read aloud: any other {placeholder}, and a
directive in the middle of a line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from fractions import Fraction

from generator.base.durations import MAX_SECONDS, Duration, parse_duration
from generator.base.text import CONTROL_CHARS
from generator.errors import MarkupError, Source, closest
from generator.markup.breathing import parse_pattern
from generator.markup.cues import (
    DEFAULT,
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
from generator.markup.templating import ScriptLine
from generator.recipes.settings import RATE_RANGE

MAX_STRIKES = 9
SIDES = ("left", "right")  # of a two-sided pose
# About 800 words, five minutes of speech: a longer utterance is a file pasted without blank
# lines (or no text at all), and one clip of it would take the engine minutes.
MAX_UTTERANCE_CHARS = 5_000

_DIRECTIVE = re.compile(r"^\[\s*(?P<name>[A-Za-z][\w-]*)?\s*(?P<argument>[^\]]*)\](?P<rest>.*)$")
# A directive-like bracket inside a line of words: [pause 5s] in "Rest here. [pause 5s]".
_INLINE = re.compile(r"\[\s*(?P<name>[A-Za-z][\w-]*)[^\[\]]*\]")
_NEAR_DIRECTIVE = 0.8  # [paus 5s] and [bel] are directives mistyped; [sic] and [laughs] are words
# A word in braces: {silence}, or what would be read aloud as it stands ({silense}, { name })
_PLACEHOLDER = re.compile(r"\{\s*[A-Za-z_][\w-]*\s*\}")
# 30s..3m, 1m (30s..3m), 1.5 min..2.5 min: two dots part the bounds, one dot is a decimal point
_ELASTIC = re.compile(r"^(?:(?P<nominal>[^(]+?)\s*\(\s*)?(?P<low>[^()]+?)\.\.(?P<high>[^()]+?)\)?$")
_PAUSE = re.compile(
    r"^(?P<length>.+?)"
    r"(?P<from_bell>\s+from\s+(?:the\s+)?bell)?"
    r"(?:\s+every\s+(?P<every>.+?)|\s+at\s+(?P<at>.+?))?"
    r"(?:\s+bell\s+(?P<bell>\S+))?(?:\s+x(?P<strikes>\d+))?$"
)
_BELL = re.compile(r"^(?P<bell>(?!x\d+$)[\w-]+)?\s*(?:x(?P<strikes>\d+))?$")
_BREATHE = re.compile(
    r"^(?P<pattern>\S+)\s+(?:x(?P<rounds>\d+)|for\s+(?P<length>.+?))"
    r"(?P<options>(?:\s+(?:say\s+\d+|tones|count))*)$"
)
_HOLD = re.compile(r"^(?P<length>.+?)(?:\s+pose\s+(?P<pose>[\w-]+))?(?:\s+side\s+(?P<side>\w+))?$")
_AT = re.compile(r"^(?P<offset>.+?)(?P<to_go>\s+to\s+go)?$")


def _duration(argument: str, source: Source, directive: str, example: str = "5s") -> Duration:
    try:
        return parse_duration(argument)
    except ValueError as error:
        raise MarkupError(
            f"[{directive}]: {error}", where=source, fix=f"Write it like [{directive} {example}]."
        ) from None


def _strikes(text: str | None, source: Source) -> int:
    strikes = int(text) if text else 1
    if not 1 <= strikes <= MAX_STRIKES:
        raise MarkupError(
            f"x{strikes}: a bell is struck 1 to {MAX_STRIKES} times",
            where=source,
            fix="Write x2 for a double strike, x3 for a triple.",
        )
    return strikes


def _pause(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("pause", rest, source)
    match = _PAUSE.match(argument)
    if match is None:
        raise MarkupError(
            "[pause] needs a length",
            where=source,
            fix="Write it like [pause 5s] or [pause 3 breaths].",
        )
    pause = replace(_pause_length(match["length"], source), from_bell=bool(match["from_bell"]))
    if match["every"] or match["at"] or match["bell"] or match["strikes"]:
        pause = replace(pause, bells=_bell_schedule(match, source))
    return pause


def _pause_length(text: str, source: Source) -> Pause:
    elastic = _ELASTIC.match(text.strip())
    if elastic is None:
        return Pause(_duration(text, source, "pause"), source)
    fix = "Write a stretchable pause like [pause 30s..3m] or [pause 1m (30s..3m)]."
    low = _duration(elastic["low"], source, "pause", "30s..3m")
    high = _duration(elastic["high"], source, "pause", "30s..3m")
    nominal = (
        _duration(elastic["nominal"], source, "pause", "1m (30s..3m)")
        if elastic["nominal"]
        else low
    )
    if len({bool(length.breaths) for length in (low, nominal, high)}) > 1:
        raise MarkupError(
            f"[pause {text}]: give all its lengths in the same unit (seconds or breaths)",
            where=source,
            fix=fix,
        )
    if not low.resolve(Fraction(1)) <= nominal.resolve(Fraction(1)) <= high.resolve(Fraction(1)):
        raise MarkupError(
            f"[pause {text}]: the shortest must not exceed the usual length, nor that the longest",
            where=source,
            fix=fix,
        )
    return Pause(nominal, source, shortest=low, longest=high)


def _bell_schedule(match: re.Match[str], source: Source) -> BellSchedule:
    sound = match["bell"] or ""
    _check_bell_name(sound, source)
    every = _duration(match["every"], source, "pause", "20m every 5m") if match["every"] else None
    if every is not None and every.resolve(Fraction(1)) <= 0:
        raise MarkupError(
            "[pause … every 0s]: the interval must be longer than 0",
            where=source,
            fix="Write it like [pause 20m every 5m].",
        )
    at = _bell_offsets(match["at"], source) if match["at"] else ()
    if every is None and not at:
        raise MarkupError(
            "[pause … bell …]: say when the bells ring",
            where=source,
            fix="Write [pause 20m every 5m bell chime] or [pause 20m at 2m, 7m].",
        )
    return BellSchedule(sound, _strikes(match["strikes"], source), every, at)


def _bell_offsets(text: str, source: Source) -> tuple[Duration, ...]:
    """``2m, 7m, 15m`` or ``2m 7m``: the times listed; ``1 min 30 sec`` (between commas) is one
    time, read whole before it is split at the spaces."""
    offsets: list[Duration] = []
    for item in re.split(r"\s*,\s*", text.strip()):
        try:
            offsets.append(parse_duration(item))
        except ValueError:
            offsets += (
                _duration(each, source, "pause", "20m at 2m, 7m, 15m")
                for each in re.split(r"\s+(?=\d)", item)
            )
    return tuple(offsets)


def _window(argument: str, rest: str, source: Source) -> Cue:
    length, music = argument, ""
    if with_music := re.match(r"^(?P<length>.+?)\s+music(?:\s+(?P<file>.*))?$", argument):
        length, music = with_music["length"], (with_music["file"] or "").strip()
        if not music:
            raise MarkupError(
                "[for … music] needs a sound file",
                where=source,
                fix="Write [for 4m music my-song.mp3], or leave music out.",
            )
    return Window(_duration(length, source, "for"), _spoken(rest, source), source, music)


def _check_bell_name(name: str, source: Source) -> None:
    if name and not re.fullmatch(r"[\w-]+", name):
        raise MarkupError(
            f"[bell {name}]: a bell name is one word", where=source, fix="Write [bell bowl]."
        )


def _bell(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("bell", rest, source)
    match = _BELL.match(argument)
    if match is None:
        raise MarkupError(
            f"[bell {argument}]: a bell name is one word, then an optional xN",
            where=source,
            fix="Write [bell bowl] or [bell bowl x3].",
        )
    return Bell(match["bell"] or "", source, _strikes(match["strikes"], source))


def _chapter(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("chapter", rest, source)
    if not argument:
        raise MarkupError(
            "[chapter] needs a title", where=source, fix="Write [chapter Pigeon pose]."
        )
    return Chapter(argument, source)


def _breathe(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("breathe", rest, source)
    fix = "Write it like [breathe box x6], [breathe 4-7-8 for 3m] or [breathe 5-5 x30 say 2 tones]."
    match = _BREATHE.match(argument)
    if match is None:
        raise MarkupError(
            f"[breathe {argument}]: needs a pattern, then xROUNDS or for LENGTH",
            where=source,
            fix=fix,
        )
    try:
        pattern = parse_pattern(match["pattern"])
    except ValueError as error:
        raise MarkupError(f"[breathe]: {error}", where=source, fix=fix) from None
    options = match["options"].split()
    say = next((int(options[i + 1]) for i, word in enumerate(options) if word == "say"), None)
    rounds = int(match["rounds"]) if match["rounds"] else None
    if rounds == 0:
        raise MarkupError("[breathe … x0]: at least one round", where=source, fix=fix)
    if rounds is not None and rounds * pattern.round_seconds > MAX_SECONDS:
        raise MarkupError(
            f"[breathe {pattern.name} x{rounds}]: longer than {MAX_SECONDS // 3600} hours",
            where=source,
            fix="Ask for fewer rounds.",
        )
    length = (
        _duration(match["length"], source, "breathe", "box for 3m") if match["length"] else None
    )
    return Breathe(pattern, source, rounds, length, say, "tones" in options, "count" in options)


def _hold(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("hold", rest, source)
    match = _HOLD.match(argument)
    if match is None:
        raise MarkupError(
            "[hold] needs a length",
            where=source,
            fix="Write it like [hold 8 breaths pose pigeon side left].",
        )
    side = (match["side"] or "").lower()
    if side and side not in SIDES:
        raise MarkupError(
            f"{match['side']!r} is not a side",
            where=source,
            fix=f"{closest(side, SIDES)} Write side left or side right.".strip(),
        )
    return Hold(
        _duration(match["length"], source, "hold", "8 breaths"),
        source,
        pose=match["pose"] or "",
        side=side,
    )


def _at(argument: str, rest: str, source: Source) -> Cue:
    match = _AT.match(argument)
    if match is None:
        raise MarkupError(
            "[at] needs a time", where=source, fix="Write [at 4 breaths] or [at 2 breaths to go]."
        )
    return At(_duration(match["offset"], source, "at", "4 breaths"), bool(match["to_go"]), source)


def _ambience(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("ambience", rest, source)
    if not argument.strip():
        raise MarkupError(
            "[ambience] needs a bed",
            where=source,
            fix="Write [ambience brown] (brown, pink, ocean, drone, or a sound file), "
            "or [ambience off].",
        )
    return AmbienceChange(argument.strip(), source)


def _voice(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("voice", rest, source)
    if not argument or " " in argument.strip():
        raise MarkupError(
            "[voice] needs one voice id",
            where=source,
            fix="Write [voice piper:joe] or [voice default]; `stillpoint voices` lists the ids.",
        )
    return VoiceChange(argument.strip(), source)


def _rate_value(argument: str, source: Source, directive: str) -> int:
    if not argument.isdigit() or not RATE_RANGE[0] <= int(argument) <= RATE_RANGE[1]:
        raise MarkupError(
            f"[{directive} {argument}]: a rate is words per minute, "
            f"{RATE_RANGE[0]} to {RATE_RANGE[1]}",
            where=source,
            fix=f"Write it like [{directive} 120]"
            + (", [rate slowly] or [rate default]." if directive == "rate" else "."),
        )
    return int(argument)


def _rate(argument: str, rest: str, source: Source) -> Cue:
    """[rate 110] from here on; [rate slowly] / [rate quickly] at a share of the session's rate
    (so a listener's own --rate still counts); [rate default] back to it."""
    _no_text_after("rate", rest, source)
    if argument.lower() == DEFAULT:
        return RateChange(None, source)
    if argument.lower() in PACES:
        return RateChange(None, source, PACES[argument.lower()])
    return RateChange(_rate_value(argument, source, "rate"), source)


PACES = {"slowly": Fraction(4, 5), "quickly": Fraction(5, 4)}


def _say(argument: str, rest: str, source: Source) -> Cue:
    """[say slowly|quickly|WPM] words: one utterance (to the next blank line) at another pace."""
    how = argument.lower()
    if how in PACES:
        return Speech(_spoken(rest, source), source, pace=PACES[how])
    if how.isdigit():
        return Speech(_spoken(rest, source), source, rate=_rate_value(how, source, "say"))
    raise MarkupError(
        f"[say {argument}]: say how",
        where=source,
        fix="Write [say slowly], [say quickly] or [say 110] (words per minute) before the words.",
    )


def _prompt(argument: str, rest: str, source: Source) -> Cue:
    """[prompt] words: a question to write about (to the next blank line), said as usual and
    printed on the session's prompt sheet."""
    text = " ".join(part for part in (argument, rest) if part.strip())
    return Speech(_spoken(text, source), source, prompt=True)


DIRECTIVES: dict[str, Callable[[str, str, Source], Cue]] = {
    "pause": _pause,
    "for": _window,
    "bell": _bell,
    "chapter": _chapter,
    "breathe": _breathe,
    "hold": _hold,
    "at": _at,
    "voice": _voice,
    "rate": _rate,
    "say": _say,
    "ambience": _ambience,
    "prompt": _prompt,
}
KNOWN = (*DIRECTIVES, "end")  # [end hold] closes a block: the parser handles it itself


def _no_text_after(name: str, rest: str, source: Source) -> None:
    if rest.strip():
        raise MarkupError(
            f"text after [{name} …]: {rest.strip()!r}",
            where=source,
            fix="Put the words on their own line (only [for …] and [at …] take words after them).",
        )


def _spoken(text: str, source: Source) -> str:
    """Words to say, whitespace folded; MarkupError for what must not be read aloud."""
    _no_inline_directive(text, source)
    _no_unknown_placeholder(text, source)
    return " ".join(text.split())


def _no_inline_directive(text: str, source: Source) -> None:
    """A directive after words on a line would be read aloud as words: "pause five s"."""
    for match in _INLINE.finditer(text):
        name = match["name"].lower()
        near = difflib.get_close_matches(name, KNOWN, n=1, cutoff=_NEAR_DIRECTIVE)
        if name in KNOWN:
            raise MarkupError(
                f"a directive in the middle of a line: {match[0]}",
                where=source,
                fix=f"Put {match[0]} on a line of its own; words after it go on the next line.",
            )
        if near:
            raise MarkupError(
                f"{match[0]} in the middle of a line looks like a directive",
                where=source,
                fix=f"Did you mean [{near[0]} …]? Put it on a line of its own, or leave out the "
                "brackets to say the words.",
            )


def _no_unknown_placeholder(text: str, source: Source) -> None:
    """Only {silence} is replaced (by the next silence's length); {silense} would be read out."""
    for match in _PLACEHOLDER.finditer(text):
        if match[0] != SILENCE_TOKEN:
            word = match[0].strip("{} ").lower()  # {Silence}, { silence }, {silense}
            near = difflib.get_close_matches(word, [SILENCE_TOKEN.strip("{}")], n=1, cutoff=0.7)
            hint = f"Did you mean {SILENCE_TOKEN}? " if near else ""
            raise MarkupError(
                f"unknown placeholder {match[0]} in spoken text",
                where=source,
                fix=f"{hint}Only {SILENCE_TOKEN} is replaced (by the length of the next silence); "
                "write any other words out.",
            )


def _check_text(text: str, source: Source) -> None:
    """Control characters (NUL, ESC, BEL…) are refused: the engines cut text at a NUL, and an
    ESC would reach the terminal through the plan and the transcripts. A tab is whitespace."""
    _check_length(text, source, "a line")
    control = CONTROL_CHARS.search(text)
    if control is not None:
        char = control[0]
        raise MarkupError(
            f"a control character U+{ord(char):04X} ({_control_name(char)}) in the text",
            where=source,
            fix="Remove it: a script holds only words and [directives].",
        )


def _check_length(text: str, source: Source, what: str) -> None:
    if len(text) > MAX_UTTERANCE_CHARS:
        raise MarkupError(
            f"{what} of {len(text):,} characters (at most {MAX_UTTERANCE_CHARS:,})",
            where=source,
            fix="Break it into paragraphs with blank lines between them.",
        )


def _control_name(char: str) -> str:
    names = {"\0": "NUL", "\a": "BEL", "\b": "BS", "\x1b": "ESC", "\x7f": "DEL"}
    return names.get(char, "a control code")


def _after_bell(cues: Sequence[Cue]) -> bool:
    """Whether the last cue that takes time is a bell (chapters and voice, rate and ambience
    changes take none)."""
    timeless = Chapter | VoiceChange | RateChange | AmbienceChange
    return isinstance(next((c for c in reversed(cues) if not isinstance(c, timeless)), None), Bell)


class _Blocks:
    """Collects cues, opening a nested list for each [hold] and closing it at [end hold]."""

    def __init__(self) -> None:
        self.top: list[Cue] = []
        self.hold: Hold | None = None
        self.body: list[Cue] = []

    @property
    def current(self) -> list[Cue]:
        return self.body if self.hold is not None else self.top

    def add(self, cue: Cue) -> None:
        if isinstance(cue, Hold):
            if self.hold is not None:
                raise MarkupError(
                    "a [hold] inside another [hold]",
                    where=cue.source,
                    fix=f"Close the hold opened at {self.hold.source} with [end hold] first.",
                )
            self.hold, self.body = cue, []
            return
        if self.hold is not None and isinstance(cue, Chapter | Breathe):
            raise MarkupError(
                f"[{type(cue).__name__.lower()}] inside a [hold]",
                where=cue.source,
                fix="Put it before the [hold] or after its [end hold].",
            )
        if self.hold is None and isinstance(cue, At):
            raise MarkupError(
                "[at …] outside a [hold]",
                where=cue.source,
                fix="Open a hold first: [hold 8 breaths], then [at 4 breaths] inside it.",
            )
        if isinstance(cue, Pause) and cue.from_bell and not _after_bell(self.current):
            raise MarkupError(
                "[pause … from the bell] does not follow a [bell]",
                where=cue.source,
                fix="Strike one on the line before it: [bell], then [pause 20m from the bell].",
            )
        self.current.append(cue)

    def end(self, argument: str, source: Source) -> None:
        if argument.lower() not in ("", "hold"):
            raise MarkupError(
                f"[end {argument}]: only a hold can be ended",
                where=source,
                fix="Write [end hold].",
            )
        if self.hold is None:
            raise MarkupError(
                "[end hold] without a [hold] to close",
                where=source,
                fix="Open one with [hold 8 breaths], or remove this line.",
            )
        self.top.append(replace(self.hold, body=tuple(self.body)))
        self.hold = None

    def finish(self) -> tuple[Cue, ...]:
        if self.hold is not None:
            raise MarkupError(
                "this [hold] is never closed",
                where=self.hold.source,
                fix="Add [end hold] after its cues.",
            )
        return tuple(self.top)


def parse_cues(
    lines: Iterable[ScriptLine], problems: list[MarkupError] | None = None
) -> tuple[Cue, ...]:
    """Turn markup lines into cues. Raises MarkupError naming the file:line of the first problem.

    With a ``problems`` list, every line's problem is appended there instead and parsing goes on
    (`stillpoint validate` reports them all).
    """
    blocks = _Blocks()
    words: list[str] = []
    start: Source | None = None
    manner = Speech("", Source("", 0))  # how the utterance being gathered is said ([say])

    def end_utterance() -> None:
        nonlocal words, start, manner
        said, where, how = words, start, manner
        words, start, manner = [], None, Speech("", Source("", 0))
        if said and where is not None:
            text = " ".join(said)
            _check_length(text, where, "an utterance")
            blocks.add(replace(how, text=text, source=where))

    def read(line: ScriptLine) -> None:
        nonlocal words, start, manner
        _check_text(line.text, line.source)
        text = line.text.strip()
        if not text:
            end_utterance()
        elif text.startswith("["):
            end_utterance()
            name, argument, rest = _directive(text, line.source)
            if name == "end":
                blocks.end(argument, line.source)
                return
            cue = DIRECTIVES[name](argument, rest, line.source)
            if isinstance(cue, Speech):  # [say …]: its words go on until a blank line
                manner, start = cue, line.source if cue.text else None
                words = [cue.text] if cue.text else []
                return
            blocks.add(cue)
            if name == "at" and rest.strip():
                blocks.add(Speech(_spoken(rest, line.source), line.source))
        else:
            start = start or line.source
            words.append(_spoken(text, line.source))

    for line in lines:
        try:
            read(line)
        except MarkupError as problem:
            if problems is None:
                raise
            problems.append(problem)
    try:
        end_utterance()
        cues = blocks.finish()
        _check_announcements(cues)
    except MarkupError as problem:
        if problems is None:
            raise
        problems.append(problem)
        return ()
    return cues


def _directive(text: str, source: Source) -> tuple[str, str, str]:
    match = _DIRECTIVE.match(text)
    known = ", ".join(f"[{name}]" for name in KNOWN)
    if match is None:
        raise MarkupError(
            f"unclosed bracket in {text!r}",
            where=source,
            fix=f"Close it with ]; directives: {known}.",
        )
    name = (match["name"] or "").lower()
    if name not in KNOWN:
        raise MarkupError(
            f"unknown directive [{match['name'] or ''}{' ' if match['argument'] else ''}"
            f"{match['argument'].strip()}]",
            where=source,
            fix=f"Known directives: {known}.",
        )
    return name, match["argument"].strip(), match["rest"]


def _check_announcements(cues: Sequence[Cue], inside: bool = False) -> None:
    for index, cue in enumerate(cues):
        if isinstance(cue, Hold):
            _check_announcements(cue.body, inside=True)
        text = cue.text if isinstance(cue, Speech | Window) else ""
        if SILENCE_TOKEN in text and next_silence(cues[index + 1 :]) is None:
            raise MarkupError(
                f"{SILENCE_TOKEN} but no [pause] or [hold] follows"
                + (" inside this hold" if inside else ""),
                where=cue.source,
                fix=f"{SILENCE_TOKEN} speaks the length of the next silence: add one after it.",
            )
