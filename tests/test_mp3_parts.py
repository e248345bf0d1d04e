"""A long MP3 encoded in parts at once and joined (files/mp3.py, ffmpeg.encode_mix): the joined
file, decoded by ffmpeg and read by mp3val and mediainfo, against one encoder's file."""

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from generator.base.samples import SAMPLE_RATE, Samples, frozen
from generator.errors import EncodeError
from generator.files import ffmpeg, mp3
from generator.files.ffmpeg import encode, encode_mix
from tests.conftest import decode, speechlike

Floats = npt.NDArray[np.float64]
PART_SECONDS = 20  # parts of a 70 s mix: 3, seams near 23 s and 47 s
SECONDS = 70


@dataclass(frozen=True)
class Signal:
    """A mix held whole, given out in blocks of any stretch, as the session's mix is."""

    samples: npt.NDArray[np.float32]  # (n,) or (n, 2)
    fail_at: int | None = None  # a sample whose block raises, as a bug in the mix would

    @property
    def length(self) -> int:
        return len(self.samples)

    def blocks(self, first: int, last: int) -> Iterator[Samples]:
        for start in range(first, last, 44_100):
            stop = min(start + 44_100, last)
            if self.fail_at is not None and start <= self.fail_at < stop:
                raise RuntimeError("the mix failed")
            yield frozen(self.samples[start:stop])


def guidance(channels: int, seed: int = 5) -> Signal:
    """Phrases of speech-like noise with silences between, a decaying bell, and for stereo a
    quiet bed panned apart: what a session's mix has."""
    rng = np.random.default_rng(seed)
    mono = np.zeros(SECONDS * SAMPLE_RATE, dtype=np.float32)
    for start in np.arange(1.0, SECONDS - 4, 4.0):
        at = round(start * SAMPLE_RATE)
        phrase = speechlike(rng, float(rng.uniform(1.5, 3.0)), 0.1)
        mono[at : at + phrase.size] += phrase
    bell = np.arange(6 * SAMPLE_RATE) / SAMPLE_RATE
    mono[: bell.size] += 0.2 * np.sin(2 * np.pi * 660 * bell) * np.exp(-bell)
    if channels == 1:
        return Signal(mono)
    bed = rng.normal(0, 0.01, (mono.size, 2)).astype(np.float32)
    return Signal(np.stack([mono, 0.8 * mono], axis=1) + bed)


@pytest.fixture
def short_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg, "PART_SECONDS", PART_SECONDS)


def encode_whole(signal: Signal, path: Path, channels: int) -> Path:
    encode(signal.blocks(0, signal.length), SAMPLE_RATE, path, channels)
    return path


def snr_db(source: npt.NDArray[np.float32], decoded: npt.NDArray[np.float32]) -> float:
    error = np.sum((source - decoded).astype(np.float64) ** 2)
    return float(10 * np.log10(np.sum(source.astype(np.float64) ** 2) / error))


def tag(path: Path) -> tuple[bytes, bytes]:
    """The Info frame (the file starts with it: no ID3 tag is written here), and the rest."""
    data = path.read_bytes()
    with path.open("rb") as file:
        size = mp3.Stream(mp3._File(file), True).offsets[0]
    return data[:size], data[size:]


def test_crc16_is_crc16_arc() -> None:
    def bit_by_bit(data: bytes, crc: int = 0) -> int:
        for byte in data:
            crc ^= byte
            for _bit in range(8):
                crc = crc >> 1 ^ 0xA001 if crc & 1 else crc >> 1
        return crc

    assert mp3.crc16(b"123456789") == 0xBB3D  # the catalogue's check value of CRC-16/ARC
    rng = np.random.default_rng(1)
    for size in (0, 1, 255, 256, 257, 65_535, 65_536, 65_536 * 3 + 300):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        for start in (0, 0x1234):
            assert mp3.crc16(data, start) == bit_by_bit(data, start), (size, start)


def test_the_crcs_are_those_ffmpeg_writes_in_its_own_lame_tag(tmp_path: Path) -> None:
    path = encode_whole(guidance(1), tmp_path / "one.mp3", 1)
    info, frames = tag(path)
    at = info.index(b"Info")
    assert int.from_bytes(info[at + 152 : at + 154], "big") == mp3.crc16(frames)
    blank = info[: at + 154] + bytes(2) + info[at + 156 :]
    assert int.from_bytes(info[at + 154 : at + 156], "big") == mp3.crc16(blank[:190])


@pytest.mark.parametrize("length", [0, 1000, 600 * SAMPLE_RATE - 1, 3_600 * SAMPLE_RATE + 17])
def test_parts_cover_the_mix_on_one_frame_grid(length: int) -> None:
    parts = mp3.plan_parts(length, 300 * SAMPLE_RATE)
    assert len(parts) == max(1, length // (300 * SAMPLE_RATE))
    assert parts[0].first == 0
    assert parts[-1].last == length
    assert not parts[-1].seams
    for before, after in itertools.pairwise(parts):
        assert after.first % mp3.SAMPLES_PER_FRAME == 0
        assert after.origin == before.seams.start - mp3.LEAD
        assert before.last >= (before.seams.stop + mp3.LEAD) * mp3.SAMPLES_PER_FRAME
    assert mp3.plan_parts(length, 300 * SAMPLE_RATE) == parts  # the length alone decides


@pytest.mark.parametrize("channels", [1, 2])
def test_a_mix_encoded_in_parts_plays_as_one_encoders_file(
    tmp_path: Path, short_parts: None, channels: int
) -> None:
    signal = guidance(channels)
    whole = encode_whole(signal, tmp_path / "whole.mp3", channels)
    joined = tmp_path / "joined.mp3"
    encode_mix(signal, SAMPLE_RATE, joined, channels, encoders=2)
    parts = mp3.plan_parts(signal.length, PART_SECONDS * SAMPLE_RATE)
    assert len(parts) == 3

    assert _mp3val(joined) == _mp3val(whole).replace("whole.mp3", "joined.mp3")
    assert _mediainfo(joined) == _mediainfo(whole)  # frames, samples, length, delay
    heard, once = decode(joined, channels), decode(whole, channels)
    assert heard.shape == once.shape == signal.samples.shape  # the gapless trim, to the sample
    assert snr_db(signal.samples, heard) == pytest.approx(snr_db(signal.samples, once), abs=0.3)

    info, frames = tag(joined)
    at = info.index(b"Info")
    assert int.from_bytes(info[at + 8 : at + 12], "big") * 1152 >= signal.length
    assert int.from_bytes(info[at + 152 : at + 154], "big") == mp3.crc16(frames)
    assert int.from_bytes(info[at + 148 : at + 152], "big") == joined.stat().st_size


@pytest.mark.parametrize("channels", [1, 2])
def test_no_frame_about_a_seam_is_coded_worse_than_one_encoders_worst(
    tmp_path: Path, short_parts: None, channels: int
) -> None:
    """Speech-like sound without a pause: every frame about a seam has main data and reads
    some from the frames before it. A frame whose reservoir bytes were not carried over, or
    whose window does not meet the last one, decodes 3 to 20 dB worse than any of one encoder's
    frames (measured, breaking each on purpose)."""
    rng = np.random.default_rng(7)
    mono = np.array(speechlike(rng, SECONDS, 0.1), dtype=np.float32)
    right = 0.7 * mono + rng.normal(0, 0.02, mono.size).astype(np.float32)
    signal = Signal(mono if channels == 1 else np.stack([mono, right], axis=1))
    whole = encode_whole(signal, tmp_path / "whole.mp3", channels)
    encode_mix(signal, SAMPLE_RATE, tmp_path / "joined.mp3", channels, encoders=2)
    once = frame_snr_db(signal.samples, decode(whole, channels))
    joined = frame_snr_db(signal.samples, decode(tmp_path / "joined.mp3", channels))
    assert joined.min() > once.min() - 1.0
    assert np.median(joined) == pytest.approx(np.median(once), abs=0.1)


def frame_snr_db(source: npt.NDArray[np.float32], decoded: npt.NDArray[np.float32]) -> Floats:
    """The SNR of each 1152-sample stretch."""
    size = len(source) // mp3.SAMPLES_PER_FRAME * mp3.SAMPLES_PER_FRAME
    stretches = source[:size].reshape(size // mp3.SAMPLES_PER_FRAME, -1).astype(np.float64)
    errors = stretches - decoded[:size].reshape(stretches.shape)
    ratios: Floats = (stretches**2).sum(1) / np.maximum((errors**2).sum(1), 1e-12)
    return 10 * np.log10(ratios)


@pytest.mark.parametrize(
    ("last", "first", "meet"),
    [
        ((0,), (0,), True), ((0,), (1,), True), ((3,), (0,), True), ((1,), (2,), True),
        ((2,), (2,), True), ((2,), (3,), True), ((0,), (2,), False), ((0,), (3,), False),
        ((1,), (0,), False), ((2,), (1,), False), ((0, 1), (0, 2), True), ((0, 0), (0, 2), False),
    ],
)  # fmt: skip
def test_a_seam_joins_windows_whose_halves_cancel(
    last: tuple[int, ...], first: tuple[int, ...], meet: bool
) -> None:
    """Block types 0 long, 1 start, 2 short, 3 stop (ISO 11172-3): after a start or short
    window a short or stop one, after a long or stop window a long or start one; each channel."""
    earlier = mp3.Side(100, 0, 10, (0,) * len(last), last)
    later = mp3.Side(100, 0, 10, first, (0,) * len(first))
    assert mp3._windows_meet(earlier, later) is meet


def test_the_parts_make_the_same_file_whatever_the_number_of_encoders(
    tmp_path: Path, short_parts: None
) -> None:
    signal = guidance(1, seed=9)
    for encoders in (1, 3):
        encode_mix(signal, SAMPLE_RATE, tmp_path / f"{encoders}.mp3", encoders=encoders)
    assert (tmp_path / "1.mp3").read_bytes() == (tmp_path / "3.mp3").read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["1.mp3", "3.mp3"]  # no parts


def test_parts_that_cannot_be_joined_are_encoded_again_in_one(
    tmp_path: Path, short_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    signal = guidance(1)
    whole = encode_whole(signal, tmp_path / "whole.mp3", 1)
    monkeypatch.setattr(mp3, "_windows_meet", lambda earlier, later: False)
    encode_mix(signal, SAMPLE_RATE, tmp_path / "again.mp3", encoders=2)
    assert (tmp_path / "again.mp3").read_bytes() == whole.read_bytes()


def test_a_mix_that_fails_stops_every_encoder_and_leaves_no_parts(
    tmp_path: Path, short_parts: None
) -> None:
    signal = Signal(guidance(1).samples, fail_at=50 * SAMPLE_RATE)
    with pytest.raises(RuntimeError, match="the mix failed"):
        encode_mix(signal, SAMPLE_RATE, tmp_path / "x.mp3", encoders=2)
    assert list(tmp_path.iterdir()) == []
    assert not _children_running()


def test_an_encoder_that_fails_is_told_in_its_own_words(
    tmp_path: Path, short_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    making = ffmpeg._part_command

    def second_fails(rate: int, channels: int, path: Path, index: int) -> list[str]:
        command = making(rate, channels, path, index)
        return [*command[:-2], "-ar", "12345", *command[-2:]] if index == 1 else command

    monkeypatch.setattr(ffmpeg, "_part_command", second_fails)
    with pytest.raises(EncodeError, match="ffmpeg failed to encode the MP3") as raised:
        encode_mix(guidance(1), SAMPLE_RATE, tmp_path / "x.mp3", encoders=2)
    assert "Error while opening encoder" in str(raised.value)  # its last line
    assert list(tmp_path.iterdir()) == []
    assert not _children_running()


def _mp3val(path: Path) -> str:
    tool = shutil.which("mp3val")
    assert tool, "mp3val is installed by tools/install-system-deps.sh --test"
    said = subprocess.run([tool, str(path)], capture_output=True, text=True, check=True).stdout
    problems = [line for line in said.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert [line for line in problems if "No supported tags" not in line] == []  # ID3: later
    return said


def _mediainfo(path: Path) -> str:
    tool = shutil.which("mediainfo")
    assert tool, "mediainfo is installed by tools/install-system-deps.sh --test"
    fields = "Audio;%FrameCount% %SamplingCount% %Duration% %Delay% %BitRate_Mode% %BitRate%"
    command = [tool, f"--Inform={fields}", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _children_running() -> list[int]:
    """This process's children still alive (ffmpeg's, if any were left)."""
    me = Path("/proc/self/task")
    children: list[int] = []
    for task in me.iterdir():
        listed = (task / "children").read_text().split()
        children += [int(pid) for pid in listed if _is_ffmpeg(int(pid))]
    return children


def _is_ffmpeg(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "ffmpeg"
    except OSError:
        return False
