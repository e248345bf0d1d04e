"""Hostile and broken input, a catalogue: each case runs the real command line and must be refused
in one line on stderr (file:line where there is one, and how to fix it), with the right exit code
(2: a mistake in the input, 1: the machine), and nothing written: an earlier render at the output
path stays byte for byte, and no file appears, visible or hidden.

Most cases run in process through typer's CliRunner; those about the machine (no ffmpeg, ffmpeg
failing, no eSpeak NG) run the command as a real process with a PATH or a library taken away.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator import cli
from generator.recipes.catalogue import builtin_root

runner = CliRunner()

PREVIOUS = b"ID3\x03\x00 an earlier render: keep me \xff\xfb\x90\x00"  # the bytes out.mp3 holds
OUT = "out/out.mp3"
TEMPLATES = builtin_root() / "scripts" / "templates"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # enough of a picture for the cover check


@dataclass(frozen=True)
class Link:
    """A symbolic link to this target ({elsewhere} is the folder outside the work folder)."""

    target: str


@dataclass(frozen=True)
class Case:
    """One refused command: the files it finds, its arguments, and the one line it must print.

    ``where`` is the start of the line's place: "s.txt:2"; ending in ":" it is any line of that
    file (a built-in template's line numbers move as the text is edited); None: no place.
    """

    args: tuple[str, ...]
    where: str | None
    what: str
    fix: str
    files: Mapping[str, str | bytes | Link] = field(default_factory=dict)
    code: int = 2


def case(
    ident: str,
    args: tuple[str, ...],
    where: str | None,
    what: str,
    fix: str,
    files: Mapping[str, str | bytes | Link] | None = None,
) -> object:
    """One row of the catalogue: a Case as a pytest parameter named ``ident``."""
    return pytest.param(Case(args, where, what, fix, files or {}), id=ident)


def recipe(body: str) -> dict[str, str | bytes | Link]:
    return {"r.toml": textwrap.dedent(body).lstrip()}


def script(text: str | bytes, name: str = "s.txt") -> dict[str, str | bytes | Link]:
    return {name: text}


ARRIVAL = '[[part]]\ntemplate = "arrival.j2"\n'
PIGEON = '[[part]]\ntemplate = "pose-hold.j2"\npose = "pigeon"\n'
RENDER_RECIPE = ("render", "r.toml", "-o", OUT)
RENDER_SCRIPT = ("render", "s.txt", "-o", OUT)
LINKED_SCRIPTS: dict[str, str | bytes | Link] = {
    "scr/sessions/linked.toml": '[[part]]\ntemplate = "link.j2"\n',
    "scr/templates/link.j2": Link("{elsewhere}/secret.j2"),
}

# fmt: off
RECIPE_CASES = [
    case("recipe-toml-syntax", RENDER_RECIPE, "r.toml:1",
         "TOML syntax error", "Fix the recipe's syntax",
         recipe('title = "never closed\n' + ARRIVAL)),
    case("recipe-title-not-text", RENDER_RECIPE, "r.toml:1",
         "title must be a string", "Quote it", recipe("title = 5\n" + ARRIVAL)),
    case("recipe-rate-not-a-number", RENDER_RECIPE, "r.toml:2",
         "rate must be a whole number", "Change the value",
         recipe('[settings]\nrate = "fast"\n' + ARRIVAL)),
    case("recipe-variable-of-the-wrong-type", RENDER_RECIPE, f"{TEMPLATES}/pose-hold.j2:",
         "template failed", "Check the expression",
         recipe(PIGEON + 'hold_breaths = "lots"\n')),
    case("recipe-unknown-key", RENDER_RECIPE, "r.toml:1",
         "unknown key 'titel'", "Did you mean 'title'?", recipe('titel = "Calm"\n' + ARRIVAL)),
    case("recipe-unknown-setting", RENDER_RECIPE, "r.toml:2",
         "unknown setting 'breth'", "Did you mean 'breath'?",
         recipe('[settings]\nbreth = "10s"\n' + ARRIVAL)),
    case("recipe-unknown-part-variable", RENDER_RECIPE, "r.toml:4",
         "has no variable 'hold_breath'", "'hold_breaths'",
         recipe(PIGEON + 'hold_breath = 6\n')),
    case("recipe-part-without-template", RENDER_RECIPE, "r.toml:2",
         "this part has no template", 'Add template = "NAME.j2"',
         recipe('title = "Calm"\n[[part]]\npose = "pigeon"\n')),
    case("recipe-without-parts", RENDER_RECIPE, "r.toml",
         "the recipe has no parts", "Add at least one [[part]]", recipe('title = "Calm"\n')),
    case("recipe-empty-file", RENDER_RECIPE, "r.toml",
         "the recipe has no parts", "Add at least one [[part]]", {"r.toml": ""}),
    case("recipe-negative-breath", RENDER_RECIPE, "r.toml:2",
         "breath must be between 2s and 60s, not -5s", "Change the value",
         recipe("[settings]\nbreath = -5\n" + ARRIVAL)),
    case("recipe-huge-breath", RENDER_RECIPE, "r.toml:2",
         "breath must be between 2s and 60s, not 1e+300s", "Change the value",
         recipe("[settings]\nbreath = 1e300\n" + ARRIVAL)),
    case("recipe-nan-breath", RENDER_RECIPE, "r.toml:2",
         "breath must be a number, not nan", "Change the value",
         recipe("[settings]\nbreath = nan\n" + ARRIVAL)),
    case("recipe-infinite-rate", RENDER_RECIPE, "r.toml:2",
         "rate must be a whole number", "Change the value",
         recipe("[settings]\nrate = inf\n" + ARRIVAL)),
    case("recipe-huge-rate", RENDER_RECIPE, "r.toml:2",
         "rate must be between 60 words per minute and 240", "Change the value",
         recipe("[settings]\nrate = 100000000000000000000000\n" + ARRIVAL)),
    case("recipe-negative-warmup", RENDER_RECIPE, "r.toml:2",
         "'-10s' is not a duration", "Change the value",
         recipe('[settings]\nwarmup = "-10s"\n' + ARRIVAL)),
    case("recipe-absurd-hold", RENDER_RECIPE, f"{TEMPLATES}/pose-hold.j2:",
         "'100000000 breaths' is too long", "Write it like [hold 8 breaths]",
         recipe(PIGEON + 'hold_breaths = 100000000\n')),
    case("recipe-escape-in-title", RENDER_RECIPE, "r.toml:1",
         "title holds a control character", "Remove it",
         recipe('title = "Calm\\u001b[2J"\n' + ARRIVAL)),
    case("recipe-not-utf8", RENDER_RECIPE, "r.toml:2",
         "not UTF-8 text (byte 0xe9)", "Save it as UTF-8",
         {"r.toml": b'title = "Calm"\ndescription = "Caf\xe9"\n' + ARRIVAL.encode()}),
]

TEMPLATE_CASES = [
    case("template-missing", RENDER_RECIPE, "r.toml:1",
         "template 'nope.j2' not found", "Check its name",
         recipe('[[part]]\ntemplate = "nope.j2"\n')),
    case("template-jinja-syntax", RENDER_RECIPE, "t.j2:2",
         "template syntax error", "Check the {% %} and {{ }} tags",
         {**recipe('[[part]]\ntemplate = "t.j2"\n'), "t.j2": "Hello.\n{% if %}\n"}),
    case("template-undefined-variable", RENDER_RECIPE, "t.j2:3",
         "'nothing' is undefined", "Set it in the recipe's [[part]]",
         {**recipe('[[part]]\ntemplate = "t.j2"\n'), "t.j2": "Hello.\n\n{{ nothing }}\n"}),
    case("template-required-variable-missing", RENDER_RECIPE, "r.toml:1",
         "needs the variable 'pose'", "Add pose = …",
         recipe('[[part]]\ntemplate = "pose-hold.j2"\n')),
    case("template-name-with-dotdot", RENDER_RECIPE, "r.toml:1",
         "'../elsewhere/secret.j2' leads outside the scripts", "Name a template by its path",
         recipe('[[part]]\ntemplate = "../elsewhere/secret.j2"\n')),
    case("template-absolute-path", RENDER_RECIPE, "r.toml:1",
         "leads outside the scripts folders", "Name a template by its path",
         recipe('[[part]]\ntemplate = "{elsewhere}/secret.j2"\n')),
    case("template-symlink-leading-outside",
         ("render", "linked", "--scripts", "scr", "-o", OUT), "scr/sessions/linked.toml:1",
         "template 'link.j2' links to {elsewhere}/secret.j2, outside the scripts folders",
         "Copy the file into the templates folder", LINKED_SCRIPTS),
    case("template-include-with-dotdot", RENDER_RECIPE, "t.j2:2",
         "'../elsewhere/secret.j2' leads outside the scripts", "Name a template by its path",
         {**recipe('[[part]]\ntemplate = "t.j2"\n'),
          "t.j2": 'Hello.\n{% include "../elsewhere/secret.j2" %}\n'}),
    case("template-include-of-a-symlink-leading-outside",
         ("render", "main", "--scripts", "scr", "-o", OUT), "scr/templates/main.j2:2",
         "template 'link.j2' links to", "Copy the file into the templates folder",
         {**LINKED_SCRIPTS, "scr/sessions/main.toml": '[[part]]\ntemplate = "main.j2"\n',
          "scr/templates/main.j2": 'Hello.\n{% include "link.j2" %}\n'}),
    case("template-not-utf8", RENDER_RECIPE, "t.j2:2",
         "not UTF-8 text (byte 0xe9)", "Save it as UTF-8",
         {**recipe('[[part]]\ntemplate = "t.j2"\n'), "t.j2": b"Hello.\nCaf\xe9.\n"}),
]

MARKUP_CASES = [
    case("markup-unknown-directive", RENDER_SCRIPT, "s.txt:2",
         "unknown directive [pasue 5s]", "Known directives:", script("Hello.\n[pasue 5s]\n")),
    case("markup-malformed-duration", RENDER_SCRIPT, "s.txt:2",
         "'5x' is not a duration", "Write it like [pause 5s]", script("Hello.\n[pause 5x]\n")),
    case("markup-negative-duration", RENDER_SCRIPT, "s.txt:2",
         "'-5s' is not a duration", "Write it like [pause 5s]", script("Hello.\n[pause -5s]\n")),
    case("markup-nan-duration", RENDER_SCRIPT, "s.txt:2",
         "'nan' is not a duration", "Write it like [pause 5s]", script("Hello.\n[pause nan]\n")),
    case("markup-infinite-duration", RENDER_SCRIPT, "s.txt:2",
         "'inf' is not a duration", "Write it like [for 5s]",
         script("Hello.\n[for inf] Breathe.\n")),
    case("markup-nan-breaths", RENDER_SCRIPT, "s.txt:2",
         "'nan breaths' is not a duration", "Write it like [hold 8 breaths]",
         script("Hello.\n[hold nan breaths]\n[end hold]\n")),
    case("markup-a-billion-seconds", RENDER_SCRIPT, "s.txt:2",
         "'1000000000s' is longer than 12 hours", "Write it like [pause 5s]",
         script("Hello.\n[pause 1000000000s]\n")),
    case("markup-session-longer-than-12-hours", RENDER_SCRIPT, "s.txt:3",
         "the session lasts more than 12 hours by this line", "a session lasts at most 12 hours",
         script("Hello.\n[pause 11h]\n[pause 11h]\n")),
    case("markup-hold-longer-than-12-hours", RENDER_SCRIPT, "s.txt:2",
         "the session lasts more than 12 hours by this line", "a session lasts at most 12 hours",
         script("Hello.\n[hold 40000 breaths]\n[end hold]\n")),
    case("markup-breathing-longer-than-12-hours", RENDER_SCRIPT, "s.txt:2",
         "[breathe box x100000]: longer than 12 hours", "Ask for fewer rounds",
         script("Hello.\n[breathe box x100000]\n")),
    case("markup-unknown-breath-pattern", RENDER_SCRIPT, "s.txt:2",
         "'zigzag' is not a breath pattern", "Write it like [breathe box x6]",
         script("Hello.\n[breathe zigzag x4]\n")),
    case("markup-hold-never-closed", RENDER_SCRIPT, "s.txt:2",
         "this [hold] is never closed", "Add [end hold]",
         script("Hello.\n[hold 4 breaths]\nSoften.\n")),
    case("markup-misspelt-unit", RENDER_SCRIPT, "s.txt:2",
         "'5 secnds' is not a duration (did you mean '5 seconds'? use 5s, 5 seconds,",
         "Write it like [pause 5s]", script("Hello.\n[pause 5 secnds]\n")),
    case("markup-unknown-placeholder", RENDER_SCRIPT, "s.txt:2",
         "unknown placeholder {silense} in spoken text",
         "Did you mean {silence}? Only {silence} is replaced",
         script("Hello.\nRest for {silense}.\n[pause 5s]\n")),
    case("markup-directive-in-the-middle-of-a-line", RENDER_SCRIPT, "s.txt:2",
         "a directive in the middle of a line: [pause 5s]",
         "Put [pause 5s] on a line of its own", script("Hello.\nRest here. [pause 5s]\n")),
    case("markup-near-directive-in-the-middle-of-a-line", RENDER_SCRIPT, "s.txt:1",
         "[paus 5s] in the middle of a line looks like a directive",
         "Did you mean [pause …]?", script("Rest here. [paus 5s]\n")),
    case("markup-from-the-bell-without-a-bell", RENDER_SCRIPT, "s.txt:2",
         "[pause … from the bell] does not follow a [bell]",
         "Strike one on the line before it", script("Hello.\n[pause 5m from the bell]\n")),
    case("markup-from-the-bell-within-its-ring", RENDER_SCRIPT, "s.txt:2",
         "[pause … from the bell] lasts 5s from the strike, but the bell before it rings for 8s",
         "Make the pause at least 8s", script("[bell bowl]\n[pause 5s from the bell]\nDone.\n")),
]

TEXT_CASES = [
    case("text-empty-script", RENDER_SCRIPT, "s.txt",
         "the script has nothing to say or play", "Write the words to speak", script("")),
    case("text-only-whitespace", RENDER_SCRIPT, "s.txt",
         "the script has nothing to say or play", "Write the words to speak",
         script("  \n\t\n\n   \n")),
    case("text-one-megabyte-line", RENDER_SCRIPT, "s.txt:1",
         "a line of 1,000,000 characters (at most 5,000)", "Break it into paragraphs",
         script("breathe " * 125_000 + "\n")),
    case("text-an-utterance-of-many-lines", RENDER_SCRIPT, "s.txt:3",
         "an utterance of 6,098 characters (at most 5,000)", "Break it into paragraphs",
         script("Hello.\n\n" + "Let the hips soften and the breath slow down, right now.\n" * 107)),
    case("text-nul", RENDER_SCRIPT, "s.txt:2",
         "a control character U+0000 (NUL)", "Remove it",
         script("Hello.\nSoften \x00 the hips.\n")),
    case("text-esc", RENDER_SCRIPT, "s.txt:1",
         "a control character U+001B (ESC)", "Remove it", script("Hello \x1b[31mred\x1b[0m.\n")),
    case("text-bel", RENDER_SCRIPT, "s.txt:1",
         "a control character U+0007 (BEL)", "Remove it", script("Ring \x07 ring.\n")),
    case("text-escape-in-a-chapter-title", RENDER_SCRIPT, "s.txt:1",
         "a control character U+001B (ESC)", "Remove it",
         script("[chapter \x1b]0;owned\x07]\nHello.\n")),
    case("text-not-utf8", RENDER_SCRIPT, "s.txt:2",
         "not UTF-8 text (byte 0xe9)", "Save it as UTF-8", script(b"Hello.\nCaf\xe9 au lait.\n")),
]

OPTION_CASES = [
    case("option-unknown-voice", (*RENDER_SCRIPT, "--voice", "nobody"), "--voice nobody",
         "unknown voice 'nobody'", "Run `stillpoint voices`", script("Hello.\n")),
    case("option-unknown-bell", (*RENDER_SCRIPT, "--bell", "gong"), "--bell gong",
         "unknown bell 'gong'", "Sounds: bowl, chime", script("Hello.\n")),
    case("option-unknown-ambience", (*RENDER_SCRIPT, "--ambience", "rain"), "--ambience rain",
         "unknown ambience 'rain'", "Beds: brown, pink, ocean, drone", script("Hello.\n")),
    case("option-unknown-breath-pattern",
         ("render", "breathwork", "--set", "box_pattern=zigzag", "-o", OUT),
         f"{TEMPLATES}/breath-box.j2:",
         "'zigzag' is not a breath pattern", "Write it like [breathe box x6]"),
    case("option-breath-not-a-duration", (*RENDER_SCRIPT, "--breath", "fast"), "--breath fast",
         "'fast' is not a duration", "Change the value", script("Hello.\n")),
    case("option-rate-zero", (*RENDER_SCRIPT, "--rate", "0"), "--rate 0",
         "rate must be between 60", "Change the value", script("Hello.\n")),
    case("option-unknown-level", (*RENDER_SCRIPT, "--level", "extreme"), "--level extreme",
         "level must be one of gentle, standard, deep", "Change the value", script("Hello.\n")),
    case("option-minutes-zero", (*RENDER_SCRIPT, "--minutes", "0"), None,
         "--minutes 0 is not a session length", "Give a number of minutes above 0",
         script("Hello.\n")),
    case("option-minutes-negative", (*RENDER_SCRIPT, "--minutes", "-5"), None,
         "--minutes -5 is not a session length", "Give a number of minutes above 0",
         script("Hello.\n")),
    case("option-minutes-nan", (*RENDER_SCRIPT, "--minutes", "nan"), None,
         "--minutes nan is not a session length", "Give a number of minutes above 0",
         script("Hello.\n")),
    case("option-minutes-huge", (*RENDER_SCRIPT, "--minutes", "1e9"), None,
         "is not a session length", "at most 720", script("Hello.\n")),
    case("option-set-unknown-key", (*RENDER_SCRIPT, "--set", "colour=blue"), "--set colour=blue",
         "no setting or template variable named 'colour'", "Settings: breath", script("Hello.\n")),
    case("option-set-without-equals", (*RENDER_SCRIPT, "--set", "colour"), None,
         "--set 'colour' is not KEY=VALUE", "Write it like --set breath=8s", script("Hello.\n")),
    case("option-set-without-key", (*RENDER_SCRIPT, "--set", "=8s"), None,
         "--set '=8s' is not KEY=VALUE", "Write it like --set breath=8s", script("Hello.\n")),
    case("option-skip-unknown-pose", (*RENDER_SCRIPT, "--skip", "lizard"), None,
         "--skip lizard: s has no part of that name", "Its parts: s", script("Hello.\n")),
    case("option-timer-shorter-than-10-seconds", ("timer", "--minutes", "0.1", "-o", OUT), None,
         "--minutes 0.1: a timer lasts at least 10 seconds from its opening bell's strike",
         "Give --minutes 0.17 or more"),
    case("option-timer-interval-zero", ("timer", "--interval", "0s", "-o", OUT), None,
         "--interval 0s: the interval must be longer than 0", "Write it like --interval 5m"),
    case("option-timer-interval-misspelt", ("timer", "--interval", "5 minuts", "-o", OUT), None,
         "--interval: '5 minuts' is not a duration (did you mean '5 minutes'?",
         "Write it like --interval 5m"),
]

OUTPUT_CASES = [
    case("output-is-a-folder", ("render", "s.txt", "-o", "out/folder.mp3"), None,
         "out/folder.mp3 is a folder", "Give a file name",
         {**script("Hello.\n"), "out/folder.mp3/keep": "mine"}),
    case("output-is-the-output-folder", ("render", "s.txt", "-o", "out"), None,
         "out does not end in .mp3", "Name the output like session.mp3", script("Hello.\n")),
    case("output-under-a-regular-file", ("render", "s.txt", "-o", "notes.txt/x.mp3"), None,
         "cannot write into notes.txt: notes.txt is not a folder", "Choose another output path",
         {**script("Hello.\n"), "notes.txt": "my notes"}),
    case("output-is-the-recipe", ("render", "r.toml", "-o", "r.toml"), None,
         "r.toml does not end in .mp3", "Name the output like session.mp3", recipe(ARRIVAL)),
    case("output-sidecar-is-the-script", ("render", "talk.prompts.txt", "-o", "talk.mp3"), None,
         "talk.prompts.txt, written beside talk.mp3, is a file this render reads",
         "Choose another output path",
         script("[prompt] What do the hips hold?\n",         "talk.prompts.txt")),
    case("output-is-the-music", ("render", "s.txt", "-o", "song.mp3"), None,
         "song.mp3 is a file this render reads", "Choose another output path",
         {**script("Dance.\n[for 10s music song.mp3]\n"), "song.mp3": b"ID3 my song"}),
    case("output-is-the-ambience",
         ("render", "s.txt", "--ambience", "bed.mp3", "-o", "bed.mp3"), None,
         "bed.mp3 is a file this render reads", "Choose another output path",
         {**script("Hello.\n"), "bed.mp3": b"ID3 my rain"}),
    case("output-is-the-cover",
         ("render", "s.txt", "--set", "cover=cover.mp3", "-o", "cover.mp3"), None,
         "cover.mp3 is a file this render reads", "Choose another output path",
         {**script("Hello.\n"), "cover.mp3": PNG}),
    case("output-is-a-bell-sound",
         ("render", "s.txt", "--scripts", "scr", "-o", "scr/sounds/gong.mp3"), None,
         "scr/sounds/gong.mp3 is a file this render reads", "Choose another output path",
         {**script("Hello.\n[bell gong]\n"), "scr/sounds/gong.mp3": b"ID3 my gong"}),
    case("output-is-the-file-render-from-reads", ("render", "--from", OUT, "-o", OUT), None,
         f"{OUT} is a file this render reads", "Choose another output path"),
]
# fmt: on

CASES = [*RECIPE_CASES, *TEMPLATE_CASES, *MARKUP_CASES, *TEXT_CASES, *OPTION_CASES, *OUTPUT_CASES]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder holding an earlier render at out/out.mp3, and a folder beside it
    (``{elsewhere}``) with a file no template may reach."""
    folder = tmp_path / "work"
    (folder / "out").mkdir(parents=True)
    (folder / OUT).write_bytes(PREVIOUS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.j2").write_text("The secret words.\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    return folder


def elsewhere(work: Path) -> str:
    return str(work.parent / "elsewhere")


def lay_out(work: Path, files: Mapping[str, str | bytes | Link]) -> None:
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            path.symlink_to(content.target.replace("{elsewhere}", elsewhere(work)))
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content.replace("{elsewhere}", elsewhere(work)), encoding="utf-8")


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under folder, hidden ones too: a file's bytes, a link's target, a folder."""
    found: dict[str, object] = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(root) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                found[key] = ("link", str(path.readlink()))
            elif path.is_dir():
                found[key] = ("folder",)
            elif not path.is_file():  # a pipe a case made: never opened
                found[key] = ("special",)
            else:
                found[key] = path.read_bytes()
    return found


def assert_refused(
    code: int, stdout: str, stderr: str, case: Case, before: dict[str, object], work: Path
) -> None:
    """Exit code, one line on stderr naming where, what and how to fix it; nothing written."""
    assert code == case.code, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert stderr.endswith("\n")
    line = lines[0]
    where = "" if case.where is None else case.where.replace("{elsewhere}", elsewhere(work))
    place = re.escape(where) + (r"\d+" if where.endswith(":") else "")
    prefix = rf"stillpoint: error: {place}{': ' if where else ''}"
    assert re.match(prefix, line), f"{line!r} does not start with {prefix!r}"
    what = case.what.replace("{elsewhere}", elsewhere(work))
    assert what in line
    after_what = line[line.index(what) + len(what) :]
    assert ". " in after_what, line
    assert case.fix in after_what.split(". ", 1)[1], line  # what, then how to fix it
    assert snapshot(work) == before  # out.mp3 byte for byte, no new file, inputs untouched
    assert (work / OUT).read_bytes() == PREVIOUS


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_is_refused_in_one_line_and_writes_nothing(case: Case, work: Path) -> None:
    lay_out(work, case.files)
    before = snapshot(work)
    result = runner.invoke(cli.app, list(case.args))
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_refused(result.exit_code, result.stdout, result.stderr, case, before, work)


def test_an_unwritable_output_folder_is_refused_before_any_work(work: Path) -> None:
    """A folder without write permission; as root, which may write anywhere, a path under a
    regular file (which nobody can write into) stands in for it."""
    lay_out(work, script("Hello.\n"))
    if os.geteuid() == 0:
        lay_out(work, {"locked": "a file, not a folder"})
        case = Case((), None, "cannot write into locked: locked is not a folder", "Choose another")
    else:
        (work / "locked").mkdir()
        (work / "locked").chmod(0o500)
        case = Case((), None, "cannot write into locked: permission denied", "Choose another")
    before = snapshot(work)
    try:
        result = runner.invoke(cli.app, ["render", "s.txt", "-o", "locked/x.mp3"])
    finally:
        if (work / "locked").is_dir():
            (work / "locked").chmod(0o700)
    assert_refused(result.exit_code, result.stdout, result.stderr, case, before, work)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("שלום. Let the hips soften. مرحبا.", id="right-to-left"),
        pytest.param("Breathe 🙂🌊 and rest 🧘\u200d♀️ now.", id="emoji"),
    ],
)
def test_right_to_left_and_emoji_text_is_accepted(text: str, work: Path) -> None:
    """Valid Unicode text is the listener's to write: the plan (and the transcripts) keep it as
    written and the voices read what they can (both engines render these to sound)."""
    lay_out(work, script(f"{text}\n\n[pause 5s]\nDone.\n"))
    result = runner.invoke(cli.app, ["script", "s.txt"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert f"00:01.000  {text}" in result.stdout.splitlines()
    assert runner.invoke(cli.app, ["validate", "s.txt"]).exit_code == 0


def test_validate_reports_a_template_linked_from_outside_without_reading_it(work: Path) -> None:
    lay_out(work, LINKED_SCRIPTS)
    result = runner.invoke(cli.app, ["validate", "scr"])
    assert result.exit_code == 2
    secret = f"{elsewhere(work)}/secret.j2"
    assert result.stderr.splitlines() == [
        f"scr/sessions/linked.toml:1: template 'link.j2' links to {secret}, outside the scripts "
        "folders. Copy the file into the templates folder instead of linking to it.",
        f"scr/templates/link.j2: a link to {secret}, outside the scripts folders. Copy the file "
        "into the templates folder instead of linking to it.",
        "2 problems in 2 files",
    ]
    assert "secret words" not in result.output


# --debug, and errors that are bugs.


def test_debug_adds_the_traceback_to_a_reported_error(work: Path) -> None:
    lay_out(work, script("Hello.\n[pasue 5s]\n"))
    result = runner.invoke(cli.app, ["--debug", "script", "s.txt"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "generator/markup/parser.py" in result.stderr  # where it was raised
    assert result.stderr.splitlines()[-1].startswith("stillpoint: error: s.txt:2: unknown direct")


def _a_bug(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("boom")


def test_a_bug_is_one_line_asking_for_a_report(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "prepare", _a_bug)
    result = runner.invoke(cli.app, ["script", "hip-release"])
    assert result.exit_code == 1
    assert result.stderr == (
        "stillpoint: internal error: ZeroDivisionError: boom "
        "(run with --debug for the traceback; please report it)\n"
    )


def test_a_bug_with_debug_shows_its_traceback(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "prepare", _a_bug)
    result = runner.invoke(cli.app, ["--debug", "script", "hip-release"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert 'raise ZeroDivisionError("boom")' in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "stillpoint: internal error: ZeroDivisionError: boom (please report it)"


# The machine: real processes, with ffmpeg or eSpeak NG taken away or broken.

FAKE_FFMPEG = """#!/bin/sh
# Stands in for an ffmpeg that dies mid-file: it takes some of the audio, then fails.
head -c 65536 >/dev/null
echo "fake ffmpeg: No space left on device" >&2
exit 1
"""

# pyttsx3 finds eSpeak NG by loading libespeak-ng with ctypes: this run cannot load it.
WITHOUT_ESPEAK = """
import ctypes
load = ctypes.cdll.LoadLibrary
def refuse(name, *args, **kwargs):
    if "espeak" in str(name):
        raise OSError(f"{name}: cannot open shared object file: No such file or directory")
    return load(name, *args, **kwargs)
ctypes.cdll.LoadLibrary = refuse
from generator.cli import main
main()
"""


def run(args: list[str], work: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)  # the test's own config, scripts and cache folders (conftest)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=work, env=env, check=False,
        timeout=300,
    )  # fmt: skip


MACHINE_CASES = [
    pytest.param(
        ["-m", "generator", "render", "s.txt", "-o", OUT], "no-ffmpeg",
        Case((), None, "ffmpeg is not installed", "Install it: sudo apt-get install ffmpeg",
             code=1),
        id="machine-no-ffmpeg",
    ),
    pytest.param(
        ["-m", "generator", "render", "s.txt", "--voice", "pyttsx3:gmw/en-us", "-o", OUT],
        "failing-ffmpeg",
        Case((), None, "ffmpeg failed to encode the MP3 (exit 1): fake ffmpeg: No space left on "
             "device", "Check the ffmpeg install", code=1),
        id="machine-ffmpeg-fails-midway",
    ),
    pytest.param(
        ["-c", WITHOUT_ESPEAK, "render", "s.txt", "--voice", "pyttsx3:gmw/en-us", "-o", OUT],
        "",
        Case((), "--voice pyttsx3:gmw/en-us", "the speech engine cannot start",
             "Install eSpeak NG: sudo apt-get install espeak-ng", code=1),
        id="machine-no-espeak-render",
    ),
    pytest.param(
        ["-c", WITHOUT_ESPEAK, "voices"], "",
        Case((), None, "the speech engine cannot start",
             "Install eSpeak NG: sudo apt-get install espeak-ng", code=1),
        id="machine-no-espeak-voices",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "machine", "case"), MACHINE_CASES)
def test_a_broken_machine_is_told_in_one_line_and_writes_nothing(
    args: list[str], machine: str, case: Case, work: Path, tmp_path: Path
) -> None:
    lay_out(work, script("Hello there.\n"))
    before = snapshot(work)
    bin_folder = tmp_path / "bin"  # outside the work folder: the snapshot is of that alone
    bin_folder.mkdir()
    path = None
    if machine == "no-ffmpeg":  # nothing on PATH at all: the command needs no other program
        path = str(bin_folder)
    elif machine == "failing-ffmpeg":
        ffmpeg = bin_folder / "ffmpeg"
        ffmpeg.write_text(FAKE_FFMPEG, encoding="utf-8")
        ffmpeg.chmod(0o755)
        path = f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}"
    done = run(args, work, path)
    assert_refused(done.returncode, done.stdout, done.stderr, case, before, work)
