"""The transcripts as captions: at most two lines of about 42 characters, each timed to where its
words are heard; an LRC that clears when the speech stops. Read back with independent parsers:
webvtt-py for the WebVTT, pylrc for the LRC."""

from __future__ import annotations

import html
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pylrc  # type: ignore[import-untyped]
import pytest
import webvtt
from typer.testing import CliRunner

from generator.errors import Source
from generator.speech.delivery import PhraseMark
from generator.timeline.events import Event, Timeline
from generator.writing.transcripts import (
    CHAIN_GAP,
    LINE_CHARACTERS,
    LONGEST_CAPTION,
    captions,
    lrc,
)
from generator.writing.transcripts import (
    webvtt as write_webvtt,
)
from tests.conftest import decode, heard_at, write

RATE = 1000  # samples a second: times read off in milliseconds
HERE = Source("s.j2", 1)


def spoken(start: int, *phrases: tuple[str, int]) -> Event:
    """An utterance at ``start``: each phrase with its length in ms, 600 ms of pause between."""
    marks, at = [], start
    for text, length in phrases:
        marks.append(PhraseMark(at, at + length, text))
        at += length + 600
    text = " ".join(phrase for phrase, _ in phrases)
    return Event("speech", start, marks[-1].end, HERE, text=text, phrases=tuple(marks))


LONG = spoken(
    1000,
    ("Let the weight of your whole body sink slowly down into the floor beneath you,", 5200),
    ("and notice where the hips meet the ground.", 2600),
    ("Rest.", 500),
    ("Breathe in,", 800),
    ("and out.", 700),
    ("Now let the knees fall gently over to one side while the shoulders stay heavy", 5400),
)
UNBROKEN = spoken(  # one phrase of 31 words, no mark to divide it at: divided between words
    30_000,
    (
        "Let the breath move all the way down into the belly and the pelvis and further "
        "down into the legs until the whole lower body feels warm and heavy and slow and "
        "quiet",
        15_500,
    ),
)
LATER = spoken(60_000, ("Rest now & <listen>.", 1200))
TIMELINE = Timeline("Captions & <Co>", RATE, 70_000, (LONG, UNBROKEN, LATER), ())


def vtt_cues(text: str) -> list[webvtt.Caption]:
    return webvtt.from_string(text, strict=True).captions


def seconds(timestamp: webvtt.models.Timestamp) -> float:
    return timestamp.in_milliseconds() / 1000


def test_every_caption_has_at_most_two_lines_of_about_42_characters() -> None:
    cues = vtt_cues(write_webvtt(TIMELINE))
    assert len(cues) == len(captions(TIMELINE)) >= 6
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2
        assert all(0 < len(html.unescape(line)) <= LINE_CHARACTERS for line in cue.lines)


def test_every_word_is_shown_once_in_order() -> None:
    cues = vtt_cues(write_webvtt(TIMELINE))
    shown = " ".join(html.unescape(line) for cue in cues for line in cue.lines).split()
    assert shown == " ".join(event.text for event in TIMELINE.events).split()


def test_captions_start_on_their_words_inside_the_utterance_in_order() -> None:
    found = captions(TIMELINE)
    starts = [caption.start for caption in found]
    assert starts == sorted(set(starts))  # increasing
    for caption in found:
        event = next(e for e in TIMELINE.events if e.start <= caption.start < e.end)
        assert event.start <= caption.start < caption.end <= event.end
        assert caption.end - caption.start <= (LONGEST_CAPTION + CHAIN_GAP) * RATE
    phrase_starts = {mark.start for event in TIMELINE.events for mark in event.phrases}
    marked = [caption for caption in found if caption.start in phrase_starts]
    assert len(marked) >= 5  # most begin where a phrase is heard, not at an estimate


def test_a_phrase_too_long_for_a_caption_is_divided_between_words_timed_by_words() -> None:
    (phrase,) = UNBROKEN.phrases
    words = phrase.text.split()
    parts = [c for c in captions(TIMELINE) if UNBROKEN.start <= c.start < UNBROKEN.end]
    assert len(parts) >= 3  # 160 characters, 15.5 s: not one caption
    before = 0
    for part in parts:
        assert part.start == phrase.start + (phrase.end - phrase.start) * before // len(words)
        before += len(part.text.split())
    assert before == len(words)
    lengths = [len(part.text) for part in parts]
    assert max(lengths) - min(lengths) < 20  # balanced, not one full and one nearly empty


def test_short_phrases_are_merged_and_lines_break_between_phrases() -> None:
    found = captions(TIMELINE)
    merged = next(caption for caption in found if "Rest." in caption.text)
    assert merged.lines == (
        "and notice where the hips meet the ground.",
        "Rest. Breathe in, and out.",
    )
    assert merged.start == LONG.phrases[1].start
    assert merged.end == LONG.phrases[4].end + 600  # up through the pause, until the next


def test_text_is_escaped_and_an_utterance_without_marks_is_one_caption() -> None:
    bare = Event("speech", 1000, 2500, HERE, text="Breathe <in> & out")
    text = write_webvtt(Timeline("T", RATE, 3000, (bare,), ()))
    assert text == "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nBreathe &lt;in&gt; &amp; out\n"
    assert "Rest now &amp; &lt;listen&gt;." in write_webvtt(TIMELINE)


def test_a_session_without_speech_has_transcripts_without_lines() -> None:
    bell = Event("bell", 1000, 9000, HERE, sound="bowl")  # a timer: bells and silence
    silent = Timeline("Timer", RATE, 60_000, (bell,), ())
    assert webvtt.from_string(write_webvtt(silent)).captions == []
    assert lrc(silent).splitlines() == ["[ti:Timer]", "[ar:Stillpoint]", "[length:01:00]"]


def test_the_lrc_reads_back_and_clears_when_the_speech_stops() -> None:
    lyrics = pylrc.parse(lrc(TIMELINE))
    assert lyrics.title == "Captions & <Co>"
    assert lyrics.artist == "Stillpoint"
    assert lyrics.length == "01:10"
    lines = [(line.time, line.text) for line in lyrics]
    spoken_lines = [text for _, text in lines if text]
    assert spoken_lines == [caption.text for caption in captions(TIMELINE)]
    # An empty line after each utterance, each more than a second before the next words...
    cleared = [time for time, text in lines if not text]
    assert len(cleared) == len(TIMELINE.events)
    for event in TIMELINE.events:
        assert any(abs(time - event.end / RATE) < 0.011 for time in cleared)
    # ...and none inside an utterance, where the silences are a second or less.
    for (time, text), (after, _) in pairwise(lines):
        if not text:
            assert after - time > CHAIN_GAP


# A render with eSpeak NG: the captions against the decoded audio.

ESPEAK = "pyttsx3:gmw/en-us"
SCRIPT = """\
[chapter Long sentences]
Let the weight of your whole body sink slowly down into the floor beneath you, and notice \
where the hips meet the ground, where they press and where they float. Breathe in through the \
nose, and let the breath travel all the way down into the belly and the pelvis.
[pause 6s]
When you are ready, let the knees fall gently over to one side while the shoulders stay heavy \
and wide on the floor; stay here for a few slow breaths and feel the long stretch along the \
outer hip and the lower back.
Rest now.
"""
ONSET_TOLERANCE = 0.050  # s: a caption starts where its words are heard again, within this
AFTER_SILENCE = 0.15  # s of silence before a phrase for its onset to be measured


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from generator.cli import app  # here: the unit tests above need no command line

    work = tmp_path_factory.mktemp("captions")
    with pytest.MonkeyPatch.context() as patch:  # never the user's own config or scripts
        patch.setenv("XDG_CONFIG_HOME", str(work / "config"))
        patch.setenv("XDG_DATA_HOME", str(work / "data"))
        script = write(work / "s.txt", SCRIPT)
        output = work / "s.mp3"
        result = CliRunner().invoke(
            app, ["render", str(script), "-o", str(output), "--voice", ESPEAK]
        )
    assert result.exit_code == 0, result.output
    return output, json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_rendered_captions_start_where_their_words_are_heard(
    rendered: tuple[Path, dict[str, Any]],
) -> None:
    mp3, timeline = rendered
    cues = vtt_cues(mp3.with_suffix(".vtt").read_text(encoding="utf-8"))
    for cue in cues:
        assert len(cue.lines) <= 2
        assert all(len(html.unescape(line)) <= LINE_CHARACTERS for line in cue.lines)
    speech = [event for event in timeline["events"] if event["kind"] == "speech"]
    phrases = [phrase for event in speech for phrase in event["phrases"]]
    assert len(phrases) >= 8
    audio = decode(mp3)
    measured = 0
    for cue in cues:
        start = seconds(cue.start_time)
        begun = [n for n, phrase in enumerate(phrases) if abs(phrase["start"] - start) < 0.001]
        if not begun:
            continue  # divided inside a phrase: timed by its words, not heard as an onset
        before = phrases[begun[0] - 1]["end"] if begun[0] else 0.0
        if start - before < AFTER_SILENCE:
            continue
        heard = heard_at(audio, start, max(start - 0.3, before + 0.05))
        assert heard == pytest.approx(start, abs=ONSET_TOLERANCE), f"{cue.text!r} at {start:.3f}"
        measured += 1
    assert measured >= 6
    shown = " ".join(html.unescape(line) for cue in cues for line in cue.lines).split()
    assert shown == " ".join(event["text"] for event in speech).split()


@pytest.mark.e2e
def test_rendered_lrc_clears_during_a_long_pause(rendered: tuple[Path, dict[str, Any]]) -> None:
    mp3, timeline = rendered
    lyrics = pylrc.parse(mp3.with_suffix(".lrc").read_text(encoding="utf-8"))
    lines = [(line.time, line.text) for line in lyrics]
    (pause,) = [e for e in timeline["events"] if e["kind"] == "pause" and e["end"] - e["start"] > 5]
    shown = [text for time, text in lines if time <= (pause["start"] + pause["end"]) / 2]
    assert shown[-1] == ""  # nothing on screen in the middle of the silence
    cleared = max(time for time, text in lines if time <= pause["start"] + 0.01)
    assert cleared == pytest.approx(pause["start"], abs=0.011)  # from when the words end
    assert sum(1 for _, text in lines if text) >= 8


def test_the_lrc_stays_up_while_the_next_utterance_follows_within_a_second() -> None:
    counts = tuple(
        Event("speech", start, start + 400, HERE, text=word)
        for start, word in ((1000, "Breathe in,"), (2000, "two,"), (3000, "three."))
    )
    lines = [
        (line.time, line.text) for line in pylrc.parse(lrc(Timeline("T", RATE, 9000, counts, ())))
    ]
    assert lines == [(1.0, "Breathe in,"), (2.0, "two,"), (3.0, "three."), (3.4, "")]
    cues = vtt_cues(write_webvtt(Timeline("T", RATE, 9000, counts, ())))
    assert [seconds(cue.end_time) for cue in cues] == [1.4, 2.4, 3.4]  # each with its words
