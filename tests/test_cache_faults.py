"""A speech cache that cannot be written (disk full, read-only, a file where its folder should be)
only costs time: the render goes on with clips made for itself, says so once, and its MP3 is the
one a working cache gives, byte for byte.

We run as root, which may write anywhere, so an unwritable cache is a path under a regular file
(mkdir fails with ENOTDIR); the other errors are raised in the store itself.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from generator.base.samples import SAMPLE_RATE, Samples, from_pcm16, frozen, to_pcm16
from generator.cli import app
from generator.errors import SynthesisError
from generator.sound import sources
from generator.sound.mastering import Plan, PlanCache
from generator.sound.sources import RenderClips
from generator.speech import cache as cache_module
from generator.speech import synthesis
from generator.speech.cache import Clip, ClipCache, SpeechRequest
from generator.speech.delivery import PhraseMark
from generator.speech.synthesis import Unstored, cache_unwritable, synthesize_all
from tests.conftest import decode, write

runner = CliRunner()

ESPEAK = "pyttsx3:gmw/en-us"
SCRIPT = "Settle in.\n\n[pause 2s]\nLet the hips soften.\n\n[pause 1s]\nRest now.\n"
CLIPS = 3  # the script's distinct utterances


def warning(cache: Path) -> str:
    return (
        f"stillpoint: warning: the speech cache at {cache} cannot be written (Not a directory): "
        "clips are made for this render only"
    )


def render(script: Path, output: Path, cache: Path) -> Result:
    """`stillpoint render` in process, with STILLPOINT_CACHE at cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STILLPOINT_CACHE", str(cache))
        return runner.invoke(app, ["render", str(script), "-o", str(output), "--voice", ESPEAK])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, bytes]]:
    """The script, and its MP3 rendered with a working (empty) cache."""
    work = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as patch:  # never the user's own config or scripts
        patch.setenv("XDG_CONFIG_HOME", str(work / "config"))
        patch.setenv("XDG_DATA_HOME", str(work / "data"))
        for name in ("STILLPOINT_CONFIG", "STILLPOINT_SCRIPTS"):
            patch.delenv(name, raising=False)
        script = write(work / "s.txt", SCRIPT)
        result = render(script, work / "good" / "s.mp3", work / "cache")
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        assert len(list((work / "cache").rglob("*.clip"))) == CLIPS
        yield script, (work / "good" / "s.mp3").read_bytes()


def under_a_file(tmp: Path) -> Path:
    write(tmp / "blocker", "a file, not a folder")
    return tmp / "blocker" / "cache"


def is_a_file(tmp: Path) -> Path:
    return write(tmp / "cache", "a file, not a folder")


def clips_is_a_file(tmp: Path) -> Path:
    write(tmp / "cache" / "clips", "a file, not a folder")
    return tmp / "cache"


@pytest.mark.e2e
@pytest.mark.parametrize("broken", [under_a_file, is_a_file, clips_is_a_file])
def test_an_unwritable_speech_cache_warns_once_and_renders_the_same_file(
    broken: Callable[[Path], Path], reference: tuple[Path, bytes], tmp_path: Path
) -> None:
    script, expected = reference
    cache = broken(tmp_path)
    output = tmp_path / "out" / "s.mp3"
    result = render(script, output, cache)
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [warning(cache)]
    assert f"{CLIPS} new speech clips" in result.stdout
    timeline = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    assert decode(output).size / SAMPLE_RATE == pytest.approx(timeline["duration"], abs=0.05)
    assert output.read_bytes() == expected  # the same clips: the same bytes
    assert not list(tmp_path.rglob("*.clip"))
    assert not list(tmp_path.rglob("*.part"))


# The worker and the parent, without spawning workers: a fake engine of fixed samples.


class FixedEngine:
    """An engine whose every utterance is the same half second of a tone at 22,050 Hz."""

    name = "fixed"

    def voices(self) -> list[object]:
        return []

    def default_voice(self) -> str:
        return "fixed:one"

    def speak(
        self, phrases: Sequence[str], voice: str, seconds_per_word: float, seed: int
    ) -> tuple[list[Samples], int]:
        seconds = np.arange(11_025) / 22_050
        return [frozen(0.5 * np.sin(2 * np.pi * 220 * seconds)) for _ in phrases], 22_050


@pytest.fixture
def fixed_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthesis, "_worker_engines", {})
    monkeypatch.setattr(synthesis, "start_engine", lambda name: FixedEngine())


REQUEST = SpeechRequest("fixed", "fixed:one", 150, "Rest here.")


def cached_clip(tmp_path: Path) -> Clip:
    """The clip as a working cache gives it back to the render."""
    assert synthesis.clip_in_worker(REQUEST, tmp_path / "good") == ""  # stored: nothing sent
    clip = ClipCache(tmp_path / "good").load(REQUEST)
    assert clip is not None
    return clip


@pytest.mark.usefixtures("fixed_engine")
def test_a_worker_sends_back_the_clip_it_cannot_store(tmp_path: Path) -> None:
    cache = under_a_file(tmp_path)
    outcome = synthesis.clip_in_worker(REQUEST, cache)
    assert isinstance(outcome, Unstored)
    assert outcome.reason == "Not a directory"
    assert not cache.exists()
    clip = synthesis._made_clip(REQUEST, ClipCache(cache), {REQUEST: outcome})
    cached = cached_clip(tmp_path)
    assert np.array_equal(clip.samples, cached.samples)  # bit for bit the cached clip
    assert clip.phrases == cached.phrases  # and its phrases where the cache has them
    assert [mark.text for mark in clip.phrases] == ["Rest here."]
    assert not clip.samples.flags.writeable


@pytest.mark.usefixtures("fixed_engine")
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_any_store_error_sends_the_clip_back_with_its_reason(
    code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = cached_clip(tmp_path)

    def refused(self: ClipCache, request: SpeechRequest, clip: Clip) -> None:
        raise OSError(code, os.strerror(code), str(self.path(request)))

    monkeypatch.setattr(ClipCache, "store", refused)
    outcome = synthesis.clip_in_worker(REQUEST, tmp_path / "full")
    assert isinstance(outcome, Unstored)
    assert outcome.reason == os.strerror(code)
    clip = synthesis._made_clip(REQUEST, ClipCache(tmp_path), {REQUEST: outcome})
    assert np.array_equal(clip.samples, expected.samples)
    assert clip.phrases == expected.phrases


@pytest.mark.usefixtures("fixed_engine")
def test_a_clip_that_is_not_sent_back_is_still_read_from_the_cache_checked(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path / "good")
    assert synthesis.clip_in_worker(REQUEST, cache.root) == ""
    cache.path(REQUEST).write_bytes(cache.path(REQUEST).read_bytes()[:-2])  # torn after storing
    with pytest.raises(SynthesisError, match="could not be read back"):
        synthesis._made_clip(REQUEST, cache, {})


def test_the_warning_names_the_cache_folder_and_why() -> None:
    assert cache_unwritable(Path("/var/cache/x"), "No space left on device") == (
        "stillpoint: warning: the speech cache at /var/cache/x cannot be written "
        "(No space left on device): clips are made for this render only"
    )


def test_render_clips_tell_a_cache_warning_once_a_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """complete() runs once per batch of new speech (the timeline placed again, a length fitted);
    each batch meets the same cache."""

    def made(
        requests: Iterable[SpeechRequest],
        cache: ClipCache,
        workers: int | None,
        on_clip: Callable[[int], None],
        on_warning: Callable[[str], None],
    ) -> dict[SpeechRequest, Clip]:
        on_warning(cache_unwritable(cache.root, "Read-only file system"))
        return {request: Clip(frozen(np.full(100, 0.1)), ()) for request in requests}

    monkeypatch.setattr(sources, "synthesize_all", made)
    clips = RenderClips({}, {}, 1.0, ClipCache(Path("/nowhere")), lambda made, total: None)
    for text in ("One.", "Two."):
        clips.speech(text, ESPEAK, 150)
        assert clips.complete()
    assert clips.warnings == (cache_unwritable(Path("/nowhere"), "Read-only file system"),)


@pytest.mark.e2e
def test_synthesize_all_gives_the_clips_and_one_warning_when_the_cache_refuses(
    tmp_path: Path,
) -> None:
    texts = [SpeechRequest("pyttsx3", ESPEAK, 150, text) for text in ("Rest.", "Soften.")]
    good = synthesize_all(texts, ClipCache(tmp_path / "good"))
    cache = under_a_file(tmp_path)
    warnings: list[str] = []
    made: list[int] = []
    clips = synthesize_all(texts, ClipCache(cache), on_clip=made.append, on_warning=warnings.append)
    assert warnings == [warning(cache)]
    assert sum(made) == len(texts)
    assert all(np.array_equal(clips[request].samples, good[request].samples) for request in texts)
    assert all(clips[request].phrases == good[request].phrases for request in texts)


# The mastering plans' cache already lets a write fail; a file in its way must not crash it either.


@pytest.mark.parametrize("layout", ["root is a file", "mastering is a file", "root under a file"])
def test_the_plan_cache_in_the_way_of_a_file_only_costs_time(layout: str, tmp_path: Path) -> None:
    if layout == "root is a file":
        root = write(tmp_path / "cache", "a file")
    elif layout == "mastering is a file":
        root = tmp_path / "cache"
        write(root / "mastering", "a file")
    else:
        root = under_a_file(tmp_path)
    plans = PlanCache(root)
    plan = Plan(float("inf"), 1.5, -16.0, -2.0, 0)
    assert plans.load("0" * 64) is None
    plans.save("0" * 64, plan)  # nothing written, nothing raised
    assert plans.load("0" * 64) is None


# The entry keeps where each phrase is heard, under the digest with the samples.

MARKED = Clip(
    frozen(np.linspace(-0.5, 0.5, 4410)),
    (PhraseMark(0, 1000, "Rest here,"), PhraseMark(2000, 4410, "and soften \u2014 slowly.")),
)


def test_a_cache_entry_keeps_the_phrase_marks(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    cache.store(REQUEST, MARKED)
    loaded = cache.load(REQUEST)
    assert loaded is not None
    assert loaded.phrases == MARKED.phrases
    assert np.array_equal(loaded.samples, from_pcm16(to_pcm16(MARKED.samples)))


def test_a_changed_byte_in_the_phrase_marks_makes_the_clip_again(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    cache.store(REQUEST, MARKED)
    entry = bytearray(cache.path(REQUEST).read_bytes())
    marks_at = entry.index(b"[[0, 1000")
    entry[marks_at + 5] ^= 0x01  # 1000 becomes 1001: a different time, the digest no longer holds
    cache.path(REQUEST).write_bytes(bytes(entry))
    assert cache.load(REQUEST) is None


@pytest.mark.parametrize(
    "marks",
    [
        b'[[0, 5000, "past the end"]]',
        b'[[2000, 1000, "backwards"]]',
        b'[[0, 10, "a"], [5, 20, "overlapping"]]',
        b'[[0, true, "a bool"]]',
        b'{"not": "a list"}',
        b"not json",
        b"\xff\xfe",
    ],
)
def test_marks_that_cannot_be_the_clips_are_refused_even_under_a_matching_digest(
    marks: bytes, tmp_path: Path
) -> None:
    pcm = to_pcm16(MARKED.samples)
    header = cache_module.CLIP_HEADER.pack(
        cache_module.CLIP_MAGIC, SAMPLE_RATE, MARKED.samples.size, len(marks)
    )
    digest = hashlib.blake2b(header + marks + pcm, digest_size=cache_module.CLIP_DIGEST).digest()
    cache = ClipCache(tmp_path)
    cache.path(REQUEST).parent.mkdir(parents=True)
    cache.path(REQUEST).write_bytes(header + digest + marks + pcm)
    assert cache.load(REQUEST) is None
    good = b'[[0, 10, "a"]]'
    header = cache_module.CLIP_HEADER.pack(
        cache_module.CLIP_MAGIC, SAMPLE_RATE, MARKED.samples.size, len(good)
    )
    digest = hashlib.blake2b(header + good + pcm, digest_size=cache_module.CLIP_DIGEST).digest()
    cache.path(REQUEST).write_bytes(header + digest + good + pcm)
    loaded = cache.load(REQUEST)  # the same layout with sound marks reads
    assert loaded is not None
    assert loaded.phrases == (PhraseMark(0, 10, "a"),)


def test_a_cache_entry_is_not_flushed_but_an_output_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry is checked when read (a torn one is made again: the tests above), so it is not
    worth two fsyncs a clip; a file the user keeps is."""
    from generator.files.atomic import write_atomically

    synced: list[int] = []
    real = os.fsync

    def counted(descriptor: int) -> None:
        synced.append(descriptor)
        real(descriptor)

    monkeypatch.setattr(os, "fsync", counted)
    clip = Clip(frozen(np.full(480, 0.25)), (PhraseMark(0, 480, "Rest here."),))
    ClipCache(tmp_path).store(REQUEST, clip)
    assert synced == []
    assert ClipCache(tmp_path).load(REQUEST) is not None
    write_atomically(tmp_path / "kept.json", "{}")
    assert len(synced) == 2  # the file, then its folder
