"""Program files: days, ramps and per-day settings, checked where they are written."""

from pathlib import Path

import pytest

from generator.errors import RecipeError
from generator.recipes.program import is_program, load_program
from generator.writing.playlist import Entry, m3u8
from tests.conftest import write

PROGRAM = """title = "Three Days"
[settings]
breath = "8s"
[ramp]
hold_breaths = [5, 10]
[[day]]
session = "pigeon"
[[day]]
session = "lizard"
title = "Day two"
set = { hold_breaths = 6, level = "gentle" }
[[day]]
session = "body-scan"
minutes = 12.5
skip = ["lizard"]
"""


def test_days_get_the_shared_settings_the_ramp_and_their_own(tmp_path: Path) -> None:
    program = load_program(write(tmp_path / "three.toml", PROGRAM))
    first, second, third = program.days
    assert [day.stem for day in program.days] == ["01-pigeon", "02-lizard", "03-body-scan"]
    assert dict(first.overrides.values) == {"breath": "8s", "hold_breaths": 5}
    assert "hold_breaths" in first.overrides.optional  # a ramp applies only where it is used
    assert dict(second.overrides.values)["hold_breaths"] == 6  # the day's own value wins
    assert "hold_breaths" not in second.overrides.optional  # and must then be known
    assert dict(third.overrides.values)["hold_breaths"] == 10
    assert third.minutes == 12.5
    assert third.skip == ("lizard",)
    assert second.title == "Day two"
    assert str(second.source).endswith("three.toml:8")


def test_a_ramp_of_whole_numbers_stays_whole(tmp_path: Path) -> None:
    days = "".join('[[day]]\nsession = "pigeon"\n' for _ in range(7))
    program = load_program(write(tmp_path / "w.toml", f"[ramp]\nhold_breaths = [5, 10]\n{days}"))
    assert [day.overrides.values["hold_breaths"] for day in program.days] == [5, 6, 7, 8, 8, 9, 10]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('[[day]]\nsesion = "pigeon"\n', "unknown day key 'sesion'. Did you mean 'session'?", 1),
        ('title = "x"\n', "the program has no days", None),
        ('[ramp]\nhold_breaths = "more"\n[[day]]\nsession = "a"\n', "ramp hold_breaths", 2),
        ('[[day]]\nsession = "a"\n[[day]]\nminutes = "ten"\nsession = "b"\n', "minutes", 3),
        ('[[day]]\nsession = "a"\nset = 5\n', "set must be a table", 1),
    ],
)
def test_mistakes_name_the_line(tmp_path: Path, text: str, message: str, line: int | None) -> None:
    with pytest.raises(RecipeError) as caught:
        load_program(write(tmp_path / "p.toml", text))
    assert message in caught.value.message()
    if line is not None:
        assert str(caught.value.where).endswith(f"p.toml:{line}")


def test_a_program_is_told_from_a_session_by_its_days(tmp_path: Path) -> None:
    assert is_program(write(tmp_path / "p.toml", PROGRAM))
    assert not is_program(write(tmp_path / "s.toml", '[[part]]\ntemplate = "a.j2"\n'))


def test_playlist_lists_relative_files_titles_and_lengths() -> None:
    text = m3u8(
        "Three\nDays", [Entry("01-pigeon.mp3", "Pigeon", 300.2), Entry("02-x.mp3", "X", 60)]
    )
    assert text.splitlines() == [
        "#EXTM3U",
        "#PLAYLIST:Three Days",
        "#EXTINF:301,Pigeon",
        "01-pigeon.mp3",
        "#EXTINF:60,X",
        "02-x.mp3",
    ]
