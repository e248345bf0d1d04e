"""`stillpoint library` and `stillpoint play` on folders and files Stillpoint did not write: names
that are not UTF-8, pipes and devices, damaged or absurd sidecars, many foreign MP3s, titles that
would drive a terminal. Real files, a real FIFO, real MP3s made by ffmpeg."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from generator.base.text import printable
from generator.cli import app
from generator.commands.library_page.page import (
    MANY_FILES,
    READING,
    Library,
    survey,
    write_library,
)
from generator.commands.library_page.sessions import player_clock
from generator.commands.player import play
from generator.errors import OutputError
from generator.files.ffmpeg import probe_seconds
from generator.writing.sidecar import MAX_BESIDE_BYTES, read_sidecar
from generator.writing.tags import FileTags, mp3_seconds, write_tags
from tests.test_library_page import _groups_of, make_mp3, write_sidecars
from tests.test_player import fake_ffplay, runtime_dir, sound_server

__all__ = ["fake_ffplay", "runtime_dir", "sound_server"]  # test_player's fixtures, used here

runner = CliRunner()
CAFE = os.fsdecode(b"caf\xe9.mp3")  # how os.walk gives back a Latin-1 name: "caf\udce9.mp3"
FIFO_GRACE = 5.0  # seconds: a pipe is never waited on; this bound only turns a hang into a failure


@pytest.fixture(scope="module")
def short_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real 1-second MP3 to copy: ffmpeg runs once for the module."""
    return make_mp3(tmp_path_factory.mktemp("mp3") / "short.mp3", 1)


def copy(mp3: Path, to: Path) -> Path:
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mp3, to)
    return to


def library(folder: Path) -> Result:
    """`stillpoint library FOLDER`, checked for what every run must be: written, exit 0, no
    traceback, nothing said as an internal error."""
    result = runner.invoke(app, ["library", str(folder)])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout == f"Wrote {folder / 'index.html'} (open it in a browser)\n"
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    return result


def listed(folder: Path) -> list[tuple[str, str, str]]:
    """(file, title, length) of each session the written page lists, its length as the page
    writes it (in seconds in the page's data, written as the audio player writes it)."""
    page = (folder / "index.html").read_text(encoding="utf-8")
    return [
        (session["file"], session["title"], player_clock(session["seconds"]))
        for group in _groups_of(page)
        for session in group["sessions"]
    ]


@contextlib.contextmanager
def freed_after(seconds: float, *fifos: Path) -> Iterator[None]:
    """Should anything wait on these pipes past ``seconds``, open their writing end and close it:
    the reader gets an end of file, and a regression fails the test instead of hanging it."""
    stop = threading.Event()

    def free() -> None:
        if stop.wait(seconds):
            return
        while not stop.is_set():
            for fifo in fifos:
                with contextlib.suppress(OSError):  # ENXIO: nobody is reading it
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            stop.wait(0.05)

    thread = threading.Thread(target=free, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# --- names and kinds of file --------------------------------------------------------------------


def test_a_name_that_is_not_utf8_is_skipped_with_one_warning(
    tmp_path: Path, short_mp3: Path
) -> None:
    copy(short_mp3, tmp_path / "good.mp3")
    copy(short_mp3, tmp_path / CAFE)
    copy(short_mp3, tmp_path / os.fsdecode(b"d\xe9j\xe0") / "inside.mp3")  # a folder so named
    copy(short_mp3, tmp_path / "week" / "day 1.mp3")
    result = library(tmp_path)
    assert result.stderr.splitlines() == [
        f"skipped {tmp_path}/caf\\xe9.mp3: its name is not valid UTF-8. Rename it.",
        f"skipped the folder {tmp_path}/d\\xe9j\\xe0: its name is not valid UTF-8. Rename it.",
    ]
    assert listed(tmp_path) == [("good.mp3", "good", "0:01"), ("week/day 1.mp3", "day 1", "0:01")]


def test_a_folder_whose_own_name_is_not_utf8_is_still_written(
    tmp_path: Path, short_mp3: Path
) -> None:
    folder = tmp_path / os.fsdecode(b"s\xe9ances")
    copy(short_mp3, folder / "calm.mp3")
    found = write_library(folder)
    assert found.warnings == ()
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "in s\\xe9ances</span>" in page  # the folder shown by its name, its byte escaped
    assert str(tmp_path) not in page  # and never the path above it
    assert listed(folder) == [("calm.mp3", "calm", "0:01")]


def test_a_fifo_named_mp3_is_skipped_at_once(tmp_path: Path, short_mp3: Path) -> None:
    copy(short_mp3, tmp_path / "good.mp3")
    fifo = tmp_path / "x.mp3"
    os.mkfifo(fifo)
    started = time.monotonic()
    with freed_after(FIFO_GRACE, fifo):
        result = library(tmp_path)
    assert time.monotonic() - started < FIFO_GRACE
    assert result.stderr.splitlines() == [
        f"skipped {fifo}: it is a named pipe (FIFO), not a regular file. "
        "Remove it, or move it out of the folder."
    ]
    assert listed(tmp_path) == [("good.mp3", "good", "0:01")]


def test_fifos_beside_an_mp3_are_never_opened(tmp_path: Path, short_mp3: Path) -> None:
    """A pipe as its JSON, its VTT and the folder's playlist: each ignored, the MP3 listed."""
    mp3 = copy(short_mp3, tmp_path / "calm.mp3")
    pipes = [mp3.with_suffix(".json"), mp3.with_suffix(".vtt"), tmp_path / "days.m3u8"]
    for pipe in pipes:
        os.mkfifo(pipe)
    started = time.monotonic()
    with freed_after(FIFO_GRACE, *pipes):
        result = library(tmp_path)
    assert time.monotonic() - started < FIFO_GRACE
    fifo = "it is a named pipe (FIFO), not a regular file"
    fix = "Remove it, or render the session again."
    assert result.stderr.splitlines() == [
        f"ignored {pipes[2]}: {fifo}, so the folder's sessions are listed by name. Remove it.",
        f"ignored {pipes[0]}: {fifo}, so calm.mp3 is listed without its title and chapters. {fix}",
        f"ignored {pipes[1]}: {fifo}, so calm.mp3 is listed without the transcript it holds. {fix}",
    ]
    assert listed(tmp_path) == [("calm.mp3", "calm", "0:01")]


def test_a_link_to_nothing_and_a_link_to_an_mp3(tmp_path: Path, short_mp3: Path) -> None:
    (tmp_path / "gone.mp3").symlink_to(tmp_path / "nowhere.mp3")
    (tmp_path / "linked.mp3").symlink_to(short_mp3)
    result = library(tmp_path)
    assert result.stderr.splitlines() == [
        f"skipped {tmp_path}/gone.mp3: it cannot be read (No such file or directory). "
        "Check it, or remove it."
    ]
    assert listed(tmp_path) == [("linked.mp3", "linked", "0:01")]


# --- sidecars that cannot be used ---------------------------------------------------------------


def test_damaged_sidecars_leave_their_mp3_listed(tmp_path: Path, short_mp3: Path) -> None:
    deep = copy(short_mp3, tmp_path / "deep.mp3")
    deep.with_suffix(".json").write_text("[" * 100_000, encoding="utf-8")  # RecursionError
    large = copy(short_mp3, tmp_path / "large.mp3")
    with large.with_suffix(".json").open("wb") as file:
        file.truncate(MAX_BESIDE_BYTES + 1)  # sparse: its size says it, nothing is written
    latin = copy(short_mp3, tmp_path / "latin.mp3")
    latin.with_suffix(".json").write_bytes(b'{"title": "caf\xe9"}')
    digits = copy(short_mp3, tmp_path / "digits.mp3")
    digits.with_suffix(".json").write_text('{"duration": 1' + "0" * 5000 + "}")
    result = library(tmp_path)
    lost, fix = (
        "is listed without its title and chapters",
        "Remove it, or render the session again.",
    )
    assert result.stderr.splitlines() == [
        f"ignored {tmp_path}/deep.json: it is nested too deeply to read, so deep.mp3 {lost}. {fix}",
        f"ignored {tmp_path}/digits.json: it is not JSON, so digits.mp3 {lost}. {fix}",
        f"ignored {tmp_path}/large.json: it is larger than 16 MB, so large.mp3 {lost}. {fix}",
        f"ignored {tmp_path}/latin.json: it is not UTF-8 text, so latin.mp3 {lost}. {fix}",
    ]
    assert listed(tmp_path) == [
        ("deep.mp3", "deep", "0:01"),
        ("digits.mp3", "digits", "0:01"),
        ("large.mp3", "large", "0:01"),
        ("latin.mp3", "latin", "0:01"),
    ]


def test_absurd_numbers_and_lone_surrogates_are_left_out(tmp_path: Path, short_mp3: Path) -> None:
    mp3 = copy(short_mp3, tmp_path / "odd.mp3")
    chapters = [
        {"title": "huge", "start": 10**400},  # float() of it would overflow
        {"title": "infinite", "start": 1e400},  # json reads it as inf
        {"title": "negative", "start": -1},
        {"title": "not a number", "start": "NaN"},
        {"title": "true", "start": True},
        {"title": "past any MP3", "start": 2**32},
        {"title": "caf\udce9", "start": 0.5},  # written by json.dumps as "caf\\udce9"
    ]
    document = {"title": "Odd \ud800", "duration": 1e300, "chapters": chapters}
    mp3.with_suffix(".json").write_text(json.dumps(document), encoding="utf-8")
    sidecar = read_sidecar(mp3)
    assert sidecar is not None
    assert sidecar.title == "Odd \ufffd"
    assert sidecar.seconds is None  # 1e300 s is no MP3's length
    assert [(c.title, c.start) for c in sidecar.chapters] == [("caf\ufffd", 0.5)]
    result = library(tmp_path)
    assert result.stderr == ""  # read, and what could be used is shown
    assert listed(tmp_path) == [("odd.mp3", "Odd \ufffd", "0:01")]  # the length from the MP3


def test_read_sidecar_says_why_it_read_nothing(tmp_path: Path) -> None:
    mp3 = tmp_path / "s.mp3"
    said: list[str] = []
    assert read_sidecar(mp3, said.append) is None
    assert said == []  # no sidecar: nothing to say
    os.mkfifo(mp3.with_suffix(".json"))
    with freed_after(FIFO_GRACE, mp3.with_suffix(".json")):
        assert read_sidecar(mp3, said.append) is None
    assert said == ["it is a named pipe (FIFO), not a regular file"]


# --- many foreign MP3s --------------------------------------------------------------------------


def test_foreign_mp3s_are_timed_from_their_headers_without_ffprobe(
    tmp_path: Path, short_mp3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 MP3s without sidecars (hard links to one real MP3): no process is started, and the
    survey takes milliseconds (ffprobe took 50-90 ms an MP3: a minute and more for these)."""
    for n in range(1000):
        os.link(short_mp3, tmp_path / f"track {n:04d}.mp3")

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    told: list[tuple[str, int, int]] = []
    started = time.monotonic()
    found = survey(tmp_path, lambda stage, done, total: told.append((stage, done, total)))
    assert time.monotonic() - started < 5.0  # 50 ms here; the bound only catches ffprobe's return
    (group,) = found.groups
    assert len(group.sessions) == 1000
    assert {session.length for session in group.sessions} == {"0:01"}
    assert found.warnings == ()
    assert told[0] == (READING, 1, 1000)
    assert told[-1] == (READING, 1000, 1000)
    assert len(told) == 1000


def test_a_few_files_show_no_progress(tmp_path: Path, short_mp3: Path) -> None:
    for n in range(MANY_FILES - 1):
        os.link(short_mp3, tmp_path / f"{n}.mp3")
    told: list[tuple[str, int, int]] = []
    survey(tmp_path, lambda stage, done, total: told.append((stage, done, total)))
    assert told == []


def test_off_a_terminal_the_command_says_only_what_it_wrote(
    tmp_path: Path, short_mp3: Path
) -> None:
    for n in range(MANY_FILES + 5):
        os.link(short_mp3, tmp_path / f"{n}.mp3")
    assert library(tmp_path).stderr == ""  # CliRunner's stderr is no terminal: no bar


def test_write_library_returns_its_warnings_as_data(tmp_path: Path, short_mp3: Path) -> None:
    copy(short_mp3, tmp_path / "good.mp3")
    os.mkfifo(tmp_path / "x.mp3")
    written = write_library(tmp_path)
    assert written == Library(
        tmp_path / "index.html",
        (
            f"skipped {tmp_path}/x.mp3: it is a named pipe (FIFO), not a regular file. "
            "Remove it, or move it out of the folder.",
        ),
    )


def test_mp3_seconds_reads_the_headers(tmp_path: Path, short_mp3: Path) -> None:
    seconds = mp3_seconds(short_mp3)
    probed = probe_seconds(short_mp3)
    assert seconds is not None
    assert probed is not None
    assert seconds == pytest.approx(probed, abs=0.01)
    tagged = copy(short_mp3, tmp_path / "tagged.mp3")
    write_tags(tagged, FileTags("Tagged", cover=b"\x89PNG" + bytes(3_000_000)))  # a 3 MB cover
    assert mp3_seconds(tagged) == pytest.approx(seconds, abs=0.001)
    (tmp_path / "text.mp3").write_text("not an mp3")
    assert mp3_seconds(tmp_path / "text.mp3") is None
    assert mp3_seconds(tmp_path / "missing.mp3") is None
    os.mkfifo(tmp_path / "pipe.mp3")
    with freed_after(FIFO_GRACE, tmp_path / "pipe.mp3"):
        assert mp3_seconds(tmp_path / "pipe.mp3") is None
    assert mp3_seconds(Path("/dev/zero")) is None


# --- the player ---------------------------------------------------------------------------------

TERMINAL_TRICKS = "Calm\x1b]0;owned\x07\x1b[2J\x9b31m\nnext"  # OSC title, clear screen, 8-bit CSI


def test_the_player_never_prints_a_control_character(
    fake_ffplay: Path, tmp_path: Path, short_mp3: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SECONDS", "0.7")  # past the player's SETTLE: chapters are announced
    mp3 = copy(short_mp3, tmp_path / "calm\x1b[2J.mp3")
    write_sidecars(mp3, TERMINAL_TRICKS, 1.0, [("\x1b[31mRed", 0.0)])
    said: list[str] = []
    play(mp3, said.append)
    shown_path = str(mp3).replace("\x1b", "\\x1b")
    assert said == [
        f"Playing Calm\\x1b]0;owned\\x07\\x1b[2J\\x9b31m next, 00:01 ({shown_path}). Ctrl-C stops.",
        "00:00  \\x1b[31mRed",
        "Finished.",
    ]
    assert not any(char in line for line in said for char in "\x1b\x07\x9b\n")


def test_the_player_shows_a_file_name_that_is_not_utf8(
    fake_ffplay: Path, tmp_path: Path, short_mp3: Path
) -> None:
    mp3 = copy(short_mp3, tmp_path / CAFE)
    said: list[str] = []
    play(mp3, said.append)
    assert said == [f"Playing caf\\xe9.mp3 ({tmp_path}/caf\\xe9.mp3). Ctrl-C stops.", "Finished."]


def test_play_refuses_a_fifo_or_a_device_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "x.mp3"
    os.mkfifo(fifo)
    started = time.monotonic()
    with freed_after(FIFO_GRACE, fifo):
        result = runner.invoke(app, ["play", str(fifo)])
    assert time.monotonic() - started < FIFO_GRACE
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"stillpoint: error: {fifo} is a named pipe (FIFO), not a regular file. "
        "Give the path of a rendered MP3, such as output/hip-release.mp3."
    ]
    with pytest.raises(OutputError, match=r"/dev/zero is a device, not a regular file") as caught:
        play(Path("/dev/zero"), lambda line: None)
    assert caught.value.exit_code == 2


def test_a_fifo_beside_the_mp3_does_not_stop_it_playing(
    fake_ffplay: Path, tmp_path: Path, short_mp3: Path
) -> None:
    mp3 = copy(short_mp3, tmp_path / "calm.mp3")
    os.mkfifo(mp3.with_suffix(".json"))
    said: list[str] = []
    with freed_after(FIFO_GRACE, mp3.with_suffix(".json")):
        play(mp3, said.append)
    assert said == [f"Playing calm.mp3 ({mp3}). Ctrl-C stops.", "Finished."]


def test_printable_escapes_what_a_terminal_would_obey() -> None:
    assert printable(os.fsdecode(b"/m/caf\xe9.mp3")) == "/m/caf\\xe9.mp3"
    assert printable(str(Path("a\x1b[2J\nb.mp3"))) == "a\\x1b[2J b.mp3"
    assert printable("lone \ud800") == "lone \\ud800"
