"""The timeline JSON beside every MP3: its schema, written here and read here.

A render writes it (``timeline_document``); the library page, the player and tools read it back
(``read_sidecar``), taking only what a listener needs and never trusting it: a JSON that is
missing, not Stillpoint's or damaged reads as None or leaves out what it cannot use.
docs/markup.md documents the fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.base.text import SURROGATES
from generator.files.userfiles import Unreadable, read_bounded
from generator.timeline.events import Timeline

SUFFIX = ".json"
# An hour of speech with a line every 5 s makes a 173 kB timeline JSON (measured): 16 MB is some
# 90 such hours. A larger file beside an MP3 is not a render's, and is not read into memory.
MAX_BESIDE_BYTES = 16_000_000
# The longest time an MP3's chapter tag can hold (CHAP: 32-bit milliseconds, some 49.7 days); a
# larger "start" or "duration" is no time in any MP3 and is not shown.
MAX_SECONDS = (2**32 - 1) / 1000

# Distinct voices or ambience beds read from one timeline: a session names one or two; a crafted
# JSON of a million distinct names is not listed whole.
MAX_NAMES = 16

Why = Callable[[str], None]  # told, in a few words, why a file beside an MP3 was not read


def timeline_document(timeline: Timeline, loudness: Mapping[str, float] | None = None) -> str:
    """The timeline contract that tests and tools read (times in seconds)."""

    def seconds(samples: int) -> float:
        return round(timeline.seconds(samples), 6)

    events = []
    for event in timeline.events:
        entry: dict[str, object] = {
            "kind": event.kind,
            "start": seconds(event.start),
            "end": seconds(event.end),
        }
        if event.kind == "speech":
            entry.update(text=event.text, voice=event.voice, rate=event.rate)
            if event.spoken:
                entry["spoken"] = event.spoken
            if event.prompt:
                entry["prompt"] = True
            if event.phrases:  # where each phrase is heard: the captions' times
                entry["phrases"] = [
                    {"start": seconds(mark.start), "end": seconds(mark.end), "text": mark.text}
                    for mark in event.phrases
                ]
        if event.kind in ("bell", "tone", "music", "ambience"):
            entry["sound"] = event.sound
        if event.detail:
            entry["detail"] = event.detail
        if event.phase:
            entry.update(phase=event.phase, round=event.round)
        if event.side or event.pose:
            entry.update(side=event.side, pose=event.pose)
        if event.pan:
            entry["pan"] = event.pan
        if event.source is not None:
            entry["source"] = str(event.source)
        events.append(entry)
    spans = []
    for span in timeline.spans:
        item: dict[str, object] = {
            "kind": span.kind,
            "label": span.label,
            "start": seconds(span.start),
            "end": seconds(span.end),
            "samples": span.end - span.start,
            "detail": span.detail,
        }
        if span.side or span.pose:
            item.update(side=span.side, pose=span.pose)
        item["source"] = str(span.source)
        spans.append(item)
    document = {
        "title": timeline.title,
        "duration": seconds(timeline.length),
        "sample_rate": timeline.sample_rate,
        "samples": timeline.length,
        "channels": timeline.channels,
        **({"loudness": dict(loudness)} if loudness else {}),
        "events": events,
        "spans": spans,
        "chapters": [
            {"title": mark.title, "start": seconds(mark.start), "end": seconds(mark.end)}
            for mark in timeline.chapters
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float  # seconds from the start of the file


@dataclass(frozen=True)
class Line:
    """One transcript cue: the words heard from start to end."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Sidecar:
    """What a render's timeline JSON says about its MP3 (only the parts a listener needs)."""

    title: str
    seconds: float | None
    chapters: tuple[Chapter, ...]
    speech: tuple[Line, ...]
    # What tells two renders of one session apart (the library page shows them when titles
    # collide): the voices that speak and the ambience beds under them, each in order of first
    # use as the timeline gives them ("piper:joe", "ocean" or a file of the listener's), and
    # the channels (1 mono, 2 stereo; None when the JSON does not say).
    voices: tuple[str, ...] = ()
    ambiences: tuple[str, ...] = ()
    channels: int | None = None


def read_sidecar(mp3: Path, why: Why | None = None) -> Sidecar | None:
    """The timeline JSON beside mp3, or None when it is missing or not a Stillpoint timeline.

    A JSON that is there but cannot be read at all (see ``read_beside``; not UTF-8, not JSON,
    nested too deeply) is None too, and ``why`` is told so in a few words. Of one that reads,
    what cannot be used is left out: a time that is not a number of seconds an MP3 could hold,
    a chapter without a title.
    """
    tell = why or _untold
    data = read_beside(mp3.with_suffix(SUFFIX), tell)
    if data is None:
        return None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        tell("it is not UTF-8 text")
        return None
    except RecursionError:  # json's parser recurses once per [ or {: 100,000 of them overflow
        tell("it is nested too deeply to read")
        return None
    except ValueError:  # not JSON, or an integer of over 4,300 digits
        tell("it is not JSON")
        return None
    if not isinstance(document, dict):
        return None
    title = document.get("title")
    chapters, speech = [], []
    for item in _dicts(document.get("chapters")):
        name, start = item.get("title"), _seconds(item.get("start"))
        if isinstance(name, str) and start is not None:
            chapters.append(Chapter(_text(name), start))
    events = list(_dicts(document.get("events")))
    for item in events:
        text, start, end = item.get("text"), _seconds(item.get("start")), _seconds(item.get("end"))
        if item.get("kind") != "speech" or not isinstance(text, str):
            continue
        if start is not None and end is not None:
            speech.append(Line(start, end, _text(text)))
    return Sidecar(
        _text(title) if isinstance(title, str) else "",
        _seconds(document.get("duration")),
        tuple(sorted(chapters, key=lambda chapter: chapter.start)),
        tuple(sorted(speech, key=lambda line: line.start)),
        _named(events, "speech", "voice"),
        _named(events, "ambience", "sound"),
        _channels(document.get("channels")),
    )


def read_beside(path: Path, why: Why) -> bytes | None:
    """The bytes of a file beside an MP3 (its JSON or VTT, a program's playlist), or None.

    None silently when there is no such file; None with ``why`` told in a few words when it is
    not one to read: not a regular file, larger than MAX_BESIDE_BYTES, or unreadable.
    """
    try:
        return read_bounded(path, MAX_BESIDE_BYTES)
    except FileNotFoundError:  # also a symbolic link to nowhere
        return None
    except Unreadable as error:
        why(error.reason)
        return None


def _untold(reason: str) -> None:
    """Why a sidecar was not read, when the caller does not ask (the player: it plays on)."""


def _dicts(value: object) -> Iterable[dict[str, object]]:
    return (item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


def _named(events: Iterable[dict[str, object]], kind: str, key: str) -> tuple[str, ...]:
    """The distinct string values of ``key`` in the events of one kind, in order of first use
    (at most MAX_NAMES: a timeline names a voice or two and a bed or two)."""
    names: dict[str, None] = {}  # a dict keeps the order of first use
    for event in events:
        value = event.get(key)
        if event.get("kind") == kind and isinstance(value, str) and value:
            names.setdefault(_text(value), None)
            if len(names) == MAX_NAMES:
                break
    return tuple(names)


def _channels(value: object) -> int | None:
    """1 or 2 channels (what a render writes), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value in (1, 2) else None


def _seconds(value: object) -> float | None:
    """A time in seconds, or None: not a number, negative, NaN, or past MAX_SECONDS (compared
    before float() is taken: an integer of 400 digits would overflow it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= MAX_SECONDS else None


def _text(value: str) -> str:
    """A JSON string as text that can be written and printed: JSON's ``\\ud800`` escapes give
    lone surrogates, which no UTF-8 file or terminal can take; each becomes U+FFFD."""
    return SURROGATES.sub("\ufffd", value)
