"""Stage 7: the mix becomes an MP3 (through ffmpeg), with a timeline JSON and a WebVTT transcript.

Every file is first written under a hidden temporary name beside its destination and renamed into
place only when all of them are complete, so a failed render never damages an existing file.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from generator.atomic import commit, temporary_beside
from generator.audio import Samples, to_pcm16
from generator.durations import format_clock_ms
from generator.errors import EncodeError, EnvironmentProblem, OutputError
from generator.timeline import Timeline

MP3_BITRATE = "96k"  # constant bitrate: players seek accurately in CBR files (chapters need it)


def ffmpeg_path() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise EnvironmentProblem(
            "ffmpeg is not installed", fix="Install it: sudo apt-get install ffmpeg"
        )
    return found


def encode_mp3(blocks: Iterable[Samples], sample_rate: int, path: Path, channels: int = 1) -> None:
    """Stream float blocks (mono, or interleaved stereo) through ffmpeg/libmp3lame into path.

    No tags: ``tags.py`` writes them afterwards (ffmpeg would also stamp its own version).
    """
    command = [
        ffmpeg_path(), "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0",
        "-codec:a", "libmp3lame", "-b:a", MP3_BITRATE, "-id3v2_version", "0",
        "-write_id3v1", "0", "-map_metadata", "-1", "-f", "mp3", "-y", str(path),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors)
        stdin: IO[bytes] | None = process.stdin
        if stdin is None:  # pragma: no cover - Popen with stdin=PIPE always has one
            raise EncodeError("ffmpeg has no input pipe")
        try:
            with contextlib.suppress(BrokenPipeError):  # ffmpeg died: its stderr says why
                for block in blocks:
                    stdin.write(to_pcm16(block))
                stdin.close()
        finally:
            if not stdin.closed:
                process.kill()
            code = process.wait()
        if code != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip().splitlines()
            last = message[-1] if message else "no message"
            raise EncodeError(
                f"ffmpeg failed to encode the MP3 (exit {code}): {last}",
                fix="Check the ffmpeg install (ffmpeg -codecs | grep mp3) and the free disk space.",
            )


def timeline_json(timeline: Timeline, loudness: Mapping[str, float] | None = None) -> str:
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


def one_line(text: str) -> str:
    """Text on one line, its runs of whitespace single spaces (playlists, transcripts)."""
    return " ".join(text.split())


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


@contextlib.contextmanager
def staged(destinations: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside each destination, renamed over them only if the block succeeds."""
    for destination in destinations:
        if destination.is_dir():
            raise OutputError(
                f"{destination} is a folder", fix="Give a file name such as session.mp3."
            )
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"cannot create the folder {destination.parent}: {error.strerror}",
                fix="Choose another output path with -o.",
            ) from None
    temporary: list[Path] = []
    try:
        temporary.extend(temporary_beside(destination) for destination in destinations)
        yield list(temporary)
        for path, destination in zip(temporary, destinations, strict=True):
            commit(path, destination)
    except OSError as error:  # permission denied, disk full, read-only file system…
        raise OutputError(
            f"cannot write {error.filename or destinations[0]}: {error.strerror or error}",
            fix="Choose another output path with -o, or free some space.",
        ) from None
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
