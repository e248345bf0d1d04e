"""`stillpoint play FILE`: play a session in the terminal, naming each chapter as it begins.

ffplay (part of ffmpeg) does the playing, as a child process with no window. Chapters come from
the render's timeline JSON beside the MP3 and are announced by the wall clock since the start.
On a machine with no sound output (a server, a container) the error says so plainly and where
the file is, so it can be copied to a phone instead. The titles it prints come from a JSON it may
not have written: each is shown on one line, its control characters as escapes (``printable``),
so none can clear the screen or retitle the terminal.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from generator.base.durations import format_clock
from generator.base.text import printable
from generator.errors import EnvironmentProblem, OutputError
from generator.files.ffmpeg import ffplay_path, start_ffplay
from generator.files.userfiles import regular_file
from generator.writing.sidecar import Chapter, read_sidecar

FFPLAY_SIGNALLED = 123  # ffplay's exit code when SIGINT or SIGTERM ends it
SETTLE = 0.5  # seconds ffplay may take to find that it cannot open any audio output
STOP_GRACE = 2.0  # seconds ffplay has to exit after SIGTERM before it is killed
EARLY_EXIT = 1.0  # seconds: ffplay ending sooner than this, and long before the end, played nothing
# What ffplay (through SDL) says when it cannot open any audio output.
_NO_AUDIO = re.compile(
    r"audio open failed|SDL_OpenAudio|Could not initialize SDL|No available audio device"
    r"|Audio subsystem is not initialized|Couldn't open audio device",
    re.IGNORECASE,
)


class NoAudioDevice(EnvironmentProblem):
    """The machine has no sound output that ffplay could play through."""


class PlaybackError(EnvironmentProblem):
    """ffplay started but could not play the file."""


def play(path: Path, out: Callable[[str], None]) -> None:
    """Play path through ffplay, calling out with each chapter's title as playback reaches it.

    Returns when the file has played to the end, or after Ctrl-C has stopped ffplay.
    """
    _check_regular(path)
    if audio_output() is None:  # first: installing ffplay would not help
        raise _no_device(path, "no sound card (/dev/snd) and no PulseAudio or PipeWire server")
    ffplay = ffplay_path()
    if ffplay is None:
        raise NoAudioDevice(
            f"cannot play {path} here: ffplay (part of ffmpeg) is not installed",
            fix=f"Install it (sudo apt-get install ffmpeg), or copy {_where(path)} to a phone.",
        )
    sidecar = read_sidecar(path)
    chapters = sidecar.chapters if sidecar else ()
    seconds = sidecar.seconds if sidecar else None
    title = printable(sidecar.title) if sidecar and sidecar.title else printable(str(path.name))
    length = f", {format_clock(seconds)}" if seconds is not None else ""
    out(f"Playing {title}{length} ({printable(str(path))}). Ctrl-C stops.")
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        process = start_ffplay(ffplay, path, errors)
        try:
            code = _follow(process, chapters, started, out)
        except KeyboardInterrupt:
            _stop(process)
            out(f"Stopped at {format_clock(math.floor(time.monotonic() - started))}.")
            return
        finally:
            _stop(process)  # whatever went wrong here, ffplay does not play on alone
        elapsed = time.monotonic() - started
        said = _last_words(errors)
    if code < 0 or code == FFPLAY_SIGNALLED:  # stopped by a signal (Ctrl-C in its terminal too)
        _check_device(said, path)
        out(f"Stopped at {format_clock(math.floor(elapsed))}.")
        return
    _check(code, elapsed, seconds, said, path)
    out("Finished.")


def audio_output(
    environ: Mapping[str, str] | None = None,
    sound_cards: Path = Path("/dev/snd"),
    run_user: Path = Path("/run/user"),
) -> str | None:
    """Where ffplay could send sound on this machine, in a few words; None if nowhere.

    On Linux, ffplay's SDL plays through PulseAudio, PipeWire or ALSA: a server's socket, or an
    ALSA playback device. Elsewhere the system's own audio is assumed and ffplay's error decides.
    """
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return "the system's audio"
    if env.get("SDL_AUDIODRIVER"):
        return f"SDL_AUDIODRIVER={env['SDL_AUDIODRIVER']}"  # chosen by hand: let SDL try it
    for server in env.get("PULSE_SERVER", "").split():
        address = re.sub(r"^\{[^}]*\}", "", server)  # "{machine-id}unix:/path" names a host
        if address.startswith("unix:") or address.startswith("/"):
            if _is_socket(Path(address.removeprefix("unix:"))):
                return f"PulseAudio at {address}"
        elif address:
            return f"PulseAudio at {address}"  # a network server: only connecting would tell
    runtime = env.get("XDG_RUNTIME_DIR") or str(run_user / str(os.getuid()))
    for socket in (
        Path(runtime, "pulse", "native"),
        Path(runtime, "pipewire-0"),
        Path("/var/run/pulse/native"),  # PulseAudio in system mode
    ):
        if _is_socket(socket):
            return f"the sound server at {socket}"
    with contextlib.suppress(OSError):
        playback = sorted(sound_cards.glob("pcmC*D*p"))  # ALSA: card C, device D, playback
        if playback:
            return f"ALSA {playback[0]}"
    return None


def _follow(
    process: subprocess.Popen[bytes],
    chapters: tuple[Chapter, ...],
    started: float,
    out: Callable[[str], None],
) -> int:
    """Announce each chapter when the clock passes its start; return ffplay's exit code."""
    try:  # ffplay without a device quits within this: announce nothing until it has settled
        return process.wait(timeout=SETTLE)
    except subprocess.TimeoutExpired:
        pass
    for chapter in chapters:
        wait = chapter.start - (time.monotonic() - started)
        if wait > 0:
            try:
                return process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        elif process.poll() is not None:
            break
        out(f"{format_clock(math.floor(chapter.start))}  {printable(chapter.title)}")
    return process.wait()


def _check_regular(path: Path) -> None:
    """Refuse at once what is not a regular file: ffplay would wait on a pipe for ever, and
    read a device (/dev/zero) without end."""
    regular_file(
        path, OutputError, "Give the path of a rendered MP3, such as output/hip-release.mp3."
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _check(code: int, elapsed: float, seconds: float | None, said: str, path: Path) -> None:
    """Raise if ffplay did not play: no device, a file it cannot read, or a silent early exit."""
    _check_device(said, path)
    # ffplay exits 0 even when it cannot read the file: an exit at once that complained, or long
    # before the length the timeline gives, played nothing.
    at_once = elapsed < EARLY_EXIT
    if code != 0 or (at_once and said.strip()) or (at_once and (seconds or 0) > EARLY_EXIT + 1):
        reason = said.strip().splitlines()[-1] if said.strip() else f"exit code {code}"
        raise PlaybackError(
            f"ffplay could not play {path}: {reason}",
            fix="Check that the file is a complete MP3 (render it again if not).",
        )


def _check_device(said: str, path: Path) -> None:
    if _NO_AUDIO.search(said):
        raise _no_device(path, "ffplay could not open any audio output")


def _no_device(path: Path, why: str) -> NoAudioDevice:
    return NoAudioDevice(
        f"there is no audio device on this machine to play the session ({why})",
        fix=f"The file is {_where(path)}: copy it to a phone or any player with sound.",
    )


def _where(path: Path) -> str:
    return printable(str(path.resolve()))


def _last_words(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read()[-4000:].decode(errors="replace")


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False
