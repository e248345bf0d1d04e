"""The timeline JSON beside every MP3: its schema, written here and read here.

A render writes it (``timeline_document``); the library page, the player and tools read it back
(``read_sidecar``), taking only what a listener needs and never trusting it: a JSON that is
missing, not Stillpoint's or damaged reads as None or leaves out what it cannot use.
docs/markup.md documents the fields.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.timeline.events import Timeline

SUFFIX = ".json"


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


def read_sidecar(mp3: Path) -> Sidecar | None:
    """The timeline JSON beside mp3, or None when it is missing or not a Stillpoint timeline."""
    try:
        document = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or not JSON: list the MP3 without it
        return None
    if not isinstance(document, dict):
        return None
    title = document.get("title")
    chapters, speech = [], []
    for item in _dicts(document.get("chapters")):
        name, start = item.get("title"), _seconds(item.get("start"))
        if isinstance(name, str) and start is not None:
            chapters.append(Chapter(name, start))
    for item in _dicts(document.get("events")):
        text, start, end = item.get("text"), _seconds(item.get("start")), _seconds(item.get("end"))
        if item.get("kind") != "speech" or not isinstance(text, str):
            continue
        if start is not None and end is not None:
            speech.append(Line(start, end, text))
    return Sidecar(
        title if isinstance(title, str) else "",
        _seconds(document.get("duration")),
        tuple(sorted(chapters, key=lambda chapter: chapter.start)),
        tuple(sorted(speech, key=lambda line: line.start)),
    )


def _dicts(value: object) -> Iterable[dict[str, object]]:
    return (item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None
