"""The transcripts beside the MP3: WebVTT and LRC (timed to the speech), and the prompt sheet."""

from __future__ import annotations

from generator.base.durations import format_clock_ms
from generator.base.text import one_line
from generator.timeline.events import Timeline


def webvtt(timeline: Timeline) -> str:
    """A WebVTT transcript: one cue per utterance, timed to where it is heard."""
    lines = ["WEBVTT", ""]
    speech = [event for event in timeline.events if event.kind == "speech"]
    for number, event in enumerate(speech, 1):
        start, end = (
            format_clock_ms(timeline.seconds(event.start), always_hours=True),
            format_clock_ms(timeline.seconds(event.end), always_hours=True),
        )
        text = event.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [str(number), f"{start} --> {end}", text, ""]
    return "\n".join(lines)


def lrc(timeline: Timeline) -> str:
    """An LRC transcript (lyrics format many players show line by line): one line an utterance."""
    lines = [f"[ti:{_lrc_text(timeline.title)}]", "[ar:Stillpoint]"]
    lines.append(f"[length:{_lrc_time(timeline.duration).split('.')[0]}]")
    for event in timeline.events:
        if event.kind == "speech":
            lines.append(f"[{_lrc_time(timeline.seconds(event.start))}]{_lrc_text(event.text)}")
    return "\n".join(lines) + "\n"


def _lrc_time(seconds: float) -> str:
    """mm:ss.xx (minutes may pass 59: LRC has no hours), rounded down to the centisecond."""
    hundredths = int(seconds * 100)
    return f"{hundredths // 6000:02d}:{hundredths // 100 % 60:02d}.{hundredths % 100:02d}"


def _lrc_text(text: str) -> str:
    return one_line(text.replace("[", "(").replace("]", ")"))  # [..] would read as a time tag


def prompt_sheet(timeline: Timeline, description: str = "") -> str | None:
    """A printable sheet of the session's writing prompts, with room to write; None if none."""
    prompts = list(dict.fromkeys(e.text for e in timeline.events if e.prompt))
    if not prompts:
        return None
    lines = [timeline.title, "=" * len(timeline.title), ""]
    if description:
        lines += [description, ""]
    for number, prompt in enumerate(prompts, 1):
        lines += [f"{number}. {prompt}", "", *(["_" * 72, ""] * 6)]
    return "\n".join(lines)
