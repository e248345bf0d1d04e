"""Untrusted files, a catalogue: a shared MP3's record, a studio's bell, a lexicon, a device or a
pipe where a file belongs, names too long, a full disk. Each is refused in one line with the
right exit code and nothing written (the helpers of ``test_hostile_input``), or works.

The MP3s given to ``render --from`` are real renders whose record (the ``TXXX:stillpoint``
frame) is then rewritten, as someone sharing a crafted file would.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from mutagen import MutagenError
from mutagen.id3 import ID3, TXXX

from generator import cli
from generator.errors import LexiconError
from generator.speech.lexicon import Lexicon, load_lexicons
from generator.writing import tags
from generator.writing.tags import RECORD_FRAME, read_record
from tests.test_hostile_input import (
    OUT,
    Case,
    assert_refused,
    lay_out,
    runner,
    script,
    snapshot,
    work,
)

__all__ = ["work"]  # the fixture, used by name

ESPEAK = "pyttsx3:gmw/en-us"
SHORT = "[chapter Hello]\nHello there.\n[pause 2s]\nRest now.\n"


def refused(work: Path, args: list[str], case: Case) -> None:
    """Run the command in process and check it is refused as the catalogue requires."""
    before = snapshot(work)
    result = runner.invoke(cli.app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_refused(result.exit_code, result.stdout, result.stderr, case, before, work)


def make_sound(path: Path, *options: str, source: str = "sine=frequency=660:duration=2") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, *options, "-y", str(path)]
    subprocess.run(command, check=True)
    return path


# --- render --from: what a shared MP3's record may make a render read ------------------------


@pytest.fixture(scope="module")
def shared_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real render of a short script (eSpeak NG), to craft records into."""
    folder = tmp_path_factory.mktemp("shared")
    source = folder / "hello.txt"
    source.write_text(SHORT, encoding="utf-8")
    mp3 = folder / "hello.mp3"
    result = runner.invoke(cli.app, ["render", str(source), "-o", str(mp3), "--voice", ESPEAK])
    assert result.exit_code == 0, result.output
    return mp3


def crafted(shared: Path, work: Path, change: Callable[[dict[str, Any]], object]) -> str:
    """A copy of the shared MP3 in work/ whose record ``change`` rewrote (it edits the parsed
    record in place, or returns the raw text to store instead)."""
    record = json.loads(read_record(shared) or "")
    text = change(record)
    copy = work / "shared.mp3"
    copy.write_bytes(shared.read_bytes())
    id3 = ID3(copy)
    id3.delall(f"TXXX:{RECORD_FRAME}")
    id3.add(
        TXXX(
            encoding=3,
            desc=RECORD_FRAME,
            text=text if isinstance(text, str) else json.dumps(record),
        )
    )
    id3.save(copy, v2_version=3)
    return "shared.mp3"


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        record[key] = value

    return change


def _setting(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        record["settings"][key] = value

    return change


def _file(key: str) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        record["files"][key] = "Hello.\n"

    return change


def _secret_recipe(record: dict[str, Any]) -> None:
    record["recipe_file"] = "{secret}"


def _nested(record: dict[str, Any]) -> str:
    return '{"format": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"


def _nan(record: dict[str, Any]) -> str:
    return json.dumps(record).replace('"skip": []', '"skip": NaN')


FROM_CASES = [
    pytest.param(_secret_recipe, "recipe_file '", id="recipe-file-absolute"),
    pytest.param(_set("recipe_file", "../../secret.txt"), "is not one of its own", id="dotdot"),
    pytest.param(
        _set("recipe_file", "templates/x.j2"), "is not one of its own", id="not-a-session"
    ),
    pytest.param(_set("target", {"fraction": "1e-100000000"}), "is not a fraction", id="time-bomb"),
    pytest.param(_set("target", {"fraction": "1/0"}), "divides by zero", id="divide-by-zero"),
    pytest.param(_set("target", {"fraction": "86400"}), "up to 12 hours", id="over-12-hours"),
    pytest.param(_set("target", 600), "target is not a length", id="target-wrong-type"),
    pytest.param(_set("skip", "lizard"), "skip is not a list", id="skip-wrong-type"),
    pytest.param(_set("settings", ["breath"]), "settings is not a table", id="settings-list"),
    pytest.param(_setting("breath", {"fraction": "1/0"}), "divides by zero", id="setting-1/0"),
    pytest.param(_setting("breath", [1, 2]), "is not a value", id="setting-wrong-type"),
    pytest.param(_nested, "nests deeper than", id="nested-100000-deep"),
    pytest.param(_nan, "NaN, which is not a number", id="nan"),
    pytest.param(_file(""), "is not a relative path", id="file-key-empty"),
    pytest.param(_file("sessions"), "is both a file and a folder", id="file-key-a-folder"),
    pytest.param(_file("templates/a\u0000b.j2"), "is not a relative path", id="file-key-nul"),
    pytest.param(_file("templates/" + "x" * 300 + ".j2"), "over 255 bytes", id="file-key-long"),
    pytest.param(_set("name", "../../evil"), "is not a file name", id="name-a-path"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("change", "what"), FROM_CASES)
def test_a_crafted_record_is_refused(
    shared_mp3: Path, work: Path, change: Callable[[dict[str, Any]], object], what: str
) -> None:
    secret = work.parent / "secret.txt"
    secret.write_text("The bank password is hunter2.\n", encoding="utf-8")

    def with_secret(record: dict[str, Any]) -> object:
        result = change(record)
        if record.get("recipe_file") == "{secret}":
            record["recipe_file"] = str(secret)
        return result

    mp3 = crafted(shared_mp3, work, with_secret)
    started = time.monotonic()
    case = Case((), None, "cannot be used: " if what else "", "altered since")
    refused(work, ["render", "--from", mp3, "-o", OUT], case)
    assert time.monotonic() - started < 10  # not hours inside Fraction()
    assert what in runner.invoke(cli.app, ["render", "--from", mp3, "-o", OUT]).stderr


@pytest.mark.e2e
@pytest.mark.parametrize("setting", ["cover", "ambience"])
def test_a_record_cannot_make_the_render_read_a_file_of_its_choosing(
    shared_mp3: Path, work: Path, setting: str
) -> None:
    private = work.parent / "private.png"
    private.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    mp3 = crafted(shared_mp3, work, _setting(setting, str(private)))
    case = Case((), None, f"asks to read {private}, a file outside it", "Name the file")
    refused(work, ["render", "--from", mp3, "-o", OUT], case)


@pytest.mark.e2e
def test_a_file_the_record_names_is_used_when_the_command_line_names_it(
    shared_mp3: Path, work: Path
) -> None:
    cover = work / "mine.png"
    cover.write_bytes(tags_cover := b"\x89PNG\r\n\x1a\n" + b"\x01" * 64)
    mp3 = crafted(shared_mp3, work, _setting("cover", str(cover)))
    args = ["render", "--from", mp3, "-o", "again.mp3", "--set", f"cover={cover}"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert tags.read_cover(work / "again.mp3") == tags_cover


@pytest.mark.e2e
def test_an_untouched_record_still_renders_the_same_bytes(shared_mp3: Path, work: Path) -> None:
    mp3 = crafted(shared_mp3, work, lambda record: None)
    result = runner.invoke(cli.app, ["render", "--from", mp3, "-o", "again.mp3"])
    assert result.exit_code == 0, result.output
    assert (work / "again.mp3").read_bytes() == shared_mp3.read_bytes()


def test_a_tag_larger_than_any_stillpoint_writes_is_not_read(work: Path) -> None:
    huge = work / "huge.mp3"
    size = 40_000_000  # as the tag header says; the file itself is small
    synchsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    huge.write_bytes(b"ID3\x03\x00\x00" + synchsafe + b"\x00" * 100)
    case = Case((), None, "cannot read huge.mp3: its tag is 40,000,000 bytes", "Give an MP3")
    refused(work, ["render", "--from", "huge.mp3", "-o", OUT], case)


@pytest.mark.parametrize("device", ["/dev/zero", "fifo"])
def test_render_from_a_device_or_pipe_is_refused_at_once(work: Path, device: str) -> None:
    if device == "fifo":
        os.mkfifo(work / "fifo")
    case = Case((), None, "not a regular file", "Give an MP3 Stillpoint made")
    refused(work, ["render", "--from", device, "-o", OUT], case)


# --- user files that are devices, pipes or huge -------------------------------------------------


def fifo(work: Path, name: str) -> None:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


def sparse(work: Path, name: str, size: int) -> None:
    with (work / name).open("wb") as file:
        file.truncate(size)


DEVICE_CASES = [
    pytest.param(
        ["--set", "cover=/dev/zero"],
        None,
        "--set cover=/dev/zero: /dev/zero is a device, not a regular",
        "Give a PNG or JPEG file",
        id="cover-dev-zero",
    ),
    pytest.param(
        ["--set", "cover=pipe.png"],
        "pipe.png",
        "--set cover=pipe.png: pipe.png is a named pipe (FIFO), not a regular",
        "Give a PNG or JPEG file",
        id="cover-fifo",
    ),
    pytest.param(
        ["--set", "cover=big.png"],
        "big.png:sparse",
        "big.png is larger than 10 MB",
        "Give a PNG or JPEG file",
        id="cover-huge",
    ),
    pytest.param(
        ["--ambience", "/dev/zero"],
        None,
        "--ambience /dev/zero: /dev/zero is a device, not a regular",
        "Give a sound file as the bed",
        id="ambience-dev-zero",
    ),
    pytest.param(
        ["--ambience", "rain.mp3"],
        "rain.mp3",
        "--ambience rain.mp3: rain.mp3 is a named pipe (FIFO), not a regular",
        "Give a sound file as the bed",
        id="ambience-fifo",
    ),
]


@pytest.mark.parametrize(("options", "special", "what", "fix"), DEVICE_CASES)
def test_a_device_pipe_or_huge_file_is_refused_before_it_is_read(
    work: Path, options: list[str], special: str | None, what: str, fix: str
) -> None:
    lay_out(work, script("Hello.\n"))
    if special and special.endswith(":sparse"):
        sparse(work, special.removesuffix(":sparse"), 200_000_000)
    elif special:
        fifo(work, special)
    started = time.monotonic()
    refused(work, ["render", "s.txt", "-o", OUT, *options], Case((), None, what, fix))
    assert time.monotonic() - started < 10  # a pipe is not waited on


def test_music_that_is_a_pipe_is_named_as_music(work: Path) -> None:
    lay_out(work, script("Dance.\n[for 10s music song.mp3]\n"))
    fifo(work, "song.mp3")
    case = Case(
        (),
        "s.txt:2",
        "song.mp3 is a named pipe (FIFO), not a regular file",
        "Give a sound file as the music",
    )
    refused(work, ["render", "s.txt", "-o", OUT, "--voice", ESPEAK], case)


def test_a_bell_that_is_a_pipe_is_refused_at_the_line_that_rings_it(work: Path) -> None:
    lay_out(work, script("Hello.\n[bell gong]\n"))
    fifo(work, "scr/sounds/gong.wav")
    case = Case(
        (),
        "s.txt:2",
        "gong.wav is a named pipe (FIFO), not a regular file",
        "Give a sound file as the bell",
    )
    refused(work, ["script", "s.txt", "--scripts", "scr"], case)


def test_a_template_that_is_a_pipe_is_never_opened(work: Path) -> None:
    lay_out(work, {"r.toml": '[[part]]\ntemplate = "t.j2"\n'})
    fifo(work, "t.j2")
    started = time.monotonic()
    result = runner.invoke(cli.app, ["script", "r.toml"])
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert time.monotonic() - started < 10


# --- a studio's bells: any file ffmpeg decodes ---------------------------------------------------

STUDIO_BELLS = [
    pytest.param(["-c:a", "pcm_s24le"], id="24-bit"),
    pytest.param(["-c:a", "pcm_f32le"], id="32-bit-float"),
    pytest.param(["-ar", "48000"], id="48-kHz"),
    pytest.param(["-ar", "96000", "-c:a", "pcm_s24le"], id="96-kHz-24-bit"),
    pytest.param(["-ac", "2"], id="stereo"),
    pytest.param(["-ac", "8", "-c:a", "pcm_s32le"], id="8-channel"),
    pytest.param(["-c:a", "pcm_u8"], id="8-bit"),
]


@pytest.mark.parametrize("options", STUDIO_BELLS)
def test_a_studio_bell_of_any_wav_format_rings(work: Path, options: list[str]) -> None:
    make_sound(work / "scr" / "sounds" / "gong.wav", *options)
    lay_out(work, script("Hello.\n[bell gong]\nRest.\n"))
    result = runner.invoke(cli.app, ["script", "s.txt", "--scripts", "scr", "--bell", "gong"])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if "[bell gong]" in line]
    assert line.startswith("00:0")
    assert runner.invoke(cli.app, ["validate", "s.txt", "--scripts", "scr"]).exit_code == 0


@pytest.mark.e2e
def test_a_24_bit_96_khz_stereo_bell_is_heard_in_the_file(work: Path) -> None:
    make_sound(
        work / "scr" / "sounds" / "gong.wav", "-ar", "96000", "-ac", "2", "-c:a", "pcm_s24le"
    )
    lay_out(work, script("Hello.\n[bell gong]\nRest.\n"))
    args = ["render", "s.txt", "--scripts", "scr", "-o", "b.mp3", "--voice", ESPEAK]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    timeline = json.loads((work / "b.json").read_text(encoding="utf-8"))
    (bell,) = [event for event in timeline["events"] if event["kind"] == "bell"]
    assert bell["end"] - bell["start"] == pytest.approx(2.0, abs=0.01)  # its whole length


def test_a_corrupt_bell_is_one_line_in_script_render_and_validate(work: Path) -> None:
    (work / "scr" / "sounds").mkdir(parents=True)
    (work / "scr" / "sounds" / "gong.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 10)
    lay_out(work, script("Hello.\n[bell gong]\n"))
    case = Case((), "s.txt:2", "cannot decode scr/sounds/gong.wav as sound", "Use a sound file")
    refused(work, ["render", "s.txt", "--scripts", "scr", "-o", OUT], case)
    result = runner.invoke(cli.app, ["validate", "s.txt", "--scripts", "scr"])
    assert result.exit_code == 2
    assert result.stderr.startswith("s.txt:2: cannot decode scr/sounds/gong.wav as sound")


def peak_rss_mb(command: list[str], work: Path) -> float:
    """The render's peak resident memory, as GNU time reports it (the process and its children)."""
    report = work.parent / "rss"
    timed = ["/usr/bin/time", "-f", "%M", "-o", str(report), *command]
    done = subprocess.run(timed, cwd=work, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return int(report.read_text().split()[-1]) / 1024


@pytest.mark.e2e
def test_a_three_hour_bell_and_bed_are_read_only_as_far_as_they_are_used(work: Path) -> None:
    """Memory bombs: a 3-hour file as the bell and as the bed of a session of seconds. Decoded
    whole it takes gigabytes; read within its roles' bounds, the render needs about the memory
    it needs with a bed of one minute."""
    tone = "sine=frequency=220:duration={seconds}:sample_rate=8000"
    make_sound(work / "scr" / "sounds" / "long.wav", source=tone.format(seconds=10_800))
    make_sound(work / "minute.wav", source=tone.format(seconds=60))
    (work / "long.wav").symlink_to(work / "scr" / "sounds" / "long.wav")
    lay_out(work, script("Hello.\n[bell long]\nRest.\n"))
    render = [sys.executable, "-m", "generator", "render", "s.txt", "--scripts", "scr"]
    render += ["--voice", ESPEAK, "-o", "x.mp3", "--ambience"]
    with_a_minute = peak_rss_mb([*render, "minute.wav"], work)
    with_three_hours = peak_rss_mb([*render, "long.wav"], work)
    # Mastering's search varies with the bed's sound (measured 453 and 505 MB); decoded whole,
    # three hours at the session rate would add 1.9 GB.
    assert with_three_hours < 1.5 * with_a_minute, (with_a_minute, with_three_hours)
    timeline = json.loads((work / "x.json").read_text(encoding="utf-8"))
    (bell,) = [event for event in timeline["events"] if event["kind"] == "bell"]
    assert bell["end"] - bell["start"] == pytest.approx(30.0, abs=0.01)  # a bell's bound


# --- the lexicon --------------------------------------------------------------------------------


def test_dotless_i_and_long_s_beside_a_lexicon_word_are_respelled() -> None:
    lexicon = Lexicon({"turmeric": "TUR-mer-ik", "savasana": "sha-VAH-sa-na"})
    assert (
        lexicon.respell("Turmer\u0131c, then \u017favasana.") == "TUR-mer-ik, then sha-VAH-sa-na."
    )


@pytest.mark.parametrize("key", ['""', '"   "'])
def test_a_blank_lexicon_key_is_refused_at_its_line(tmp_path: Path, key: str) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text(f'[all]\n"Epsom" = "Ep sum"\n{key} = "banana"\n', encoding="utf-8")
    with pytest.raises(LexiconError, match="no words to match") as raised:
        load_lexicons([path], ["pyttsx3"])
    assert str(raised.value.where).endswith("lexicon.toml:3")


@pytest.mark.e2e
def test_a_session_with_a_dotless_i_renders_through_the_lexicon(work: Path) -> None:
    lay_out(work, {"scr/lexicon.toml": '[all]\n"turmeric" = "tur mer ick"\n'})
    lay_out(work, script("A cup of turmer\u0131c tea.\n"))
    args = ["render", "s.txt", "--scripts", "scr", "-o", "t.mp3", "--voice", ESPEAK]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    timeline = json.loads((work / "t.json").read_text(encoding="utf-8"))
    (speech,) = [event for event in timeline["events"] if event["kind"] == "speech"]
    assert speech["spoken"] == "A cup of tur mer ick tea."


# --- full disks, long names, closed pipes, a scripts folder that cannot be made ------------------


def test_a_full_disk_while_tagging_is_one_line(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def save_on_a_full_disk(self: ID3, *args: object, **kwargs: object) -> None:
        disk_full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise MutagenError(disk_full) from disk_full  # as mutagen wraps it

    monkeypatch.setattr(ID3, "save", save_on_a_full_disk)
    lay_out(work, script("Hello.\n"))
    case = Case((), None, "cannot write the tags of ", "Free some space")
    refused(work, ["render", "s.txt", "-o", OUT, "--voice", ESPEAK], case)
    assert (
        "No space left on device"
        in runner.invoke(cli.app, ["render", "s.txt", "-o", OUT, "--voice", ESPEAK]).stderr
    )


@pytest.mark.parametrize("length", [254, 240, 225])
def test_a_name_too_long_for_any_file_the_render_writes_is_refused_first(
    work: Path, length: int
) -> None:
    lay_out(work, script("[prompt] What do the hips hold?\n"))
    name = "a" * (length - 4) + ".mp3"
    case = Case((), None, "the output name is too long", "Choose a name of at most 220 bytes")
    refused(work, ["render", "s.txt", "-o", name, "--voice", ESPEAK], case)


@pytest.mark.e2e
def test_the_longest_name_allowed_renders_with_every_sidecar(work: Path) -> None:
    lay_out(work, script("[prompt] What do the hips hold?\n"))
    name = "a" * 220 + ".mp3"
    result = runner.invoke(cli.app, ["render", "s.txt", "-o", name, "--voice", ESPEAK])
    assert result.exit_code == 0, result.output
    assert (work / ("a" * 220 + ".prompts.txt")).is_file()


@pytest.mark.parametrize("command", ["voices", "list", "script hip-release", "show pigeon"])
def test_a_closed_pipe_ends_quietly(command: str) -> None:
    """`stillpoint list | head -1`, the pipe closed as a shell closes it: no error, no traceback."""
    stillpoint = subprocess.Popen(
        [sys.executable, "-m", "generator", *command.split()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert stillpoint.stdout is not None
    head = subprocess.run(["head", "-1"], stdin=stillpoint.stdout, capture_output=True, check=True)
    stillpoint.stdout.close()  # as the shell does: only head holds the pipe
    _, errors = stillpoint.communicate(timeout=60)
    assert errors == b""
    assert len(head.stdout.splitlines()) == 1


def test_new_with_a_file_where_the_scripts_folder_should_be(work: Path) -> None:
    lay_out(work, {"scripts": "a file"})
    case = Case((), None, "the scripts folder scripts is a file, not a folder", "Give a folder")
    refused(work, ["new", "mine", "--scripts", "scripts"], case)


def test_new_with_a_home_it_cannot_write_into(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lay_out(work, {"home": "a file"})  # as root any folder is writable: a file stands in for it
    monkeypatch.setenv("XDG_DATA_HOME", str(work / "home" / "data"))
    case = Case((), None, "cannot create the scripts folder", "Give a folder you can write to")
    refused(work, ["new", "mine"], case)


# --- smaller, same family -------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_render_removes_a_sidecar_it_no_longer_writes(work: Path) -> None:
    lay_out(work, script("[prompt] What do the hips hold?\n"))
    render = ["render", "s.txt", "-o", "talk.mp3", "--voice", ESPEAK]
    assert runner.invoke(cli.app, render).exit_code == 0
    assert (work / "talk.prompts.txt").is_file()
    lay_out(work, script("Rest now.\n"))
    assert runner.invoke(cli.app, render).exit_code == 0
    assert not (work / "talk.prompts.txt").exists()
    assert sorted(path.name for path in work.glob("talk*")) == [
        "talk.json", "talk.lrc", "talk.mp3", "talk.vtt",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "files", "where", "what", "fix"),
    [
        pytest.param(
            ["script", "s.txt"],
            script("Hi.\n[hold 2 breaths pose x side rigth]\n[end hold]\n"),
            "s.txt:2",
            "'rigth' is not a side",
            "Did you mean 'right'?",
            id="side-typo",
        ),
        pytest.param(
            ["script", "pigeon", "--set", 'sides=["up"]'],
            {},
            "",
            "'up' is not a side",
            "Write side left or side right",
            id="sides-up",
        ),
        pytest.param(
            ["script", "pigeon", "--set", 'sides=["left","left"]'],
            {},
            "",
            "pigeon is held on the left side twice in a row",
            "Hold each side once",
            id="sides-twice",
        ),
        pytest.param(
            ["timer", "--minutes", "0.1", "-o", OUT],
            {},
            None,
            "--minutes 0.1: a timer lasts at least 10 seconds",
            "Give --minutes 0.17 or more",
            id="timer-range",
        ),
        pytest.param(
            ["script", "pigeon", "--minutes", "1_0"],
            {},
            None,
            "--minutes 1_0 is not a number",
            "Write it with digits",
            id="minutes-underscore",
        ),
        pytest.param(
            ["render", "prog.toml", "-o", "out"],
            {"prog.toml": 'title = "P"\n[[day]]\nsession = "pigeon"\nminutes = nan\n'},
            "prog.toml:2",
            "minutes = nan is not a session length",
            "Give a number of minutes",
            id="program-minutes-nan",
        ),
    ],
)
def test_smaller_mistakes_are_one_line(
    work: Path, args: list[str], files: dict[str, str], where: str | None, what: str, fix: str
) -> None:
    lay_out(work, files)
    place = where if where != "" else f"{Path(__file__).parents[1]}/scripts/templates/pose-hold.j2:"
    refused(work, args, Case((), place, what, fix))


def test_a_config_that_is_a_folder_says_so(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "conf").mkdir()
    monkeypatch.setenv("STILLPOINT_CONFIG", str(work / "conf"))
    case = Case((), None, "is a folder", "Create it, or unset")
    refused(work, ["list"], case)


def test_record_fractions_stay_exact() -> None:
    from generator.writing.provenance import _fraction

    assert _fraction("45/2", "breath") == Fraction(45, 2)
    assert _fraction("-7", "x") == -7
