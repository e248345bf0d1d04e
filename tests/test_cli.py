"""The command line through typer's CliRunner, plus one real subprocess of the installed command."""

import os
import pty
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator import __version__
from generator.cli import app
from generator.speech import voices
from tests.conftest import write

runner = CliRunner()


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).output.strip() == f"stillpoint {__version__}"
    result = runner.invoke(app, ["render", "--help"])
    assert result.exit_code == 0
    assert "Render SESSION to an MP3" in result.output


def test_list_shows_sessions_with_their_length() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("hip-release"))
    assert "Hip Release" in line
    minutes = int(line.split("~")[1].split(":")[0])
    assert minutes >= 15


def test_script_prints_a_timed_plan(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.txt", "[chapter One]\nHello there.\n[pause 1m]\n[bell chime]\nBye.\n"
    )
    result = runner.invoke(app, ["script", str(path)])
    assert result.exit_code == 0, result.output
    assert "## One" in result.output
    assert "00:01.000  Hello there." in result.output
    assert "[silence]  (01:00.000)" in result.output
    assert "[bell chime]" in result.output
    assert "Total 01:" in result.output


def test_set_overrides_reach_the_plan() -> None:
    short = runner.invoke(app, ["script", "hip-release", "--set", "breath=4s"])
    long = runner.invoke(app, ["script", "hip-release", "--set", "breath=12s"])
    assert short.exit_code == long.exit_code == 0

    def total(output: str) -> int:
        minutes, seconds = output.strip().splitlines()[-1].split()[1].split(":")
        return int(minutes) * 60 + round(float(seconds))

    assert total(long.output) > total(short.output) + 5 * 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["script", "hip-relase"], "no session named 'hip-relase'"),
        (
            ["script", "hip-release", "--set", "colour=blue"],
            "--set colour=blue: no setting or template variable named 'colour'",
        ),
        (
            ["script", "hip-release", "--set", "breath=fast"],
            "--set breath=fast: 'fast' is not a duration",
        ),
        (["script", "hip-release", "--set", "oops"], "is not KEY=VALUE"),
        (["render", "hip-release", "--rate", "9"], "rate must be between"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_a_markup_error_names_the_line_and_writes_nothing(tmp_path: Path, in_tmp: Path) -> None:
    existing = write(in_tmp / "output" / "s.mp3", "precious")
    path = write(tmp_path / "s.txt", "Hello.\n[pasue 5s]\n")
    result = runner.invoke(app, ["render", str(path), "-o", str(existing)])
    assert result.exit_code == 2
    assert "s.txt:2: unknown directive [pasue 5s]" in result.output
    assert existing.read_text() == "precious"
    assert sorted(p.name for p in existing.parent.iterdir()) == ["s.mp3"]


def test_the_output_must_be_an_mp3_so_sidecars_cannot_collide(tmp_path: Path) -> None:
    path = write(tmp_path / "s.txt", "Hello.\n")
    result = runner.invoke(app, ["render", str(path), "-o", str(tmp_path / "s.json")])
    assert result.exit_code == 2
    assert "does not end in .mp3" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.txt"]


def test_an_unknown_bell_is_named_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.txt", "Hello.\n\n[bell gong]\n")
    result = runner.invoke(app, ["script", str(path)])
    assert result.exit_code == 2
    assert "s.txt:3: unknown bell 'gong'" in result.output
    assert "bowl, chime" in result.output


def test_voices_lists_both_engines_and_marks_the_natural_voice_as_default() -> None:
    result = runner.invoke(app, ["voices"])
    assert result.exit_code == 0
    rows = [line.split() for line in result.output.splitlines()[1:]]
    default = [row for row in rows if row[0] == "*"]
    assert default == [["*", "piper", "piper:joe", "en_US", "joe", "(bundled)"]]
    assert any(row[:2] == ["pyttsx3", "pyttsx3:gmw/en-us"] for row in rows)


def test_without_the_piper_extra_the_default_is_espeak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voices, "piper_installed", lambda: False)
    result = runner.invoke(app, ["voices"])
    default = [line for line in result.output.splitlines() if line.startswith("*")]
    assert len(default) == 1
    assert "pyttsx3:gmw/en" in default[0]
    assert "pip install 'PATH-TO-STILLPOINT[piper]'" in result.output
    refused = runner.invoke(app, ["script", "hip-release", "--voice", "piper:joe"])
    assert refused.exit_code == 1
    assert "the piper engine is not installed" in refused.output


@pytest.mark.e2e
def test_the_installed_command_renders_and_reports(tmp_path: Path) -> None:
    """One real process of the console script: output files, a message, exit codes."""
    command = Path(sys.executable).parent / "stillpoint"
    fresh = "".join(f"Sentence {n} of run {uuid.uuid4().hex[:6]}.\n\n" for n in range(6))
    path = write(tmp_path / "short.txt", f"[bell chime]\nWelcome.\n[pause 1s]\n{fresh}")
    done = subprocess.run(
        [str(command), "render", str(path), "-o", str(tmp_path / "out" / "short.mp3")],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Wrote")
    assert done.stdout.count("\n") == 1  # the engine's own chatter stays out of it
    assert done.stderr == ""  # no progress bar when not on a terminal, no engine chatter
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "short.json",
        "short.lrc",
        "short.mp3",
        "short.vtt",
    ]
    shown = _stderr_on_a_terminal(
        [str(command), "render", str(path), "-o", str(tmp_path / "t.mp3")]
    )
    assert "Encoding" in shown  # a progress bar when a person is watching
    assert "100%" in shown
    failed = subprocess.run(
        [str(command), "render", str(tmp_path / "absent.txt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 2
    assert failed.stderr.startswith("stillpoint: error: no such file")


def test_without_ffmpeg_one_line_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no ffmpeg on it
    result = runner.invoke(app, ["render", "hip-release", "-o", str(tmp_path / "x.mp3")])
    assert result.exit_code == 1
    assert result.output == (
        "stillpoint: error: ffmpeg is not installed. Install it: sudo apt-get install ffmpeg\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_without_espeak_one_line_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyttsx3

    def no_espeak() -> None:  # what pyttsx3 2.99 raises when libespeak-ng cannot be loaded
        raise RuntimeError("This means you probably do not have eSpeak or eSpeak-ng installed!")

    monkeypatch.setattr(pyttsx3, "init", no_espeak)
    result = runner.invoke(app, ["voices"])
    assert result.exit_code == 1
    assert "Install eSpeak NG: sudo apt-get install espeak-ng" in result.output
    assert result.output.count("\n") == 1


def _stderr_on_a_terminal(command: list[str]) -> str:
    """Run command with its stderr on a pseudo-terminal; return what the terminal showed."""
    main, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert process.wait(timeout=60) == 0
    return shown.decode(errors="replace")


def plan_total(output: str) -> float:
    minutes, seconds = output.strip().splitlines()[-1].removeprefix("Total ").split(":")
    return int(minutes) * 60 + float(seconds)


@pytest.mark.parametrize("minutes", ["46", "50.5", "58"])
def test_script_meets_the_minutes_asked_for(minutes: str) -> None:
    result = runner.invoke(app, ["script", "hip-release", "--minutes", minutes])
    assert result.exit_code == 0, result.output
    assert plan_total(result.output) == pytest.approx(float(minutes) * 60, abs=0.5)


def test_an_unreachable_length_is_one_line_and_writes_nothing(in_tmp: Path) -> None:
    result = runner.invoke(app, ["render", "hip-release", "--minutes", "5"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "Hip Release cannot last 05:00: it can last from" in result.output
    assert "Choose --minutes from" in result.output
    assert not (in_tmp / "output").exists()
    for bad in ("0", "-3", "nan", "100000"):
        result = runner.invoke(app, ["script", "hip-release", "--minutes", bad])
        assert result.exit_code == 2, bad
        assert "is not a session length" in result.output


def test_breath_option_sets_the_length_of_holds() -> None:
    result = runner.invoke(app, ["script", "hip-release", "--breath", "12s"])
    assert result.exit_code == 0, result.output
    assert "== hold pigeon right side: 8 breaths x 12s = 01:36.000 ==" in result.output
    assert "== hold pigeon left side: 8 breaths x 12s = 01:36.000 ==" in result.output
    bad = runner.invoke(app, ["script", "hip-release", "--breath", "1m30"])
    assert bad.exit_code == 2
    assert "--breath 1m30: " in bad.output  # told as the option that was given


def test_list_shows_the_range_minutes_can_reach() -> None:
    result = runner.invoke(app, ["list"])
    soak = next(line for line in result.output.splitlines() if line.startswith("epsom-soak"))
    shortest, longest = soak.split()[2].split("-", 1)
    assert shortest.startswith("2")  # at least its 20-minute silent soak, and the guidance
    assert longest.startswith("1:0")  # the soak stretches to an hour


def test_timer_options_are_checked_before_any_work(in_tmp: Path) -> None:
    result = runner.invoke(app, ["timer", "--interval", "often"])
    assert result.exit_code == 2
    assert "--interval: 'often' is not a duration" in result.output
    result = runner.invoke(app, ["timer", "--bell", "gong"])
    assert result.exit_code == 2
    assert "unknown bell 'gong'" in result.output
    assert not (in_tmp / "output").exists()
