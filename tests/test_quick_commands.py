"""`list` and `script` answer quickly: templates compiled once a process, built-in bells read
without starting ffmpeg, the list kept while nothing it depends on changes. Structure, not
wall-clock: what is not done again is counted."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import numpy as np
import pytest
from typer.testing import CliRunner

from generator.base.samples import SAMPLE_RATE
from generator.cli import app
from generator.commands import listing
from generator.files import ffmpeg, soundfiles
from generator.markup.templating import render_script
from generator.recipes.recipe import load_recipe
from generator.session import prepare
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
