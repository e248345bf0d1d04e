from fractions import Fraction
from pathlib import Path

import pytest

from generator.errors import RecipeError, SettingsError
from generator.recipes.overrides import Overrides, apply_overrides, parse_value
from generator.recipes.recipe import load_recipe
from generator.recipes.settings import Settings
from tests.conftest import write

RECIPE = """\
title = "Test"
description = "A test."

[settings]
breath = "8s"
rate = 150

[[part]]
template = "a.j2"
breaths = 4

[[part]]
template = "b.j2"
"""


def test_reads_settings_and_parts_in_order(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path / "s.toml", RECIPE))
    assert recipe.title == "Test"
    assert recipe.settings.breath == 8
    assert recipe.settings.rate == 150
    assert recipe.settings.gap == Fraction(3, 2)  # default
    assert [p.template for p in recipe.parts] == ["a.j2", "b.j2"]
    assert dict(recipe.parts[0].variables) == {"breaths": 4}
    assert recipe.parts[1].source.line == 12


def test_a_single_script_is_a_one_part_recipe(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path / "quiet-sit.j2", "Hello\n"))
    assert recipe.title == "Quiet Sit"
    assert [p.template for p in recipe.parts] == ["quiet-sit.j2"]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('title = "x"\n[[part]\ntemplate="a"', "TOML syntax error", 2),
        ('title = "x"\ncolour = 3\n[[part]]\ntemplate="a"', "unknown key 'colour'", 2),
        ('title = "x"\n[[part]]\nbreaths = 3\n', "this part has no template", 2),
        ('title = "x"\n', "no parts", None),
        ('title = 3\n[[part]]\ntemplate="a"', "title must be a string", 1),
    ],
)
def test_recipe_mistakes_name_file_and_line(
    tmp_path: Path, text: str, message: str, line: int | None
) -> None:
    with pytest.raises(RecipeError, match=message) as caught:
        load_recipe(write(tmp_path / "bad.toml", text))
    where = str(caught.value.where)
    assert where.endswith("bad.toml" + (f":{line}" if line else ""))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("rate = 20", "rate must be between"),
        ('rate = "fast"', "rate must be a whole number"),
        ('breath = "3 breaths"', "clock time"),
        ('breath = "90s"', "breath must be between"),
        ('breath = "soon"', "not a duration"),
        ("speed = 3", "unknown setting 'speed'"),
    ],
)
def test_bad_settings_are_caught_where_written(tmp_path: Path, settings: str, message: str) -> None:
    text = f'[settings]\n{settings}\n[[part]]\ntemplate = "a.j2"\n'
    with pytest.raises(SettingsError, match=message) as caught:
        load_recipe(write(tmp_path / "s.toml", text))
    assert str(caught.value.where).endswith("s.toml:2")


def test_overrides_change_settings_and_variables(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path / "s.toml", RECIPE))
    pairs = {"breath": "12s", "breaths": "6", "sides": '["left"]'}
    changed = apply_overrides(recipe, Overrides.from_pairs(pairs))
    assert changed.settings.breath == 12
    assert all(part.variables["breaths"] == 6 for part in changed.parts)
    assert changed.parts[1].variables["sides"] == ["left"]
    assert recipe.settings.breath == 8  # the original is untouched


def test_a_bad_override_names_the_option(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path / "s.toml", RECIPE))
    with pytest.raises(SettingsError, match="rate must be between") as caught:
        apply_overrides(recipe, Overrides.from_pairs({"rate": "5"}))
    assert caught.value.where == "--set rate=5"


def test_values_are_toml_when_they_parse() -> None:
    assert parse_value("6") == 6
    assert parse_value("true") is True
    assert parse_value("8s") == "8s"
    assert parse_value('"x y"') == "x y"


def test_settings_validate_once_where_built() -> None:
    assert Settings(breath="6s").breath == 6  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gap"):
        Settings(gap="1m")  # type: ignore[arg-type]
