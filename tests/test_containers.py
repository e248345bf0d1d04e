"""MP3, M4B and Opus: one session rendered into each container, read back with ffprobe.

The three files must list the same chapters in time order, last as long and sound as loud, carry
the same tags and cover, have every sidecar beside them, render again from their own record, and
come out byte for byte the same from the same inputs. A crafted M4B or Opus file given to
``render --from`` is refused in one line, like a crafted MP3 (``test_untrusted_files``).
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generator import cli
from generator.base.samples import frozen
from generator.errors import OutputError
from generator.files.ffmpeg import Container, encode
from generator.sound.loudness import TRUE_PEAK_CEILING_DB
from generator.writing.tags import (
    MAX_OGG_CHAPTERS,
    ChapterTag,
    FileTags,
    TagTooLarge,
    UnreadableTag,
    _chapters_ordered,
    ffmetadata,
    read_cover,
    read_listing,
    read_record,
    write_tags,
)
from tests.test_hostile_input import OUT, Case, runner, work
from tests.test_untrusted_files import refused

__all__ = ["work"]  # the fixture, used by name

ESPEAK = "pyttsx3:gmw/en-us"
RATE = 44_100
SUFFIXES = (".mp3", ".m4b", ".opus")
TITLES = ["Arrival", "Body scan", "Closing"]
# Chapter starts: the MP3 and Opus file store milliseconds, the M4B samples (ffmetadata): they
# differ by under half a millisecond (0.36 ms measured).
START_TOLERANCE = 0.001
# Lengths as decoded by ffmpeg 5.1: the MP3 (its LAME header's gapless counts) and the Opus file
# (its pre-skip and last granule position) to the sample; the M4B in whole AAC frames, since
# ffmpeg 5.1 skips the priming its edit list names but not the padding after the last sample
# (270 samples more on a 30 s file, measured). So: within one AAC frame.
AAC_FRAME = 1024
LOUDNESS_TOLERANCE = 0.5  # LU: each container decoded and measured by ffmpeg's ebur128
RECIPE = """\
title = "Calm Hips"
description = "A short practice: arrival, a body scan and a quiet close."

[[part]]
template = "calm.j2"
"""
SCRIPT = """\
[chapter Arrival]
[bell chime]
Welcome. Settle in, and let the hips be heavy.
[pause 3s..2m]
[chapter Body scan]
[for 4s] Breathe in.
[for 4s] Breathe out.
[pause 2s]
[chapter Closing]
[bell]
Rest now.
"""


def render(args: list[str]) -> None:
    result = runner.invoke(cli.app, ["render", *args, "--voice", ESPEAK])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The session rendered into each container, each in a folder of its own (the sidecars of
    calm.mp3 and calm.m4b would share their names)."""
    folder = tmp_path_factory.mktemp("containers")
    (folder / "calm.toml").write_text(RECIPE, encoding="utf-8")
    (folder / "calm.j2").write_text(SCRIPT, encoding="utf-8")
    home = tmp_path_factory.mktemp("home")
    files = {}
    with pytest.MonkeyPatch.context() as patch:  # a module's fixture runs before own_folders
        patch.setenv("XDG_CONFIG_HOME", str(home / "config"))
        patch.setenv("XDG_DATA_HOME", str(home / "data"))
        for name in ("STILLPOINT_CONFIG", "STILLPOINT_SCRIPTS"):
            patch.delenv(name, raising=False)
        for suffix in SUFFIXES:
            files[suffix] = folder / suffix[1:] / f"calm{suffix}"
            render([str(folder / "calm.toml"), "-o", str(files[suffix]), "--minutes", "0.75"])
    return files


def probe(path: Path) -> dict[str, Any]:
    command = ["ffprobe", "-v", "error", "-of", "json"]
    command += ["-show_chapters", "-show_format", "-show_streams", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


def audio_stream(probed: dict[str, Any]) -> dict[str, Any]:
    return dict(next(s for s in probed["streams"] if s["codec_type"] == "audio"))


def decoded_seconds(path: Path) -> float:
    """The length ffmpeg decodes, at the file's own rate (48 kHz for Opus)."""
    rate = int(audio_stream(probe(path))["sample_rate"])
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-f", "s16le", "-ac", "1"]
    raw = subprocess.run([*command, "-"], capture_output=True, check=True).stdout
    return len(raw) / 2 / rate


def loudness(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP), by ffmpeg's ebur128 filter."""
    command = ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a"]
    done = subprocess.run(
        [*command, "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[0-9.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[0-9.]+) dBFS", summary)
    assert integrated is not None, summary
    assert peak is not None, summary
    return float(integrated[1]), float(peak[1])


def timeline(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.with_suffix(".json").read_text(encoding="utf-8")))


def placed(path: Path) -> dict[str, Any]:
    """The timeline JSON without where each event came from: a render from a file's record
    reads its scripts from a temporary folder."""
    document = timeline(path)
    return {**document, "events": [{**e, "source": ""} for e in document["events"]]}


def nero_starts(path: Path) -> list[float]:
    """The chapter starts in an M4B's Nero ``chpl`` atom (version 1: a count, then per chapter
    its start in 100 ns units and its title, a byte of length first)."""
    data = path.read_bytes()
    at = data.index(b"chpl") + 4 + 4 + 4  # version and flags, then 4 bytes reserved
    starts = []
    for _ in range(data[at]):
        starts.append(int.from_bytes(data[at + 1 : at + 9], "big") / 10_000_000)
        at += 9 + data[at + 9]
    return starts


def cover_of(path: Path) -> bytes:
    """The attached picture as ffmpeg reads it, whatever the container."""
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy"]
    return subprocess.run(
        [*command, "-f", "image2pipe", "-"], capture_output=True, check=True
    ).stdout


# --- one session in three containers -----------------------------------------------------------


@pytest.mark.e2e
def test_every_container_lists_the_chapters_in_time_order(made: dict[str, Path]) -> None:
    """ffprobe lists chapters as stored: an MP3's CHAP frames were once stored by size."""
    listed = {suffix: probe(path)["chapters"] for suffix, path in made.items()}
    mp3_starts = [float(chapter["start_time"]) for chapter in listed[".mp3"]]
    assert mp3_starts == sorted(mp3_starts)
    expected = [chapter["start"] for chapter in timeline(made[".mp3"])["chapters"]]
    assert mp3_starts == pytest.approx(expected, abs=START_TOLERANCE)
    for suffix, chapters in listed.items():
        assert [chapter["tags"]["title"] for chapter in chapters] == TITLES, suffix
        starts = [float(chapter["start_time"]) for chapter in chapters]
        if suffix == ".m4b":
            # An MP4 chapter track is a text track, read from 0: its first chapter covers the
            # lead-in as well (the Nero chpl atom beside it keeps the true start, 1 s).
            assert starts[0] == 0.0
            assert nero_starts(made[suffix]) == pytest.approx(mp3_starts, abs=START_TOLERANCE)
            starts[0] = mp3_starts[0]
        assert starts == pytest.approx(mp3_starts, abs=START_TOLERANCE), suffix


@pytest.mark.e2e
def test_every_container_has_its_codec_length_and_loudness(made: dict[str, Path]) -> None:
    seconds = timeline(made[".mp3"])["duration"]
    codecs = {suffix: audio_stream(probe(path))["codec_name"] for suffix, path in made.items()}
    assert codecs == {".mp3": "mp3", ".m4b": "aac", ".opus": "opus"}
    assert decoded_seconds(made[".mp3"]) == pytest.approx(seconds, abs=1 / RATE)
    assert decoded_seconds(made[".opus"]) == pytest.approx(seconds, abs=1 / RATE)
    assert 0 <= decoded_seconds(made[".m4b"]) - seconds < AAC_FRAME / RATE
    # The M4B's own length, its edit list's, is the session's to the sample.
    m4b = float(audio_stream(probe(made[".m4b"]))["duration"])
    assert m4b == pytest.approx(seconds, abs=1 / RATE)
    measured = {suffix: loudness(path) for suffix, path in made.items()}
    levels = [integrated for integrated, _ in measured.values()]
    assert max(levels) - min(levels) <= LOUDNESS_TOLERANCE, measured
    assert all(peak <= TRUE_PEAK_CEILING_DB for _, peak in measured.values()), measured


@pytest.mark.e2e
def test_every_container_has_its_sidecars_tags_and_cover(made: dict[str, Path]) -> None:
    cover = read_cover(made[".mp3"])
    assert cover.startswith(b"\x89PNG")
    description = "A short practice: arrival, a body scan and a quiet close."
    for suffix, path in made.items():
        names = sorted(file.name for file in path.parent.iterdir())
        assert names == sorted(f"calm{end}" for end in (suffix, ".json", ".vtt", ".lrc"))
        probed = probe(path)
        stream = audio_stream(probed)
        # ffmpeg shows an Ogg stream's comments as the stream's tags, others as the file's.
        found = {**probed["format"].get("tags", {}), **stream.get("tags", {})}
        tags = {key.lower(): value for key, value in found.items()}
        assert (tags["title"], tags["artist"], tags["album"]) == (
            "Calm Hips", "Stillpoint", "Stillpoint",
        ), suffix  # fmt: skip
        assert tags["comment"] == description, suffix
        assert tags.get("major_brand", "M4B ") == "M4B ", suffix  # an audiobook, by its ftyp
        pictures = [s for s in probed["streams"] if s["disposition"].get("attached_pic")]
        assert [picture["codec_name"] for picture in pictures] == ["png"], suffix
        assert cover_of(path) == cover, suffix
    listed = read_listing(made[".opus"])  # its METADATA_BLOCK_PICTURE, through mutagen
    assert (listed.cover, listed.description) == (cover, description)


@pytest.mark.e2e
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_file_renders_again_from_its_record_to_the_same_bytes(
    made: dict[str, Path], suffix: str, tmp_path: Path
) -> None:
    """The same inputs give the same bytes: no date, encoder version or random Ogg serial."""
    again = tmp_path / f"again{suffix}"
    render(["--from", str(made[suffix]), "-o", str(again)])
    assert placed(again) == placed(made[suffix])
    assert again.read_bytes() == made[suffix].read_bytes()


@pytest.mark.e2e
def test_an_m4b_is_stamped_with_no_date(made: dict[str, Path]) -> None:
    """Two renders a second apart would differ by their mvhd/tkhd/mdhd creation times."""
    data = made[".m4b"].read_bytes()
    for kind in (b"mvhd", b"tkhd", b"mdhd"):
        at = data.find(kind)
        while at >= 0:
            version = data[at + 4]
            size = 8 if version == 1 else 4
            created = data[at + 8 : at + 8 + size]
            modified = data[at + 8 + size : at + 8 + 2 * size]
            assert created == modified == bytes(size), kind
            at = data.find(kind, at + 4)
    assert b"Lavf" not in data  # no encoder version either


# --- the parts, without rendering ---------------------------------------------------------------


def id3_frame(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack(">I", len(data)) + b"\0\0" + data


def chap(element_id: bytes, start_ms: int, title: bytes) -> bytes:
    times = struct.pack(">IIII", start_ms, start_ms + 1000, 0xFFFFFFFF, 0xFFFFFFFF)
    return id3_frame(b"CHAP", element_id + b"\0" + times + id3_frame(b"TIT2", b"\3" + title))


def test_chap_frames_are_stored_by_start_time_among_the_other_frames() -> None:
    title, toc = id3_frame(b"TIT2", b"\3Calm"), id3_frame(b"CTOC", b"toc\0\3\3chp000\0")
    arrival, body, closing = (
        chap(b"chp000", 1000, b"Arrival"),
        chap(b"chp001", 9022, b"Body scan, the longest title of the three"),
        chap(b"chp002", 19022, b"Closing"),
    )
    record = id3_frame(b"TXXX", b"\3stillpoint\0{}")
    padding = b"\0" * 16
    stored = title + toc + body + closing + arrival + record + padding  # as mutagen stores them
    assert _chapters_ordered(stored) == title + toc + arrival + body + closing + record + padding
    assert _chapters_ordered(title + record) == title + record  # no chapters: as it was
    same_start = chap(b"chp003", 1000, b"Also at one second")
    assert _chapters_ordered(same_start + arrival) == arrival + same_start  # then by their ids


def test_ffmetadata_escapes_what_ffmpeg_would_read_as_syntax() -> None:
    text = ffmetadata([("a=b;c#d\\e\nf", 44_100, 88_200), ("Rest", 88_200, 132_300)], RATE)
    assert text == (
        ";FFMETADATA1\n"
        "[CHAPTER]\nTIMEBASE=1/44100\nSTART=44100\nEND=88200\ntitle=a\\=b\\;c\\#d\\\\e\\\nf\n"
        "[CHAPTER]\nTIMEBASE=1/44100\nSTART=88200\nEND=132300\ntitle=Rest\n"
    )
    assert ffmetadata([], RATE) == ""


def test_ffmpeg_reads_the_escaped_titles_back(tmp_path: Path) -> None:
    titles = ["a=b;c#d\\e", "[CHAPTER] two\nlines", "Rest"]
    marks = [(title, n * RATE, (n + 1) * RATE) for n, title in enumerate(titles)]
    path = tmp_path / "t.m4b"
    silence = frozen(np.zeros(3 * RATE, dtype=np.float32))
    encode([silence], RATE, path, 1, Container.M4B, ffmetadata(marks, RATE))
    chapters = probe(path)["chapters"]
    assert [chapter["tags"]["title"] for chapter in chapters] == titles
    assert [float(chapter["start_time"]) for chapter in chapters] == [0.0, 1.0, 2.0]


def test_an_opus_file_with_more_chapters_than_its_comments_can_number_is_refused(
    tmp_path: Path,
) -> None:
    chapters = tuple(ChapterTag(f"Part {n}", n, n + 1) for n in range(MAX_OGG_CHAPTERS + 1))
    tags = FileTags("Many", chapters=chapters)
    with pytest.raises(OutputError, match="at most 999 chapters, and this session has 1000"):
        write_tags(tmp_path / "never-opened.opus", tags, Container.OPUS)


def test_an_opus_render_of_too_many_chapters_is_refused_before_any_work(work: Path) -> None:
    text = "".join(f"[chapter Part {n}]\nRest.\n" for n in range(1, MAX_OGG_CHAPTERS + 2))
    (work / "s.txt").write_text(text, encoding="utf-8")
    line = 2 * MAX_OGG_CHAPTERS + 1  # the 1000th chapter's
    what = "an Opus file holds at most 999 chapters, and this session has 1000"
    case = Case((), f"s.txt:{line}", what, "Render it as an MP3 or M4B")
    refused(work, ["render", "s.txt", "-o", "out/many.opus", "--voice", ESPEAK], case)


def test_an_output_of_another_suffix_is_refused_in_one_line(work: Path) -> None:
    (work / "s.txt").write_text("Hello.\n", encoding="utf-8")
    case = Case((), None, "out/x.wav does not end in .mp3, .m4b or .opus", "session.m4b for")
    refused(work, ["render", "s.txt", "-o", "out/x.wav"], case)


# --- crafted M4B and Opus files given to render --from ------------------------------------------


def atom(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


FTYP = atom(b"ftyp", b"M4A \0\0\2\0M4A isomiso2")


def ogg_page(lacing: bytes, serial: int = 1) -> bytes:
    """An Ogg page's header and its segments' bytes (zeros; the CRC is not what is checked)."""
    header = b"OggS\0\0" + bytes(8) + struct.pack("<II", serial, 0) + bytes(4)
    return header + bytes([len(lacing)]) + lacing + bytes(sum(lacing))


def huge_opus() -> bytes:
    """An identification packet, then a comment packet over 32 MB: 500 pages of 255 segments
    of 255 bytes, none ending it."""
    return ogg_page(bytes([19])) + ogg_page(bytes([255] * 255)) * 500


def real_m4b(folder: Path, record: str) -> bytes:
    """A tenth of a second of silence in an M4B, tagged with this record."""
    path = folder / "real.m4b"
    encode([frozen(np.zeros(RATE // 10, dtype=np.float32))], RATE, path, 1, Container.M4B)
    write_tags(path, FileTags("Real", record=record), Container.M4B)
    return path.read_bytes()


def latin1_record(folder: Path) -> bytes:
    """A record whose "é" is Latin-1's one byte, a space keeping the atoms' sizes."""
    return real_m4b(folder, '{"name": "café"}').replace(b"caf\xc3\xa9", b"caf\xe9 ")


CRAFTED = [
    pytest.param(
        "big.m4b", lambda folder: FTYP + struct.pack(">I", 40_000_000) + b"moov" + bytes(64),
        TagTooLarge, "its tag is 40,000,000 bytes, over the 32,000,000 we read", id="moov-40MB",
    ),
    pytest.param(
        "many.m4b", lambda folder: FTYP + atom(b"moov", atom(b"free") * 2_000),
        UnreadableTag, "it has over 1,000 atoms", id="m4b-2000-atoms",
    ),
    pytest.param(
        "deep.m4b", lambda folder: FTYP + atom(b"moov", nested(b"udta", 5_000)),
        UnreadableTag, "its atoms nest over 16 deep", id="m4b-5000-deep",
    ),
    pytest.param(
        "latin1.m4b", latin1_record,
        UnreadableTag, "its record is not UTF-8 text", id="m4b-record-not-utf8",
    ),
    pytest.param(
        "named.mp3", lambda folder: FTYP + atom(b"moov", atom(b"free") * 2_000),
        UnreadableTag, "it has over 1,000 atoms", id="m4b-named-mp3",
    ),
    pytest.param(
        "big.opus", lambda folder: huge_opus(),
        TagTooLarge, "its tags are over the 32,000,000 bytes we read", id="opus-comment-32MB",
    ),
]  # fmt: skip


def nested(kind: bytes, depth: int) -> bytes:
    body = b""
    for _ in range(depth):
        body = atom(kind, body)
    return body


@pytest.mark.parametrize(("name", "content", "kind", "what"), CRAFTED)
def test_a_crafted_m4b_or_opus_file_is_refused_in_one_line(
    work: Path, name: str, content: Any, kind: type[Exception], what: str
) -> None:
    (work / name).write_bytes(content(work.parent))
    with pytest.raises(kind, match=re.escape(what)):
        read_record(work / name)
    case = Case((), None, f"cannot read {name}: {what}", "Give an MP3 Stillpoint made")
    refused(work, ["render", "--from", name, "-o", OUT], case)


def test_a_real_m4b_without_a_record_is_said_to_have_none(work: Path) -> None:
    (work / "plain.m4b").write_bytes(real_m4b(work.parent, ""))
    assert read_record(work / "plain.m4b") is None
    case = Case((), None, "plain.m4b has no Stillpoint recipe inside", "or an M4B or Opus file")
    refused(work, ["render", "--from", "plain.m4b", "-o", OUT], case)
