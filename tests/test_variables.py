"""Template headers: declared variables, defaults and meanings, read by the code."""

import pytest

from generator.errors import TemplateError, closest
from generator.markup.variables import defaults, read_declarations

HEADER = """{#- Pose hold: one pose held on each side.
    Free description lines are ignored.
    var pose: the pose to hold
    var hold_breaths = 8: breaths held on each side
    var sides = ["right", "left"]: the order of the sides
    var silence = "1:30 is not a duration": a string default with a colon inside
-#}
[hold {{ hold_breaths }} breaths]
"""


def test_header_declares_defaults_required_and_meanings() -> None:
    declared = read_declarations(HEADER, "pose-hold.j2")
    assert [v.name for v in declared] == ["pose", "hold_breaths", "sides", "silence"]
    assert declared[0].required
    assert declared[0].meaning == "the pose to hold"
    assert str(declared[1].source) == "pose-hold.j2:4"
    assert defaults(declared) == {
        "hold_breaths": 8,
        "sides": ["right", "left"],
        "silence": "1:30 is not a duration",
    }


def test_a_template_without_header_declares_nothing() -> None:
    assert read_declarations("Hello.\n{# a comment later #}\n", "t.j2") == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("var 8breaths = 8: x", "cannot read"),
        ("var hold = [1, : x", "cannot read the default"),
        ("var hold 8", "cannot read the declaration of 'hold'"),
        ('var listener = "x": y', "a setting every template can read"),
    ],
)
def test_malformed_declarations_name_their_line(line: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        read_declarations(f"{{#- Title\n    {line}\n-#}}\n", "t.j2")
    assert message in caught.value.what
    assert str(caught.value.where) == "t.j2:2"


def test_a_variable_declared_twice_is_an_error() -> None:
    text = "{#- T\n var a = 1: x\n var a = 2: y\n-#}\n"
    with pytest.raises(TemplateError, match="declared twice"):
        read_declarations(text, "t.j2")


def test_closest_suggests_a_near_name_only() -> None:
    assert closest("hold_breath", ["hold_breaths", "sides"]) == " Did you mean 'hold_breaths'?"
    assert closest("colour", ["hold_breaths", "sides"]) == ""
