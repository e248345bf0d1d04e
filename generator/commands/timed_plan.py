"""The timed plan ``stillpoint script`` prints: every cue at mm:ss.mmm, with the arithmetic."""

from __future__ import annotations

from collections.abc import Iterator

from generator.base.durations import format_clock_ms
from generator.timeline.events import Event, Span, Timeline

_WHAT = {
    "speech": "",
    "bell": "[bell {sound}]",
    "tone": "[tone {sound}]",
    "pause": "[silence]",
    "music": "[music {sound}]",
    "ambience": "[ambience {sound}]",
}


def plan_lines(timeline: Timeline) -> Iterator[str]:
    """One line per event; chapter titles and the spans (holds, breathing) as headers."""
    chapters = sorted(timeline.chapters, key=lambda mark: mark.start)
    spans = sorted(timeline.spans, key=lambda span: span.start)
    for event in timeline.events:
        while chapters and chapters[0].start <= event.start:
            yield f"\n## {chapters.pop(0).title}"
        while spans and spans[0].start <= event.start:
            yield _span_line(timeline, spans.pop(0))
        yield _event_line(timeline, event)
    yield f"\nTotal {format_clock_ms(timeline.duration)}"


def _span_line(timeline: Timeline, span: Span) -> str:
    at = format_clock_ms(timeline.seconds(span.start))
    return f"{at}  == {span.kind} {span.label}: {span.detail} =="


def _event_line(timeline: Timeline, event: Event) -> str:
    at = format_clock_ms(timeline.seconds(event.start))
    what = event.text or _WHAT[event.kind].format(sound=event.sound)
    length = format_clock_ms(timeline.seconds(event.end - event.start))
    notes = []
    if event.kind in ("pause", "tone", "music", "ambience"):
        notes.append(length)
    if event.detail:
        notes.append(event.detail)
    if event.round:
        notes.append(f"round {event.round} {event.phase}")
    if event.side:
        notes.append(f"{event.pose} {event.side}".strip())
    indent = "    " if event.round or event.side or event.pose else ""
    return f"{at}  {indent}{what}" + (f"  ({'; '.join(notes)})" if notes else "")
