"""Faults, with real processes: Ctrl-C, SIGTERM and kill -9 during a render, two renders sharing
one speech cache, damaged cache entries, and ffmpeg failing or killed while it encodes.

Whatever happens, an existing output file stays whole and the folder shows no temporary file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from generator.base.samples import Samples, frozen
from generator.errors import EncodeError
from generator.files.atomic import commit_all, remove_stale, temporary_beside, write_atomically
from generator.files.ffmpeg import encode_mp3
from generator.speech.voices import piper_installed
from tests.conftest import write

STILLPOINT = Path(sys.executable).parent / "stillpoint"
ESPEAK = "pyttsx3:gmw/en-us"
RATE = 44_100
LONG = "Settle in.\n[pause 30m]\nRest now.\n"  # seconds of mixing and encoding, little speech
FILES = ("long.mp3", "long.json", "long.vtt", "long.lrc")


def start(script: Path, output: Path, cache: Path, *options: str) -> subprocess.Popen[str]:
    """`stillpoint render` as its own process group, as a shell starts a command."""
    return subprocess.Popen(
        [str(STILLPOINT), "render", str(script), "-o", str(output), *options],
        env={**os.environ, "STILLPOINT_CACHE": str(cache)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def render(script: Path, output: Path, cache: Path, *options: str) -> str:
    """Render to the end; its stdout."""
    stdout, stderr = start(script, output, cache, *options).communicate(timeout=300)
    assert output.is_file(), stderr
    return stdout


def wait_for(found: Callable[[], object], process: subprocess.Popen[str], what: str) -> None:
    """Poll until found() is true, while the render still runs."""
    deadline = time.monotonic() + 120
    while not found():
        assert process.poll() is None, f"the render ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after two minutes"
        time.sleep(0.02)


def processes() -> dict[int, tuple[int, str]]:
    """Every live process (zombies are ended): pid -> (parent pid, command name)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended while we looked
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        state, parent = fields.split()[:2]
        if state != "Z":
            found[int(entry.name)] = (int(parent), name)
    return found


def descendants(root: int) -> dict[int, str]:
    """The processes root started, and theirs: spawn workers, ffmpeg, eSpeak."""
    table = processes()
    family, found = {root}, {}
    grew = True
    while grew:
        grew = False
        for pid, (parent, name) in table.items():
            if parent in family and pid not in family:
                family.add(pid)
                found[pid] = name
                grew = True
    return found


def gone(started: dict[int, str], within: float = 10) -> dict[int, str]:
    """Those of started still running after waiting up to ``within`` seconds for them."""
    deadline = time.monotonic() + within
    while True:
        table = processes()
        left = {pid: name for pid, name in started.items() if table.get(pid, (0, ""))[1] == name}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def parts(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("*.part")]


def test_a_dead_writers_temporary_files_are_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()  # its pid names no process now
    destination = tmp_path / "s.mp3"
    stale = write(tmp_path / f".s.mp3.{ended.pid}.0123abcd.part", "torn")
    live = write(tmp_path / f".s.mp3.{os.getpid()}.89abcdef.part", "being written")
    other = write(tmp_path / f".t.mp3.{ended.pid}.0123abcd.part", "another file's")
    foreign = write(tmp_path / ".s.mp3.notes.part", "not ours to judge")
    temporary = temporary_beside(destination)
    assert temporary.name.startswith(f".s.mp3.{os.getpid()}.")
    assert temporary.name.endswith(".part")
    assert not stale.exists()
    assert all(path.exists() for path in (live, other, foreign))
    assert remove_stale(tmp_path / "t.mp3") == [other]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    destination = write(tmp_path / "index.html", "the previous page")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(destination, "half a page \udcff")  # fails while writing
    assert destination.read_text() == "the previous page"
    assert [path.name for path in tmp_path.iterdir()] == ["index.html"]
    write_atomically(destination, "the new page")
    assert destination.read_text() == "the new page"


def test_ctrl_c_while_renaming_waits_until_every_file_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = []
    for name in ("s.mp3", "s.json", "s.vtt"):
        destination = write(tmp_path / name, "old")
        temporary = temporary_beside(destination)
        temporary.write_text("new")
        pairs.append((temporary, destination))
    rename = Path.replace

    def interrupted(self: Path, target: Path) -> Path:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C between two renames
        return rename(self, target)

    monkeypatch.setattr(Path, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        commit_all(pairs)
    assert [destination.read_text() for _, destination in pairs] == ["new"] * 3
    assert parts(tmp_path) == []


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("signal_number", "to_group", "code", "said"),
    [
        (signal.SIGINT, True, 130, "stillpoint: interrupted\n"),  # Ctrl-C: the whole group
        (signal.SIGTERM, False, 143, "stillpoint: terminated\n"),  # kill PID
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_while_encoding_keeps_the_previous_files(
    tmp_path: Path, signal_number: int, to_group: bool, code: int, said: str
) -> None:
    out = tmp_path / "out"
    previous = {name: write(out / name, f"previous {name}").read_bytes() for name in FILES}
    script, cache = write(tmp_path / "long.txt", LONG), tmp_path / "cache"
    process = start(script, out / "long.mp3", cache, "--voice", ESPEAK)
    wait_for(lambda: parts(out), process, "temporary file")
    time.sleep(0.3)  # well into the encoding
    started = descendants(process.pid)
    assert "ffmpeg" in started.values()
    sent = time.monotonic()
    (os.killpg if to_group else os.kill)(process.pid, signal_number)
    _, stderr = process.communicate(timeout=60)
    took = time.monotonic() - sent
    assert process.returncode == code
    assert stderr == said  # one line, no traceback
    assert took < 5
    assert {path.name: path.read_bytes() for path in out.iterdir()} == previous
    assert gone(started) == {}


@pytest.mark.e2e
@pytest.mark.skipif(not piper_installed(), reason="piper takes long enough to interrupt")
@pytest.mark.parametrize(
    ("signal_number", "to_group", "code", "said"),
    [
        (signal.SIGINT, True, 130, "stillpoint: interrupted\n"),
        (signal.SIGTERM, False, 143, "stillpoint: terminated\n"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_while_synthesising_stops_the_workers(
    tmp_path: Path, signal_number: int, to_group: bool, code: int, said: str
) -> None:
    lines = "".join(f"Sentence {n}: let the hips soften and rest.\n\n" for n in range(40))
    cache, out = tmp_path / "cache", tmp_path / "out"
    process = start(write(tmp_path / "s.txt", lines), out / "s.mp3", cache, "--voice", "piper:joe")
    wait_for(lambda: any(cache.rglob("*.clip")), process, "clip in the cache")
    started = descendants(process.pid)
    assert list(started.values()).count("python3") >= 2  # the workers (and a resource tracker)
    (os.killpg if to_group else os.kill)(process.pid, signal_number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert stderr == said
    assert gone(started) == {}
    assert parts(cache, tmp_path) == []
    assert not out.exists() or list(out.iterdir()) == []


def spawn_workers(root: int) -> list[int]:
    """The multiprocessing processes root has started (speech workers), by their command line."""
    found = []
    for pid in descendants(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(pid)
    return found


@pytest.mark.e2e
def test_ctrl_c_while_the_workers_start_is_one_line_not_their_tracebacks(tmp_path: Path) -> None:
    """A worker importing its modules when Ctrl-C reaches the whole group must ignore it."""
    lines = "".join(f"Sentence {n}: rest.\n\n" for n in range(20))
    cache, out = tmp_path / "cache", tmp_path / "out"
    process = start(write(tmp_path / "s.txt", lines), out / "s.mp3", cache, "--voice", ESPEAK)
    wait_for(lambda: spawn_workers(process.pid), process, "speech worker")
    time.sleep(0.05)  # importing numpy and the engines takes longer
    started = descendants(process.pid)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr == "stillpoint: interrupted\n"
    assert gone(started) == {}


@pytest.mark.e2e
def test_kill_9_leaves_the_previous_file_playable_and_the_next_render_cleans_up(
    tmp_path: Path,
) -> None:
    script = write(tmp_path / "long.txt", LONG.replace("30m", "20m"))
    mp3 = tmp_path / "out" / "long.mp3"
    render(script, mp3, tmp_path, "--voice", ESPEAK)
    before = mp3.read_bytes()
    process = start(script, mp3, tmp_path, "--voice", ESPEAK, "--warmup", "3s")
    wait_for(lambda: parts(mp3.parent), process, "temporary file")
    time.sleep(0.3)
    started = descendants(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert gone(started, within=30) == {}  # ffmpeg reads to the end of its input, and stops
    assert mp3.read_bytes() == before
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp3), "-f", "null", "-"], capture_output=True
    )
    assert decoded.returncode == 0
    assert decoded.stderr == b""  # whole: every frame decodes
    left = parts(mp3.parent)
    assert left  # hidden, with the pid of the render that died
    assert all(path.name.startswith(".") and f".{process.pid}." in path.name for path in left)
    stdout = render(script, mp3, tmp_path, "--voice", ESPEAK, "--warmup", "3s")
    assert stdout.startswith("Wrote")
    assert parts(mp3.parent) == []  # the dead render's temporary files are gone
    assert mp3.read_bytes() != before


@pytest.mark.e2e
def test_two_renders_at_once_share_an_empty_cache(tmp_path: Path) -> None:
    lines = "".join(f"Line {n}: breathe in, and let the breath go.\n\n" for n in range(8))
    script, cache = write(tmp_path / "s.txt", lines), tmp_path / "cache"
    both = [start(script, tmp_path / name / "s.mp3", cache, "--voice", ESPEAK) for name in "ab"]
    for process in both:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert stdout.startswith("Wrote")
    assert (tmp_path / "a" / "s.mp3").read_bytes() == (tmp_path / "b" / "s.mp3").read_bytes()
    assert len(list(cache.rglob("*.clip"))) == 8
    assert parts(cache) == []


@pytest.mark.e2e
def test_damaged_cache_entries_are_made_again_not_played(tmp_path: Path) -> None:
    lines = "".join(f"Line {n}: soften the hips.\n\n" for n in range(4))
    script, cache = write(tmp_path / "s.txt", lines), tmp_path / "cache"
    assert "4 new speech clips" in render(script, tmp_path / "a.mp3", cache, "--voice", ESPEAK)
    flipped, halved, *_ = sorted(cache.rglob("*.clip"))
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte in the middle of the samples
    flipped.write_bytes(bytes(data))
    halved.write_bytes(halved.read_bytes()[: halved.stat().st_size // 2])  # a torn write
    assert "2 new speech clips" in render(script, tmp_path / "b.mp3", cache, "--voice", ESPEAK)
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()
    assert "0 new speech clips" in render(script, tmp_path / "c.mp3", cache, "--voice", ESPEAK)


FAKE_FFMPEG = """#!/bin/sh
head -c 100000 > /dev/null
echo "frame=    0 size=       0kB" >&2
echo "fake-ffmpeg: No space left on device (ENOSPC)" >&2
exit 1
"""


@pytest.mark.e2e
def test_ffmpegs_own_error_reaches_the_user_and_nothing_is_written(tmp_path: Path) -> None:
    fake = write(tmp_path / "bin" / "ffmpeg", FAKE_FFMPEG)
    fake.chmod(0o755)
    script = write(tmp_path / "s.txt", "Rest here.\n[pause 1m]\n")
    output = tmp_path / "out" / "s.mp3"
    done = subprocess.run(
        [str(STILLPOINT), "render", str(script), "-o", str(output), "--voice", ESPEAK],
        env={
            **os.environ,
            "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
            "STILLPOINT_CACHE": str(tmp_path / "cache"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("stillpoint: error: ffmpeg failed to encode the MP3 (exit 1)")
    assert "fake-ffmpeg: No space left on device (ENOSPC)" in done.stderr
    assert list((tmp_path / "out").iterdir()) == []


def tone_blocks(count: int, seconds: float = 1.0) -> Iterator[Samples]:
    t = np.arange(int(seconds * RATE)) / RATE
    for _ in range(count):
        yield frozen(0.3 * np.sin(2 * np.pi * 440 * t))


def ffmpeg_children() -> list[int]:
    mine = processes().items()
    return [pid for pid, (parent, name) in mine if parent == os.getpid() and name == "ffmpeg"]


def test_ffmpeg_killed_mid_encode_is_an_error_and_the_feeding_stops(tmp_path: Path) -> None:
    threads = threading.active_count()
    fed = 0

    def blocks() -> Iterator[Samples]:
        nonlocal fed
        for block in tone_blocks(400):
            fed += 1
            if fed == 3:
                for pid in ffmpeg_children():
                    os.kill(pid, signal.SIGKILL)
            yield block

    with pytest.raises(EncodeError, match=r"ffmpeg failed to encode the MP3 \(killed by SIGKILL\)"):
        encode_mp3(blocks(), RATE, tmp_path / "x.mp3")
    assert fed < 100  # it stopped soon after, rather than mixing the rest for nothing
    assert threading.active_count() == threads
    assert ffmpeg_children() == []


def test_ctrl_c_while_mixing_stops_ffmpeg_and_its_writer_thread(tmp_path: Path) -> None:
    threads = threading.active_count()

    def blocks() -> Iterator[Samples]:
        yield from tone_blocks(5, seconds=10)
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        encode_mp3(blocks(), RATE, tmp_path / "x.mp3")
    assert time.monotonic() - started < 30
    assert threading.active_count() == threads
    assert ffmpeg_children() == []


def test_the_encoder_gets_every_block_through_its_writer_thread(tmp_path: Path) -> None:
    path = tmp_path / "x.mp3"
    encode_mp3(tone_blocks(7, seconds=0.7), RATE, path)
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert len(decoded) // 2 == pytest.approx(7 * 0.7 * RATE, abs=RATE * 0.01)
