"""The tags, written by mutagen and read back: an MP3's chapters with their table, the record,
the cover; an M4B's atoms and an Opus file's comments."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import ID3, CTOCFlags
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus

from generator.base.samples import frozen
from generator.files.ffmpeg import Container, encode
from generator.writing.cover import cover_png
from generator.writing.tags import (
    ChapterTag,
    FileTags,
    read_chapters,
    read_listing,
    read_record,
    sniff,
    write_tags,
)


@pytest.fixture
def mp3(tmp_path: Path) -> Path:
    path = tmp_path / "tone.mp3"
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=3", "-b:a", "96k"]
    command += ["-id3v2_version", "0", "-write_id3v1", "0", str(path)]  # no tag of ffmpeg's
    subprocess.run(command, check=True)
    return path


CHAPTERS = (
    ChapterTag("Arrival", 0, 1000),
    ChapterTag("Pigeon pose", 1000, 2500),
    ChapterTag("Close", 2500, 3000),
)


def test_tags_chapters_and_record_read_back_as_id3v2_3(mp3: Path) -> None:
    tags = FileTags(
        title="Hip Release",
        comment="A full practice.",
        album="7-Day Hip Release",
        track=(2, 7),
        encoder="Stillpoint 0.1.0",
        cover=cover_png("Hip Release"),
        chapters=CHAPTERS,
        record='{"format": 1}',
    )
    write_tags(mp3, tags)
    id3 = ID3(mp3)
    assert id3.version == (2, 3, 0)
    assert str(id3["TIT2"]) == "Hip Release"
    assert str(id3["TALB"]) == "7-Day Hip Release"
    assert str(id3["TRCK"]) == "2/7"
    assert str(id3["TCON"]) == "Meditation"
    assert id3.getall("COMM")[0].text == ["A full practice."]
    cover = id3.getall("APIC")[0]
    assert cover.mime == "image/png"
    assert cover.type == 3
    assert cover.data.startswith(b"\x89PNG")
    (toc,) = id3.getall("CTOC")
    assert toc.flags & CTOCFlags.TOP_LEVEL
    assert toc.flags & CTOCFlags.ORDERED
    assert toc.child_element_ids == ["chp000", "chp001", "chp002"]
    assert read_chapters(mp3) == list(CHAPTERS)
    assert read_record(mp3) == '{"format": 1}'
    assert not [key for key in id3 if key.startswith("TDR") or key.startswith("TYE")]  # no dates


def test_a_file_without_a_tag_has_no_chapters_or_record(mp3: Path) -> None:
    assert not mp3.read_bytes().startswith(b"ID3")
    assert read_chapters(mp3) == []
    assert read_record(mp3) is None


def test_the_cover_is_a_png_of_its_own_for_each_title() -> None:
    first, again, other = cover_png("Pigeon"), cover_png("Pigeon"), cover_png("Lizard")
    assert first == again  # the same session always looks the same
    assert first != other
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(first[16:20], "big") == 600  # IHDR width


@pytest.mark.parametrize("container", [Container.M4B, Container.OPUS])
def test_m4b_and_opus_tags_read_back_and_are_told_by_their_first_bytes(
    tmp_path: Path, container: Container
) -> None:
    path = tmp_path / "tone.bin"  # whatever its name: read_record looks at the bytes
    encode([frozen(np.zeros(4410, dtype=np.float32))], 44_100, path, 1, container)
    cover = cover_png("Tone")
    tags = FileTags("Tone", "Café", track=(2, 7), cover=cover, chapters=CHAPTERS, record="{}")
    write_tags(path, tags, container)
    write_tags(path, tags, container)  # written again: replaced, not added to
    assert sniff(path) is container
    assert read_record(path) == "{}"
    listed = read_listing(path.rename(path.with_suffix(container.value)))
    assert (listed.description, listed.cover) == ("Café", cover)
    if container is Container.OPUS:
        comments = OggOpus(path.with_suffix(".opus")).tags
        assert comments is not None
        assert [value for key, value in comments if key.startswith("CHAPTER")] == [
            "00:00:00.000", "Arrival", "00:00:01.000", "Pigeon pose", "00:00:02.500", "Close",
        ]  # fmt: skip
        assert comments["TRACKNUMBER"] == ["2"]
    else:
        mp4 = MP4(path.with_suffix(".m4b"))
        assert mp4.tags is not None
        assert (mp4.tags["\xa9nam"], mp4.tags["trkn"]) == (["Tone"], [(2, 7)])
