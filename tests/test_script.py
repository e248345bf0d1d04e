from pathlib import Path

import pytest

from generator.errors import TemplateError
from generator.markup.templating import Script, render_script
from generator.recipes.recipe import load_recipe
from tests.conftest import write


def render(folder: Path, recipe: str) -> Script:
    return render_script(
        load_recipe(write(folder / "sessions" / "s.toml", recipe)), (folder / "templates",)
    )


def test_lines_remember_their_template_line_through_loops_and_macros(tmp_path: Path) -> None:
    write(
        tmp_path / "templates" / "lib.j2",
        "{% macro greet(name) %}\nHello {{ name }}.\n\nSecond line.\n{% endmacro %}\n",
    )
    write(
        tmp_path / "templates" / "main.j2",
        '{% import "lib.j2" as lib %}\nIntro.\n'
        "{% for i in range(2) %}\nRound {{ i }}.\n{% endfor %}\n"
        "{{ lib.greet(who) }}\nEnd.\n",
    )
    script = render(tmp_path, '[[part]]\ntemplate = "main.j2"\nwho = "you"\n')
    placed = [
        (line.text, line.source.file.rsplit("/", 1)[-1], line.source.line)
        for line in script.lines
        if line.text
    ]
    assert placed == [
        ("Intro.", "main.j2", 2),
        ("Round 0.", "main.j2", 4),
        ("Round 1.", "main.j2", 4),
        ("Hello you.", "lib.j2", 2),
        ("Second line.", "lib.j2", 4),
        ("End.", "main.j2", 7),
    ]
    assert "who" in script.variables


def test_parts_are_separated_by_a_blank_line(tmp_path: Path) -> None:
    write(tmp_path / "templates" / "a.j2", "One")
    script = render(tmp_path, '[[part]]\ntemplate = "a.j2"\n[[part]]\ntemplate = "a.j2"\n')
    assert [line.text for line in script.lines] == ["One", "", "One", ""]


def test_a_plain_text_script_is_not_templated(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.txt", "Breathe {{ in }}.\n[pause 2s]\n")
    script = render_script(load_recipe(path), ())
    assert [(line.text, line.source.line) for line in script.lines] == [
        ("Breathe {{ in }}.", 1),
        ("[pause 2s]", 2),
    ]


@pytest.mark.parametrize(
    ("template", "message", "line"),
    [
        ("Hello\n{% if %}\n", "template syntax error", 2),
        ("Hello\n\n{{ nobody }}\n", "'nobody' is undefined", 3),
        ("Hello\n{{ ''.__class__.__mro__ }}\n", "unsafe|sandbox|undefined", 2),
        ("{% for i in range(10**6) %}x{% endfor %}", "Range too big", 1),
        (
            "{% for i in range(9999) %}{% for j in range(9999) %}xxxx{% endfor %}{% endfor %}",
            "more than",
            None,
        ),
        ("One\n{% include 'missing.j2' %}\n", "'missing.j2' not found", None),
    ],
)
def test_template_mistakes_name_the_template_line(
    tmp_path: Path, template: str, message: str, line: int | None
) -> None:
    write(tmp_path / "templates" / "t.j2", template)
    with pytest.raises(TemplateError, match=message) as caught:
        render(tmp_path, '[[part]]\ntemplate = "t.j2"\n')
    if line is not None:
        assert str(caught.value.where).endswith(f"t.j2:{line}")


def test_a_missing_template_names_the_recipe_part(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"'nope\.j2' not found") as caught:
        render(tmp_path, 'title = "x"\n\n[[part]]\ntemplate = "nope.j2"\n')
    assert str(caught.value.where).endswith("s.toml:3")
