"""`stillpoint play`: a fake ffplay on PATH for the stages of playing, the real ffplay for the
machine without sound (this development machine and CI have no sound card)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.commands.player import NoAudioDevice, PlaybackError, audio_output, play
from generator.errors import OutputError
from tests.test_library_page import make_mp3, write_sidecars

# Records its arguments and pid, says what FAKE_SAY holds on stderr, plays for FAKE_SECONDS.
FAKE_FFPLAY = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_LOG"
echo $$ > "$FAKE_LOG.pid"
if [ -n "$FAKE_SAY" ]; then echo "$FAKE_SAY" >&2; fi
exec sleep "${FAKE_SECONDS:-0}"
"""


@contextlib.contextmanager
def listening_socket(path: Path) -> Iterator[Path]:
    """A real unix socket file, as a sound server leaves one (nobody answers on it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        yield path
    finally:
        server.close()
        path.unlink(missing_ok=True)  # as a server that quits removes it


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """An XDG_RUNTIME_DIR short enough for a unix socket's 108-byte path limit."""
    with tempfile.TemporaryDirectory(prefix="sp-") as folder:
        yield Path(folder)


@pytest.fixture
def sound_server(runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The environment of a desktop with PulseAudio running: its socket where SDL looks."""
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.delenv("SDL_AUDIODRIVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    with listening_socket(runtime_dir / "pulse" / "native") as path:
        yield path


@pytest.fixture
def fake_ffplay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sound_server: Path) -> Path:
    """A fake ffplay first on PATH; returns the file its arguments are logged to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ffplay"
    script.write_text(FAKE_FFPLAY)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "ffplay.log"
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


@pytest.fixture(scope="module")
def session_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp3 = make_mp3(tmp_path_factory.mktemp("play") / "calm.mp3", 2)
    chapters = [("Arrival", 0.0), ("Box breathing", 0.3), ("Rest", 0.6)]
    write_sidecars(mp3, "Calm", 2.0, chapters, [(0.0, 0.2, "Hello.")])
    return mp3


def this_machine_has_sound() -> bool:
    return audio_output() is not None or any(Path("/dev/snd").glob("pcmC*D*p"))


def test_chapters_are_announced_as_playback_reaches_them(
    fake_ffplay: Path, session_mp3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SECONDS", "0.9")
    said: list[tuple[float, str]] = []
    start = time.monotonic()
    play(session_mp3, lambda line: said.append((time.monotonic() - start, line)))
    lines = [line for _, line in said]
    assert lines == [
        f"Playing Calm, 00:02 ({session_mp3}). Ctrl-C stops.",
        "00:00  Arrival",
        "00:00  Box breathing",
        "00:00  Rest",
        "Finished.",
    ]
    times = [at for at, _ in said]
    assert times[2] >= 0.3
    assert times[3] >= 0.6
    assert times[3] < 0.85  # announced when the clock passed it, not at the end
    assert times[4] >= 0.9
    arguments = fake_ffplay.read_text().split("\n")
    assert arguments[:-1] == [
        "-nodisp", "-autoexit", "-nostats", "-loglevel", "error", str(session_mp3)
    ]  # fmt: skip


def test_a_file_without_sidecar_plays_without_chapters(
    fake_ffplay: Path, tmp_path: Path, session_mp3: Path
) -> None:
    bare = tmp_path / "bare.mp3"
    bare.write_bytes(session_mp3.read_bytes())
    said: list[str] = []
    play(bare, said.append)
    assert said == [f"Playing bare.mp3 ({bare}). Ctrl-C stops.", "Finished."]


def test_ffplay_failing_to_open_audio_means_no_device(
    fake_ffplay: Path, session_mp3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SAY", "No more combinations to try, audio open failed")
    with pytest.raises(NoAudioDevice, match="no audio device") as caught:
        play(session_mp3, lambda line: None)
    assert caught.value.exit_code == 1
    assert str(session_mp3.resolve()) in caught.value.message()
    assert "phone" in caught.value.fix


def test_ffplay_failing_on_the_file_is_a_playback_error(
    fake_ffplay: Path, session_mp3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SAY", "calm.mp3: Invalid data found when processing input")
    with pytest.raises(PlaybackError, match="Invalid data found") as caught:
        play(session_mp3, lambda line: None)
    assert caught.value.exit_code == 1


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist") as caught:
        play(tmp_path / "gone.mp3", lambda line: None)
    assert caught.value.exit_code == 2


def test_without_ffplay_the_file_is_pointed_to(
    tmp_path: Path, session_mp3: Path, monkeypatch: pytest.MonkeyPatch, sound_server: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NoAudioDevice, match=r"ffplay .* is not installed") as caught:
        play(session_mp3, lambda line: None)
    assert str(session_mp3.resolve()) in caught.value.fix


def test_ctrl_c_stops_ffplay(fake_ffplay: Path, session_mp3: Path) -> None:
    """A real SIGINT to a real process playing: it says where it stopped and ffplay is gone."""
    code = (
        "import sys; from pathlib import Path; from generator.commands.player import play;"
        "play(Path(sys.argv[1]), lambda line: print(line, flush=True))"
    )
    env = {**os.environ, "FAKE_SECONDS": "30"}
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(session_mp3)], stdout=subprocess.PIPE, text=True, env=env
    )
    pid_file = Path(f"{fake_ffplay}.pid")
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("Playing Calm")
        while not pid_file.exists() or not pid_file.read_text().strip():
            time.sleep(0.02)
        ffplay = int(pid_file.read_text())
        time.sleep(0.4)
        child.send_signal(signal.SIGINT)  # only to stillpoint: it must stop ffplay itself
        output, _ = child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 0
    assert output.splitlines()[-1] == "Stopped at 00:00."
    with pytest.raises(ProcessLookupError):
        os.kill(ffplay, 0)


def test_audio_output_looks_for_servers_and_cards(runtime_dir: Path) -> None:
    cards = runtime_dir / "snd"
    cards.mkdir()
    users = runtime_dir / "run-user"
    assert audio_output({}, cards, users) is None
    assert audio_output({"XDG_RUNTIME_DIR": str(runtime_dir)}, cards, users) is None
    (cards / "controlC0").touch()
    (cards / "pcmC0D0c").touch()  # a capture device plays nothing
    assert audio_output({}, cards, users) is None
    (cards / "pcmC0D0p").touch()
    assert audio_output({}, cards, users) == f"ALSA {cards / 'pcmC0D0p'}"


def test_audio_output_needs_a_real_socket(runtime_dir: Path) -> None:
    cards, users = runtime_dir / "snd", runtime_dir / "run-user"
    env = {"XDG_RUNTIME_DIR": str(runtime_dir)}
    (runtime_dir / "pulse").mkdir()
    (runtime_dir / "pulse" / "native").touch()  # a plain file left behind is no server
    assert audio_output(env, cards, users) is None
    with listening_socket(runtime_dir / "pipewire-0") as pipewire:
        assert audio_output(env, cards, users) == f"the sound server at {pipewire}"
    uid_dir = users / str(os.getuid())
    with listening_socket(uid_dir / "pulse" / "native"):
        assert audio_output({}, cards, users) is not None  # no XDG_RUNTIME_DIR: /run/user/UID
    assert audio_output({"PULSE_SERVER": f"unix:{runtime_dir}/none"}, cards, users) is None
    assert audio_output({"PULSE_SERVER": "tcp:speakers.local:4713"}, cards, users) is not None
    assert audio_output({"SDL_AUDIODRIVER": "alsa"}, cards, users) == "SDL_AUDIODRIVER=alsa"


@pytest.mark.skipif(this_machine_has_sound(), reason="this machine can play sound")
def test_no_device_on_this_machine_is_an_environment_problem(session_mp3: Path) -> None:
    with pytest.raises(NoAudioDevice, match="no audio device on this machine") as caught:
        play(session_mp3, lambda line: None)
    assert caught.value.exit_code == 1
    assert f"The file is {session_mp3.resolve()}" in caught.value.message()


@pytest.mark.skipif(this_machine_has_sound(), reason="this machine can play sound")
def test_real_ffplay_that_cannot_open_audio_is_no_device(
    sound_server: Path, session_mp3: Path
) -> None:
    """A sound server's socket that nobody answers: the real ffplay tries, fails, says so."""
    said: list[str] = []
    with pytest.raises(NoAudioDevice, match="could not open any audio output"):
        play(session_mp3, said.append)
    assert said == [f"Playing Calm, 00:02 ({session_mp3}). Ctrl-C stops."]
