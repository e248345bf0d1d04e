"""Stage 3: script markup becomes typed, immutable cues that remember their source line.

Markup, version 1:
  a line of text        spoken; consecutive lines form one utterance, a blank line ends it
  [pause 5s]            silence (5s, 1.5s, 2m, 1m30s, 3 breaths)
  [for 4s] Breathe in   a fixed window: speech at its start, the next cue exactly 4s later
  [for 4s]              a silent window
  [bell] / [bell NAME]  a sound from sounds/
  [chapter TITLE]       a chapter starts here
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from generator.durations import Duration, parse_duration
from generator.errors import MarkupError, Source
from generator.script import ScriptLine


@dataclass(frozen=True)
class Speech:
    text: str
    source: Source


@dataclass(frozen=True)
class Pause:
    duration: Duration
    source: Source


@dataclass(frozen=True)
class Window:
    """A fixed stretch of time that may open with speech; the next cue starts when it ends."""

    duration: Duration
    text: str
    source: Source


@dataclass(frozen=True)
class Bell:
    sound: str  # empty: the session's default bell
    source: Source


@dataclass(frozen=True)
class Chapter:
    title: str
    source: Source


Cue = Speech | Pause | Window | Bell | Chapter

_DIRECTIVE = re.compile(r"^\[\s*(?P<name>[A-Za-z][\w-]*)?\s*(?P<argument>[^\]]*)\](?P<rest>.*)$")


def _duration(argument: str, source: Source, directive: str) -> Duration:
    try:
        return parse_duration(argument)
    except ValueError as error:
        raise MarkupError(
            f"[{directive}]: {error}", where=source, fix=f"Write it like [{directive} 5s]."
        ) from None


def _pause(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("pause", rest, source)
    return Pause(_duration(argument, source, "pause"), source)


def _window(argument: str, rest: str, source: Source) -> Cue:
    return Window(_duration(argument, source, "for"), _spoken(rest), source)


def _bell(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("bell", rest, source)
    if argument and not re.fullmatch(r"[\w-]+", argument):
        raise MarkupError(
            f"[bell {argument}]: a bell name is one word", where=source, fix="Write [bell bowl]."
        )
    return Bell(argument, source)


def _chapter(argument: str, rest: str, source: Source) -> Cue:
    _no_text_after("chapter", rest, source)
    if not argument:
        raise MarkupError(
            "[chapter] needs a title", where=source, fix="Write [chapter Pigeon pose]."
        )
    return Chapter(argument, source)


DIRECTIVES: dict[str, Callable[[str, str, Source], Cue]] = {
    "pause": _pause,
    "for": _window,
    "bell": _bell,
    "chapter": _chapter,
}


def _no_text_after(name: str, rest: str, source: Source) -> None:
    if rest.strip():
        raise MarkupError(
            f"text after [{name} …]: {rest.strip()!r}",
            where=source,
            fix="Put the words on their own line (only [for …] takes words after it).",
        )


def _spoken(text: str) -> str:
    return " ".join(text.split())


def parse_cues(lines: Iterable[ScriptLine]) -> tuple[Cue, ...]:
    """Turn markup lines into cues. Raises MarkupError naming the file:line of the first problem."""
    cues: list[Cue] = []
    words: list[str] = []
    start: Source | None = None

    def end_utterance() -> None:
        nonlocal words, start
        if words and start is not None:
            cues.append(Speech(" ".join(words), start))
        words, start = [], None

    for line in lines:
        text = line.text.strip()
        if not text:
            end_utterance()
        elif text.startswith("["):
            end_utterance()
            cues.append(_directive(text, line.source))
        else:
            start = start or line.source
            words.append(_spoken(text))
    end_utterance()
    return tuple(cues)


def _directive(text: str, source: Source) -> Cue:
    match = _DIRECTIVE.match(text)
    known = ", ".join(f"[{name}]" for name in DIRECTIVES)
    if match is None:
        raise MarkupError(
            f"unclosed bracket in {text!r}",
            where=source,
            fix=f"Close it with ]; directives: {known}.",
        )
    name = (match["name"] or "").lower()
    if name not in DIRECTIVES:
        raise MarkupError(
            f"unknown directive [{match['name'] or ''}{' ' if match['argument'] else ''}"
            f"{match['argument'].strip()}]",
            where=source,
            fix=f"Known directives: {known}.",
        )
    return DIRECTIVES[name](match["argument"].strip(), match["rest"], source)
