"""The timeline JSON's schema has one owner: what a render writes, the page and player read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.base.samples import SAMPLE_RATE
from generator.errors import Source
from generator.timeline.events import ChapterMark, Event, Span, Timeline
from generator.writing.sidecar import Chapter, Line, read_sidecar, timeline_document

HERE = Source("t.j2", 3)


def at(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


TIMELINE = Timeline(
    "Evening & <Unwind>",
    SAMPLE_RATE,
    at(95.25),
    (
        Event("bell", at(1), at(4), HERE, sound="bowl", clip="bell:bowl"),
        Event("speech", at(5), at(7.5), HERE, text="Arrive.", voice="piper:joe", rate=120),
        Event("pause", at(7.5), at(60), HERE, detail="1m"),
        Event("speech", at(60), at(62.25), HERE, text="Rest, now.", voice="piper:joe", rate=120),
    ),
    (ChapterMark("Arrival", at(1), at(60), HERE), ChapterMark("Rest", at(60), at(95.25), HERE)),
    (Span("hold", at(8), at(58), HERE, "pigeon", "5 breaths x 10s = 50s", "left", "pigeon"),),
)


def test_what_is_written_reads_back(tmp_path: Path) -> None:
    mp3 = tmp_path / "evening.mp3"
    mp3.with_suffix(".json").write_text(timeline_document(TIMELINE), encoding="utf-8")
    sidecar = read_sidecar(mp3)
    assert sidecar is not None
    assert sidecar.title == TIMELINE.title
    assert sidecar.seconds == pytest.approx(95.25)
    assert sidecar.chapters == (Chapter("Arrival", 1.0), Chapter("Rest", 60.0))
    assert sidecar.speech == (Line(5.0, 7.5, "Arrive."), Line(60.0, 62.25, "Rest, now."))


def test_the_document_carries_exact_samples_beside_seconds() -> None:
    document = json.loads(timeline_document(TIMELINE, {"integrated_lufs": -19.1}))
    assert document["samples"] == TIMELINE.length
    assert document["duration"] == pytest.approx(TIMELINE.length / SAMPLE_RATE, abs=1e-6)
    assert document["loudness"] == {"integrated_lufs": -19.1}
    assert [span["samples"] for span in document["spans"]] == [at(58) - at(8)]


@pytest.mark.parametrize(
    "text",
    ["", "{not json", "[]", '{"title": 5, "chapters": "x", "events": [1, {"kind": "speech"}]}'],
)
def test_a_sidecar_that_is_not_ours_reads_as_little_as_it_can(tmp_path: Path, text: str) -> None:
    mp3 = tmp_path / "x.mp3"
    mp3.with_suffix(".json").write_text(text, encoding="utf-8")
    sidecar = read_sidecar(mp3)
    assert sidecar is None or (sidecar.title, sidecar.chapters, sidecar.speech) == ("", (), ())
