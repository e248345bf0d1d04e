import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from generator.base.samples import Samples, frozen
from generator.errors import EncodeError, OutputError, Source
from generator.files.atomic import staged
from generator.files.ffmpeg import Container, encode_mp3
from generator.sound.mastering import ENCODER_LOSS_DB
from generator.speech.delivery import PhraseMark
from generator.timeline.events import ChapterMark, Event, Timeline
from generator.writing.export import _levelled
from generator.writing.sidecar import timeline_document
from generator.writing.transcripts import lrc, prompt_sheet, webvtt
from tests.conftest import decode

HERE = Source("s.j2", 3)
TIMELINE = Timeline(
    "Test & <Title>",
    1000,
    10_000,
    (
        Event(
            "speech",
            1000,
            2500,
            HERE,
            text="Breathe <in> & out",
            voice="piper:joe",
            rate=145,
            spoken="Breathe in and out",
        ),
        Event("pause", 2500, 4000, HERE),
        Event("bell", 4000, 9000, Source("s.j2", 4), sound="bowl", clip="bell:bowl"),
    ),
    (ChapterMark("Start", 1000, 10_000, HERE),),
)


def test_timeline_json_follows_the_contract() -> None:
    document = json.loads(timeline_document(TIMELINE))
    assert document["title"] == "Test & <Title>"
    assert document["duration"] == 10.0
    assert document["sample_rate"] == 1000
    assert document["events"] == [
        {
            "kind": "speech",
            "start": 1.0,
            "end": 2.5,
            "text": "Breathe <in> & out",
            "voice": "piper:joe",
            "rate": 145,
            "spoken": "Breathe in and out",
            "source": "s.j2:3",
        },
        {"kind": "pause", "start": 2.5, "end": 4.0, "source": "s.j2:3"},
        {"kind": "bell", "start": 4.0, "end": 9.0, "sound": "bowl", "source": "s.j2:4"},
    ]
    assert document["chapters"] == [{"title": "Start", "start": 1.0, "end": 10.0}]


def test_a_speech_event_lists_where_its_phrases_are_heard() -> None:
    said = Event(
        "speech", 1000, 4000, HERE, text="Rest. Then go.",
        phrases=(PhraseMark(1000, 1500, "Rest."), PhraseMark(2500, 4000, "Then go.")),
    )  # fmt: skip
    document = json.loads(timeline_document(Timeline("T", 1000, 5000, (said,), ())))
    assert document["events"][0]["phrases"] == [
        {"start": 1.0, "end": 1.5, "text": "Rest."},
        {"start": 2.5, "end": 4.0, "text": "Then go."},
    ]


def test_webvtt_times_each_utterance_and_escapes_text() -> None:
    assert webvtt(TIMELINE) == (
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.500\nBreathe &lt;in&gt; &amp; out\n"
    )


def test_staged_files_replace_the_destinations_only_on_success(tmp_path: Path) -> None:
    old = tmp_path / "s.mp3"
    old.write_text("good old file")

    def interrupted_render() -> None:
        with staged([old, tmp_path / "s.json"]) as (mp3, _json):
            mp3.write_text("half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted_render()
    assert old.read_text() == "good old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mp3"]  # no stray temporary files
    with staged([old]) as (mp3,):
        mp3.write_text("new")
    assert old.read_text() == "new"
    assert old.stat().st_mode & 0o044  # readable by others, like any file the user makes


def test_a_folder_as_destination_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a folder"), staged([tmp_path]):
        pass


def test_encodes_a_tone_to_mp3_of_the_same_length(tmp_path: Path) -> None:
    rate = 44_100
    t = np.arange(3 * rate) / rate
    blocks = [
        frozen(0.5 * np.sin(2 * np.pi * 440 * t[i : i + rate])) for i in range(0, t.size, rate)
    ]
    path = tmp_path / "tone.mp3"
    encode_mp3(blocks, rate, path)
    decoded = decode(path)
    assert decoded.size == pytest.approx(
        3 * rate, abs=rate * 0.01
    )  # gapless: LAME's delay is undone
    # LAME at 96 kbps renders a pure tone about 0.4 dB quieter (measured): allow 0.7 dB
    assert float(np.sqrt(np.mean(decoded[rate : 2 * rate] ** 2))) == pytest.approx(0.354, rel=0.08)


def test_ffmpeg_errors_reach_the_user(tmp_path: Path) -> None:
    with pytest.raises(EncodeError, match="ffmpeg failed"):
        encode_mp3([frozen(np.zeros(100))], 44_100, tmp_path / "missing-folder" / "x.mp3")


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: try /proc, where none can write
            target = Path("/proc/stillpoint-test.mp3")
        else:
            target = folder / "s.mp3"
        with pytest.raises(OutputError, match="cannot write"), staged([target]):
            pass
    finally:
        folder.chmod(0o700)


def test_lrc_gives_each_caption_its_start_in_centiseconds_and_clears_after_speech() -> None:
    long = Timeline(
        "Long",
        1000,
        4_000_000,
        (Event("speech", 3_725_456, 3_726_000, HERE, text="[Late]\nline"),),
        (),
    )
    assert lrc(long).splitlines() == [
        "[ti:Long]",
        "[ar:Stillpoint]",
        "[length:66:40]",
        "[62:05.45](Late) line",
        "[62:06.00]",  # the words end: the screen clears
    ]
    assert lrc(TIMELINE).splitlines()[3:] == ["[00:01.00]Breathe <in> & out", "[00:02.50]"]


def test_the_prompt_sheet_lists_each_question_once_with_room_to_write() -> None:
    ask = Event("speech", 0, 10, HERE, text="What am I holding in my body?", prompt=True)
    again = Event("speech", 20, 30, HERE, text="What am I holding in my body?", prompt=True)
    other = Event("speech", 40, 50, HERE, text="Take a breath.")
    sheet = prompt_sheet(Timeline("Journaling", 1000, 100, (ask, again, other), ()), "About.")
    assert sheet is not None
    assert sheet.count("What am I holding in my body?") == 1
    assert "1. What am I holding in my body?" in sheet
    assert "Take a breath." not in sheet
    assert sheet.count("_" * 72) == 6
    assert prompt_sheet(TIMELINE) is None


@dataclass(frozen=True)
class _Constant:
    length: int = 8

    def blocks(self, first: int, last: int) -> Iterator[Samples]:
        yield frozen(np.full(last - first, 0.5, dtype=np.float32))


def test_an_m4b_or_opus_file_is_not_given_the_gain_lame_takes_back() -> None:
    mix = _Constant()
    assert _levelled(mix, Container.MP3) is mix
    block = next(mix.blocks(0, 8))
    for container in (Container.M4B, Container.OPUS):
        (quieter,) = _levelled(mix, container).blocks(0, 8)
        assert 20 * np.log10(quieter / block) == pytest.approx(-ENCODER_LOSS_DB, abs=1e-5)
        assert not quieter.flags.writeable
