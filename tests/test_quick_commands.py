"""`list` and `script` answer quickly: templates compiled once a process, built-in bells read
without starting ffmpeg, the list kept while nothing it depends on changes. Structure, not
wall-clock: what is not done again is counted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pytest
from typer.testing import CliRunner

from generator import session
from generator.base.samples import SAMPLE_RATE
from generator.cli import app
from generator.commands import listing
from generator.files import ffmpeg, soundfiles
from generator.markup.templating import render_script
from generator.recipes.catalogue import Catalogue
from generator.recipes.recipe import load_recipe
from generator.session import prepare
from generator.sound import sources
from generator.timeline.events import Timeline
from generator.timeline.placement import build_timeline
from generator.timeline.shaping import extreme
from tests.conftest import write

runner = CliRunner()


def test_a_template_is_compiled_once_and_its_lines_keep_their_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "templates" / "a.j2", "First of a.\n{% include 'b.j2' %}\nLast of a.\n")
    write(tmp_path / "templates" / "b.j2", "Only line of b.\n")
    first = write(tmp_path / "sessions" / "one.toml", '[[part]]\ntemplate = "a.j2"\n')
    second = write(tmp_path / "sessions" / "two.toml", '[[part]]\ntemplate = "b.j2"\n\n'
                   '[[part]]\ntemplate = "a.j2"\n')  # fmt: skip
    compiled: list[str] = []
    original = jinja2.Environment.compile

    def counted(self: jinja2.Environment, source: str, name: str | None = None,
                filename: str | None = None, *rest: object) -> object:  # fmt: skip
        compiled.append(name or "")
        return original(self, source, name, filename, *rest)  # type: ignore[call-overload]

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    folders = (tmp_path / "templates",)
    render_script(load_recipe(first), folders)
    assert sorted(compiled) == ["a.j2", "b.j2"]
    script = render_script(load_recipe(second), folders)  # b first this time, in a new environment
    assert sorted(compiled) == ["a.j2", "b.j2"]  # nothing compiled again
    placed = [(line.text, Path(line.source.file).name, line.source.line) for line in script.lines]
    assert [entry for entry in placed if entry[0]] == [
        ("Only line of b.", "b.j2", 1),
        ("First of a.", "a.j2", 1),
        ("Only line of b.", "b.j2", 1),
        ("Last of a.", "a.j2", 3),
    ]
    assert set(script.templates) == {"a.j2", "b.j2"}
    (tmp_path / "templates" / "b.j2").write_text("Changed line of b.\n", encoding="utf-8")
    again = render_script(load_recipe(second), folders)
    assert "Changed line of b." in [line.text for line in again.lines]  # an edit compiles again


def test_a_built_in_bell_is_read_without_ffmpeg_and_as_ffmpeg_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bowl = Path(__file__).parents[1] / "sounds" / "bowl.wav"
    by_ffmpeg = soundfiles._decoded(bowl, soundfiles.BELL, SAMPLE_RATE, None)
    soundfiles._bell.cache_clear()

    def no_ffmpeg(*args: object) -> object:
        raise AssertionError("ffmpeg started for a built-in bell")

    monkeypatch.setattr(ffmpeg, "probe", no_ffmpeg)
    here = soundfiles.read_sound(bowl, soundfiles.BELL)
    assert np.array_equal(here, by_ffmpeg)
    soundfiles._bell.cache_clear()


def test_the_list_is_kept_until_a_file_it_depends_on_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "scripts"
    write(scripts / "templates" / "mine.j2", "A line of mine.\n")
    write(scripts / "sessions" / "mine.toml", 'title = "Mine"\n\n[[part]]\ntemplate = "mine.j2"\n')
    monkeypatch.setenv("STILLPOINT_CACHE", str(tmp_path / "cache"))
    first = runner.invoke(app, ["list", "--scripts", str(scripts)])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "cache" / listing.LISTING_FILE).is_file()

    def not_again(*args: object, **kwargs: object) -> object:
        raise AssertionError("a session was worked out again")

    with monkeypatch.context() as patch:
        patch.setattr(listing, "prepare", not_again)
        kept = runner.invoke(app, ["list", "--scripts", str(scripts)])
        assert kept.output == first.output
    template = scripts / "templates" / "mine.j2"
    stamp = template.stat()
    template.write_text("A line of yours.\n", encoding="utf-8")  # the same size and time
    os.utime(template, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    worked: list[str] = []

    def counted(name: str, *args: object, **kwargs: object) -> object:
        worked.append(name)
        return prepare(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(listing, "prepare", counted)
    changed = runner.invoke(app, ["list", "--scripts", str(scripts)])
    assert changed.exit_code == 0
    assert "mine" in worked  # worked out again: the content changed
    assert "mine" in changed.output


def test_the_first_list_builds_few_timelines_and_levels_no_bell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's row takes its usual length and its two extremes (a fixed-shape session: its
    three lengths), not each part in each shape at each stretch (555 timelines for the 16
    built-ins, once); bells count by their length, unlevelled; no phrase marks are worked out."""
    built: list[str] = []  # the title of each timeline built

    def counted(*args: Any) -> Timeline:
        built.append(args[0])
        return build_timeline(*args)

    def not_here(*args: object) -> object:
        raise AssertionError("a length worked out what only audio or a plan needs")

    sources._levelled.cache_clear()  # levelled by an earlier test: asked again, not read back
    monkeypatch.setattr(session, "build_timeline", counted)
    monkeypatch.setattr(sources, "bell_at", not_here)
    monkeypatch.setattr(sources, "_estimated_marks", not_here)
    monkeypatch.setenv("STILLPOINT_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "program" not in line]
    assert "~47:18  07:28-2:01:28" in result.output  # hip-release, as before
    assert 0 < len(built) <= 4 * len(rows)


def test_the_list_reaches_what_the_solver_reaches() -> None:
    """The range `list` shows (each extreme shape placed whole) is the one the length solver
    works with (its parts placed one by one, summed), for every built-in session."""
    catalogue = Catalogue(())
    for name in catalogue.sessions():
        prepared = prepare(name, catalogue)
        knobs = session._knobs(prepared.recipe, catalogue)
        if not knobs:
            continue
        parts = session._ShapeLengths(prepared, catalogue, knobs)
        shortest = parts.of(extreme(knobs, longest=False))[0]
        longest = parts.of(extreme(knobs, longest=True))[2]
        assert session.reach(prepared, catalogue) == (shortest, longest), name


def test_list_imports_nothing_only_a_render_needs(tmp_path: Path) -> None:
    """Mastering, tagging (mutagen) and writing files are a render's: `stillpoint list` starts
    without them (about 50 ms of its first second)."""
    code = (
        "import sys\n"
        "from generator.cli import main\n"
        "sys.argv = ['stillpoint', 'list']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {**os.environ, "STILLPOINT_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "hip-release" in done.stdout
    loaded = set(done.stderr.split())
    for render_only in RENDER_ONLY:
        assert render_only not in loaded, render_only


RENDER_ONLY = (
    "mutagen",
    "threadpoolctl",
    "generator.sound.mastering",
    "generator.sound.mix",
    "generator.writing.export",
    "generator.writing.tags",
    "generator.writing.output_checks",
    "generator.writing.provenance",
    "generator.commands.validate",
)
