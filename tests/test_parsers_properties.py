"""Property tests: whatever a user writes, the parsers answer with a value or their own error."""

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.base.durations import MAX_SECONDS, format_seconds, parse_duration
from generator.errors import MarkupError
from generator.markup.breathing import parse_pattern
from generator.markup.parser import parse_cues
from tests.conftest import lines

relaxed = settings(deadline=None)  # on a shared, loaded machine slowness is not a failure

DIRECTIVE_WORDS = st.sampled_from(
    ["pause", "for", "bell", "chapter", "breathe", "hold", "at", "end", "Pause", "paus", ""]
)
MARKUPISH = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda name, arg, rest: f"[{name} {arg}]{rest}",
        DIRECTIVE_WORDS,
        st.text(max_size=12),
        st.text(max_size=8),
    ),
)


@relaxed
@given(st.text(max_size=30))
def test_durations_parse_or_raise_value_error(text: str) -> None:
    try:
        duration = parse_duration(text)
    except ValueError:
        return
    assert 0 <= duration.seconds <= MAX_SECONDS
    assert duration.breaths >= 0


@relaxed
@given(st.fractions(min_value=0, max_value=MAX_SECONDS, max_denominator=1000))
def test_formatted_seconds_parse_back_to_the_same_value(seconds: Fraction) -> None:
    seconds = Fraction(round(seconds * 1000), 1000)  # markup writes decimals
    assert parse_duration(format_seconds(seconds)).seconds == seconds


@relaxed
@given(st.lists(MARKUPISH, max_size=12))
def test_markup_parses_or_raises_markup_error(markup: list[str]) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in markup)
    try:
        cues = parse_cues(lines(text))
    except MarkupError as error:
        cues, where = (), error.where
    else:
        where = "parsed"
    assert where  # a markup error always names its line
    assert all(cue.source.line >= 1 for cue in cues)


@relaxed
@given(st.one_of(st.text(max_size=20), st.from_regex(r"\A[0-9.]{1,4}(-[0-9.]{1,4}){0,4}\Z")))
def test_breath_patterns_parse_or_raise_value_error(text: str) -> None:
    try:
        pattern = parse_pattern(text)
    except ValueError:
        return
    assert pattern.phases
    assert all(0 < phase.seconds <= 60 for phase in pattern.phases)
