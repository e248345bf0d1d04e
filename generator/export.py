"""Stage 7: the mix becomes an MP3 (through ffmpeg), with a timeline JSON and a WebVTT transcript.

Every file is first written under a hidden temporary name beside its destination and renamed into
place only when all of them are complete, so a failed render never damages an existing file.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from generator.atomic import commit_all, temporary_beside
from generator.audio import Samples, to_pcm16
from generator.durations import format_clock_ms
from generator.errors import EncodeError, EnvironmentProblem, OutputError
from generator.timeline import Timeline

MP3_BITRATE = "96k"  # constant bitrate: players seek accurately in CBR files (chapters need it)
FEED_BLOCKS = 2  # mixed blocks waiting for ffmpeg: enough to keep both busy, little memory


def ffmpeg_path() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise EnvironmentProblem(
            "ffmpeg is not installed", fix="Install it: sudo apt-get install ffmpeg"
        )
    return found


def encode_mp3(blocks: Iterable[Samples], sample_rate: int, path: Path, channels: int = 1) -> None:
    """Stream float blocks (mono, or interleaved stereo) through ffmpeg/libmp3lame into path.

    The blocks go to ffmpeg from a writer thread, through a queue of FEED_BLOCKS, so the caller
    computes the next blocks (on one core) while ffmpeg encodes the last ones (on another).
    ffmpeg runs in its own session: a Ctrl-C in the terminal reaches only Stillpoint, which stops
    it here, rather than killing ffmpeg first and reporting an interrupt as an encoder failure.
    No tags: ``tags.py`` writes them afterwards (ffmpeg would also stamp its own version).
    """
    command = [
        ffmpeg_path(), "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0",
        "-codec:a", "libmp3lame", "-b:a", MP3_BITRATE, "-id3v2_version", "0",
        "-write_id3v1", "0", "-map_metadata", "-1", "-f", "mp3", "-y", str(path),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        try:
            complete = _feed(process, blocks)
        except BaseException:  # an error in the mix, Ctrl-C, SIGTERM: ffmpeg stops with us
            process.kill()
            process.wait()
            raise
        code = process.wait()
        if code != 0 or not complete:
            errors.seek(0)
            raise _encode_error(code, errors.read().decode(errors="replace"))


def _feed(process: subprocess.Popen[bytes], blocks: Iterable[Samples]) -> bool:
    """Hand every block to the writer thread; False if ffmpeg stopped reading (it failed)."""
    pipe: IO[bytes] | None = process.stdin
    if pipe is None:  # pragma: no cover - Popen with stdin=PIPE always has one
        raise EncodeError("ffmpeg has no input pipe")
    writer = _PipeWriter(pipe)
    try:
        for block in blocks:
            if writer.broken:  # ffmpeg exited: its stderr says why, more blocks would not help
                break
            writer.put(to_pcm16(block))
    except BaseException:
        process.kill()  # a write blocked on a full pipe fails at once, so the thread can end
        writer.abort()
        raise
    writer.close()
    return not writer.broken


class _PipeWriter:
    """Writes byte blocks to a pipe on its own thread, which never outlives ``close``."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=FEED_BLOCKS)
        self.broken = False
        self._thread = threading.Thread(target=self._run, name="ffmpeg-input", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        self._queue.put(data)

    def close(self) -> None:
        """Send the end of input (ffmpeg then finishes the file) and wait for the thread."""
        self._queue.put(None)
        self._thread.join()

    def abort(self) -> None:
        """Drop the blocks not yet written and end the thread (its reader is gone)."""
        self.broken = True
        with contextlib.suppress(queue.Empty):
            while True:  # only the caller puts: once drained, the end mark fits at once
                self._queue.get_nowait()
        self.close()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self.broken:
                continue  # keep taking blocks, so the caller never waits on a full queue
            try:
                self._pipe.write(data)
            except OSError:  # BrokenPipeError: ffmpeg exited
                self.broken = True
        with contextlib.suppress(OSError):
            self._pipe.close()


def _encode_error(code: int, stderr: str) -> EncodeError:
    """ffmpeg's own last line of error text (and the signal that killed it, if one did)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit {code}"
    return EncodeError(
        f"ffmpeg failed to encode the MP3 ({how}): {lines[-1] if lines else 'no message'}",
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
        commit_all(list(zip(temporary, destinations, strict=True)))
    except OSError as error:  # permission denied, disk full, read-only file system…
        raise OutputError(
            f"cannot write {error.filename or destinations[0]}: {error.strerror or error}",
            fix="Choose another output path with -o, or free some space.",
        ) from None
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
