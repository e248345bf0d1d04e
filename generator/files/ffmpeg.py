"""The ffmpeg programs, and every call Stillpoint makes to them: flags, time-outs and errors.

- ``encode``: the mix streamed into ffmpeg (a writer thread feeds it), as an MP3 (libmp3lame), an
  M4B (AAC in MP4, with its chapters) or an Ogg Opus file: the ``Container`` the output's suffix
  names. ``encode_mix``: a long MP3 in parts, several encoders at once, joined by ``mp3.py``.
- ``probe``: ffprobe reads a file's headers: its length and first audio stream.
- ``decode``: a sound file in any format ffmpeg knows, through pydub, as mono float samples.
- ``start_ffplay``: ffplay plays a file in the terminal (``stillpoint play``).

ffmpeg runs in its own session, so a Ctrl-C in the terminal reaches only Stillpoint, which stops
it, rather than killing ffmpeg first and having an interrupt reported as an encoder failure.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from generator.base.samples import Samples, frozen, to_pcm16
from generator.errors import EncodeError, EnvironmentProblem
from generator.files import mp3

MP3_BITRATE = "96k"  # constant bitrate: players seek accurately in CBR files (chapters need it)
# Speech, mono and stereo: AAC-LC by ffmpeg's own encoder, and Opus, which needs half as much.
AAC_BITRATES = {1: "64k", 2: "96k"}
OPUS_BITRATES = {1: "32k", 2: "48k"}
OPUS_RATE = 48_000  # libopus encodes at 48 kHz (or 24, 16, 12, 8): the mix is resampled to it
FEED_BLOCKS = 2  # mixed blocks waiting for ffmpeg: enough to keep both busy, little memory
ROOM_WAIT = 0.05  # seconds: the longest wait for an encoder's room (a missed signal costs this)
# An MP3 over twice this long is encoded in parts of about this length, several at once
# (``encode_mix``): each part costs LEAD + WINDOW + LEAD frames (5.4 s) of audio encoded twice.
PART_SECONDS = 300
CHUNK_SECONDS = 120  # a long sound file is decoded this much at a time (see decode)
PROBE_TIMEOUT = 20.0  # seconds for ffprobe to read a file's headers (it takes milliseconds)
_INSTALL = "Install it: sudo apt-get install ffmpeg"


def ffmpeg_path() -> str:
    """The ffmpeg program; EnvironmentProblem when it is not installed."""
    return _program("ffmpeg")


def ffplay_path() -> str | None:
    """The ffplay program (ffmpeg's player), or None: some builds leave it out."""
    return shutil.which("ffplay")


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise EnvironmentProblem(f"{name} is not installed", fix=_INSTALL)
    return found


# --- encoding ------------------------------------------------------------------------------


class Container(Enum):
    """The kinds of file Stillpoint writes, each named by its suffix."""

    MP3 = ".mp3"
    M4B = ".m4b"  # AAC in MP4: audiobook and podcast apps, with a chapter track
    OPUS = ".opus"  # Opus in Ogg

    @classmethod
    def of(cls, path: Path) -> Container | None:
        """The container path's suffix names (in any case), or None."""
        suffix = path.suffix.lower()
        return next((container for container in cls if container.value == suffix), None)

    @property
    def label(self) -> str:
        """The container as a sentence names it: "the MP3"."""
        return {"MP3": "the MP3", "M4B": "the M4B", "OPUS": "the Opus file"}[self.name]


SUFFIXES = tuple(container.value for container in Container)
_ENCODERS = {Container.MP3: "libmp3lame", Container.M4B: "aac", Container.OPUS: "libopus"}


def encode_mp3(blocks: Iterable[Samples], sample_rate: int, path: Path, channels: int = 1) -> None:
    """``encode`` into an MP3."""
    encode(blocks, sample_rate, path, channels, Container.MP3)


def encode(
    blocks: Iterable[Samples],
    sample_rate: int,
    path: Path,
    channels: int = 1,
    container: Container = Container.MP3,
    chapters: str = "",
) -> None:
    """Stream float blocks (mono, or interleaved stereo) through ffmpeg into path.

    The blocks go to ffmpeg from a writer thread, through a queue of FEED_BLOCKS, so the caller
    computes the next blocks (on one core) while ffmpeg encodes the last ones (on another).
    ``chapters`` is an FFMETADATA text (``writing/tags.py``), read by ffmpeg only for an M4B,
    whose chapter track is written with the audio. No tags: ``writing/tags.py`` writes them
    afterwards (ffmpeg would also stamp its version).
    """
    with _chapters_file(chapters if container is Container.M4B else "") as metadata:
        inputs = _input(sample_rate, channels, metadata)
        command = [*inputs, *_output(container, sample_rate, channels), "-y", str(path)]
        _run_all([command], [blocks], 1, container)


class Mix(Protocol):
    """Audio to encode that can be asked for any stretch of itself."""

    @property
    def length(self) -> int:
        """Samples (a sample a channel: a stereo mix's frames)."""
        ...

    def blocks(self, first: int, last: int) -> Iterator[Samples]:
        """Samples [first, last), in consecutive blocks; the same samples whatever the stretch."""
        ...


def encode_mix(
    mix: Mix,
    sample_rate: int,
    path: Path,
    channels: int = 1,
    container: Container = Container.MP3,
    chapters: str = "",
    encoders: int = 1,
) -> None:
    """``encode`` the mix; an MP3 over two PART_SECONDS long in parts, ``encoders`` of them at
    once, joined into one stream (``mp3.py``). The parts depend on the length alone: the same
    file whatever the number of encoders. Joined, a 60-minute render's encode takes half the
    time on two cores (LAME codes on one core, at about 8x real time here)."""
    parts = mp3.plan_parts(mix.length, PART_SECONDS * sample_rate)
    if container is not Container.MP3 or len(parts) == 1:
        encode(mix.blocks(0, mix.length), sample_rate, path, channels, container, chapters)
        return
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".stillpoint-parts-") as folder:
        paths = [Path(folder) / f"part-{index}.mp3" for index in range(len(parts))]
        commands = [_part_command(sample_rate, channels, at, n) for n, at in enumerate(paths)]
        pieces = [mix.blocks(part.first, part.last) for part in parts]
        _run_all(commands, pieces, encoders, container)
        try:
            with path.open("wb") as into:
                mp3.join(paths, parts, mix.length, into)
        except mp3.SpliceError:  # not seen in practice; one encoder always can
            encode(mix.blocks(0, mix.length), sample_rate, path, channels, container)


def _part_command(sample_rate: int, channels: int, path: Path, index: int) -> list[str]:
    """One part's encoder: the first writes the Info frame the joined stream keeps."""
    command = [*_input(sample_rate, channels, None), *_output(Container.MP3, sample_rate, channels)]
    xing = ["-write_xing", "1" if index == 0 else "0"]
    return [*command[:-2], *xing, *command[-2:], "-y", str(path)]


@contextlib.contextmanager
def _chapters_file(chapters: str) -> Iterator[Path | None]:
    """The FFMETADATA text in a temporary file for ffmpeg to read; None when there is none."""
    if not chapters:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="stillpoint-chapters-") as folder:
        path = Path(folder) / "chapters.txt"
        path.write_text(chapters, encoding="utf-8")
        yield path


def _input(sample_rate: int, channels: int, chapters: Path | None) -> list[str]:
    """ffmpeg reading 16-bit PCM from its stdin, and the chapters' FFMETADATA file if any."""
    command = [
        ffmpeg_path(), "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0",
    ]  # fmt: skip
    if chapters is not None:
        command += ["-f", "ffmetadata", "-i", str(chapters), "-map", "0:a", "-map_chapters", "1"]
    return command


def _output(container: Container, sample_rate: int, channels: int) -> list[str]:
    """The encoder and muxer flags of each container, for files the same inputs make again
    byte for byte (``-fflags +bitexact``: no encoder version, dates or random stream serials).

    - MP3: no ID3 tag of ffmpeg's (mutagen writes it), constant bitrate.
    - M4B: ``-movie_timescale`` at the sample rate, so the edit list that skips AAC's 1024
      samples of priming ends on the last sample (at ffmpeg's default of 1/1000 s it is cut to
      the millisecond: 13 samples short on a 10.012 s file, measured). Not ``-map_metadata
      -1``: it drops the chapters' titles too (measured with ffmpeg 5.1). ``+faststart``: the
      index before the audio, so a podcast app can play while it downloads. ``-brand "M4B "``:
      the ``ftyp`` names it an audiobook, as Apple's own M4B files do (the ipod muxer says M4A).
    - Opus: resampled to 48 kHz; the Ogg pages' granule positions end on the last sample and
      the pre-skip (312 samples at 48 kHz) undoes libopus's delay.
    """
    if container is Container.MP3:
        return [
            "-codec:a", "libmp3lame", "-b:a", MP3_BITRATE, "-id3v2_version", "0",
            "-write_id3v1", "0", "-map_metadata", "-1", "-f", "mp3",
        ]  # fmt: skip
    exact = ["-flags:a", "+bitexact", "-fflags", "+bitexact"]
    if container is Container.M4B:
        return [
            "-codec:a", "aac", "-b:a", AAC_BITRATES[channels], *exact,
            "-movie_timescale", str(sample_rate), "-movflags", "+faststart", "-brand", "M4B ",
            "-f", "ipod",
        ]  # fmt: skip
    return [
        "-codec:a", "libopus", "-b:a", OPUS_BITRATES[channels], "-ar", str(OPUS_RATE), *exact,
        "-map_metadata", "-1", "-f", "ogg",
    ]  # fmt: skip


def _run_all(
    commands: Sequence[list[str]],
    inputs: Sequence[Iterable[Samples]],
    at_once: int,
    container: Container,
) -> None:
    """Each command fed its blocks, at_once of them running: blocks are made in this thread
    for whichever encoders have room for one (each ffmpeg's writer thread takes them on), so
    a slower encoder never keeps a faster one waiting. EncodeError with ffmpeg's own words if
    one fails."""
    waiting = list(zip(commands, (iter(blocks) for blocks in inputs), strict=True))
    room = threading.Event()  # a writer took a block: an encoder may have room
    running: list[tuple[_Encoder, Iterator[Samples]]] = []
    started: list[_Encoder] = []
    try:
        while waiting or running:
            while waiting and len(running) < at_once:
                command, blocks = waiting.pop(0)
                started.append(_Encoder(command, room))
                running.append((started[-1], blocks))
            room.clear()
            ready = [job for job in running if job[0].has_room()]
            running = [job for job in running if job not in ready or _fed_one(*job)]
            if not ready:
                room.wait(ROOM_WAIT)
        for encoder in started:
            encoder.finish(container)
    except BaseException:  # an error in the mix, Ctrl-C, SIGTERM: ffmpeg stops with us
        for encoder in started:
            encoder.kill()
        raise


def _fed_one(encoder: _Encoder, blocks: Iterator[Samples]) -> bool:
    """Give the encoder its next block; False once it has had them all (or stopped reading)."""
    block = None if encoder.broken else next(blocks, None)
    if block is None:
        encoder.end_input()
        return False
    encoder.put(to_pcm16(block))
    return True


class _Encoder:
    """One ffmpeg in its own session, its input written by a thread, its errors kept."""

    def __init__(self, command: list[str], room: threading.Event) -> None:
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish or kill
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
            start_new_session=True,
        )
        pipe: IO[bytes] | None = self._process.stdin
        if pipe is None:  # pragma: no cover - Popen with stdin=PIPE always has one
            raise EncodeError("ffmpeg has no input pipe")
        self._writer = _PipeWriter(pipe, room)

    @property
    def broken(self) -> bool:
        """ffmpeg exited before its input ended: its stderr says why."""
        return self._writer.broken

    def has_room(self) -> bool:
        return self._writer.has_room()

    def put(self, data: bytes) -> None:
        self._writer.put(data)

    def end_input(self) -> None:
        self._writer.end()

    def finish(self, container: Container) -> None:
        """Wait for the file to be written; EncodeError if ffmpeg failed."""
        with self._errors:
            self._writer.close()
            code = self._process.wait()
            if code != 0 or self._writer.broken:
                self._errors.seek(0)
                said = self._errors.read().decode(errors="replace")
                raise _encode_error(code, said, container)

    def kill(self) -> None:
        self._process.kill()  # a write blocked on a full pipe fails at once: the thread ends
        self._writer.abort()
        self._process.wait()
        self._errors.close()


class _PipeWriter:
    """Writes byte blocks to a pipe on its own thread, which never outlives ``close``."""

    def __init__(self, pipe: IO[bytes], room: threading.Event) -> None:
        self._pipe = pipe
        self._room = room  # set each time a block is taken off the queue
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=FEED_BLOCKS)
        self.broken = False
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="ffmpeg-input", daemon=True)
        self._thread.start()

    def has_room(self) -> bool:
        return not self._queue.full()

    def put(self, data: bytes) -> None:
        self._queue.put(data)

    def end(self) -> None:
        """Send the end of input (ffmpeg then finishes the file), without waiting."""
        if not self._ended:
            self._ended = True
            self._queue.put(None)

    def close(self) -> None:
        """End the input and wait for the thread."""
        self.end()
        self._thread.join()

    def abort(self) -> None:
        """Drop the blocks not yet written and end the thread (its reader is gone)."""
        self.broken = True
        with contextlib.suppress(queue.Empty):
            while True:  # only the caller puts: once drained, the end mark fits at once
                self._queue.get_nowait()
        self._ended = False  # an end mark taken off the queue with the blocks is sent again
        self.close()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            self._room.set()
            if self.broken:
                continue  # keep taking blocks, so the caller never waits on a full queue
            try:
                self._pipe.write(data)
            except OSError:  # BrokenPipeError: ffmpeg exited
                self.broken = True
        with contextlib.suppress(OSError):
            self._pipe.close()


def _encode_error(code: int, stderr: str, container: Container = Container.MP3) -> EncodeError:
    """ffmpeg's own last line of error text (and the signal that killed it, if one did)."""
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit {code}"
    return EncodeError(
        f"ffmpeg failed to encode {container.label} ({how}): {last_line(stderr) or 'no message'}",
        fix=f"Check the ffmpeg install (ffmpeg -encoders | grep {_ENCODERS[container]}) and "
        "the free disk space.",
    )


def last_line(text: str) -> str:
    """The last non-empty line of a program's error text: the one that says why."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What ffprobe reads from a file's headers."""

    seconds: float | None  # the container's length; None when it does not say
    codec: str  # the first audio stream's codec; empty when there is none
    channels: int
    sample_rate: int


class ProbeError(Exception):
    """ffprobe could not read the file; the message is its own last line."""


def probe(path: Path) -> Probe:
    """The file's length and first audio stream, read by ffprobe within PROBE_TIMEOUT."""
    command = [
        _program("ffprobe"), "-v", "error", "-show_entries",
        "format=duration:stream=codec_type,codec_name,channels,sample_rate",
        "-of", "json", str(path),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ProbeError(f"ffprobe took over {PROBE_TIMEOUT:g} s to read it") from None
    if result.returncode != 0:
        said = last_line(result.stderr.decode(errors="replace"))
        raise ProbeError(said or f"ffprobe exit {result.returncode}")
    try:
        document: dict[str, Any] = json.loads(result.stdout)
    except ValueError:
        raise ProbeError("ffprobe's answer was not JSON") from None
    return _probed(document)


def _probed(document: dict[str, Any]) -> Probe:
    audio: dict[str, Any] = next(
        (s for s in document.get("streams", []) if s.get("codec_type") == "audio"), {}
    )
    return Probe(
        _number(document.get("format", {}).get("duration")),
        str(audio.get("codec_name", "")),
        int(audio.get("channels") or 0),
        int(_number(audio.get("sample_rate")) or 0),
    )


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]  # ffprobe gives numbers as text
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def probe_seconds(path: Path) -> float | None:
    """The file's length by ffprobe, or None if it cannot tell (or ffprobe is not there)."""
    try:
        return probe(path).seconds
    except (ProbeError, EnvironmentProblem, OSError):
        return None


def decode(path: Path, seconds: float, codec: str) -> tuple[Samples, int]:
    """The first ``seconds`` of the file's audio (decoded by ``codec``) as mono float samples
    and their rate, decoded by ffmpeg through pydub.

    pydub holds a decoded file several times over (about four copies at the file's own rate and
    channels), so a long file is read in CHUNK_SECONDS pieces, each made mono before the next.
    pydub reads a file named ``*.wav`` whole in Python before it would cut it; through a link
    with a neutral name ffmpeg decodes it, and only the seconds asked for.
    """
    converter = ffmpeg_path()
    os.environ.setdefault("PATH", os.defpath)  # pydub reads PATH at import, and fails without it
    from pydub import AudioSegment  # imported only when a sound file is read (0.1 s)
    from pydub.exceptions import CouldntDecodeError

    AudioSegment.converter = converter
    pieces: list[Samples] = []
    rate = 0
    with tempfile.TemporaryDirectory(prefix="stillpoint-sound-") as folder:
        neutral = Path(folder) / "sound"
        try:
            neutral.symlink_to(path.resolve())
        except OSError:  # no symbolic links here: pydub reads the file under its own name
            neutral = path
        for start in range(0, math.ceil(seconds), CHUNK_SECONDS):
            length = min(CHUNK_SECONDS, math.ceil(seconds) - start)
            try:
                segment = AudioSegment.from_file(
                    neutral, codec=codec, start_second=start or None, duration=length
                )
            except (CouldntDecodeError, OSError, IndexError) as error:
                raise DecodeError(last_line(str(error)) or type(error).__name__) from None
            rate = int(segment.frame_rate)
            pieces.append(_mono(segment))
            if len(segment) < length * 1000:  # milliseconds: the file ended in this piece
                break
    return frozen(np.concatenate(pieces)), rate


class DecodeError(Exception):
    """ffmpeg could not decode the file; the message is its own last line."""


def _mono(segment: Any) -> Samples:
    """A pydub segment's samples as mono floats in -1..1 (channels averaged)."""
    full_scale = float(1 << (8 * segment.sample_width - 1))
    samples = np.array(segment.get_array_of_samples(), dtype=np.float32)
    channels = int(segment.channels)
    if channels > 1:
        samples = samples[: samples.size - samples.size % channels]
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return frozen(samples / full_scale)


# --- playing -------------------------------------------------------------------------------


def start_ffplay(ffplay: str, path: Path, errors: IO[bytes]) -> subprocess.Popen[bytes]:
    """ffplay playing path with no window, its complaints into ``errors``.

    ``-loglevel error``, not quiet: the reason it cannot open a device is needed. It goes to a
    file, like the ALSA library's own complaints, never to the terminal.
    """
    return subprocess.Popen(
        [ffplay, "-nodisp", "-autoexit", "-nostats", "-loglevel", "error", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
