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
from generator.speech.cache import (
    Clip,
    ClipCache,
    PhraseRequest,
    PhraseStore,
    SpeechRequest,
    StoredPhrase,
)
from generator.speech.delivery import PhraseMark, pace
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

    def phrase_setting(self, voice: str, seconds_per_word: float) -> str | None:
        return None  # its phrases are not kept: these tests are about the clips


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


# The phrase store: phrases an engine speaks alike wherever they stand, kept beside the clips.


class CountingEngine(FixedEngine):
    """Speaks each phrase as a tone of its own (its pitch from its text), ``factor`` times the
    seconds a word asked for, whatever came before it; records every phrase it is asked for."""

    name = "counting"

    def __init__(self, factor: float = 1.0) -> None:
        self.factor = factor
        self.asked: list[tuple[str, float]] = []

    def speak(
        self, phrases: Sequence[str], voice: str, seconds_per_word: float, seed: int
    ) -> tuple[list[Samples], int]:
        self.asked += [(phrase, seconds_per_word) for phrase in phrases]
        return [self._tone(phrase, seconds_per_word) for phrase in phrases], 22_050

    def phrase_setting(self, voice: str, seconds_per_word: float) -> str | None:
        return repr(seconds_per_word)

    def _tone(self, phrase: str, seconds_per_word: float) -> Samples:
        count = round(len(phrase.split()) * seconds_per_word * self.factor * 22_050)
        pitch = 110 + sum(phrase.encode()) % 300  # Hz
        return frozen(0.3 + 0.2 * np.sin(2 * np.pi * pitch * np.arange(count) / 22_050))

    def phrases(self) -> list[str]:
        return [phrase for phrase, _ in self.asked]


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingEngine:
    engine = CountingEngine()
    monkeypatch.setattr(synthesis, "_worker_engines", {})
    monkeypatch.setattr(synthesis, "start_engine", lambda name: engine)
    return engine


def spoken(text: str, rate: int = 150) -> SpeechRequest:
    return SpeechRequest("counting", "counting:one", rate, text)


ANNA, BERT = spoken("Welcome, Anna. Rest here."), spoken("Welcome, Bert. Rest here.")


def clip_bytes(request: SpeechRequest, root: Path) -> bytes:
    """The cache entry of the request made in this process into the cache at root."""
    synthesize_all([request], ClipCache(root), workers=0)
    return ClipCache(root).path(request).read_bytes()


def phrase_entry(request: SpeechRequest, text: str, root: Path) -> Path:
    """Where the store at root keeps a phrase of the request as its first reading speaks it."""
    speed = pace(request.text, request.rate, request.sentence_pause).seconds_per_word
    return PhraseStore(root).path(PhraseRequest("counting", request.voice, text, repr(speed)))


def test_an_utterance_asks_the_engine_only_for_the_phrases_not_kept(
    counting: CountingEngine, tmp_path: Path
) -> None:
    clip_bytes(ANNA, tmp_path / "cache")
    assert counting.phrases() == ["Welcome,", "Anna.", "Rest here."]
    counting.asked.clear()
    warm = clip_bytes(BERT, tmp_path / "cache")
    assert counting.phrases() == ["Bert."]
    counting.asked.clear()
    assert clip_bytes(BERT, tmp_path / "empty") == warm  # the same bytes from an empty cache
    assert counting.phrases() == ["Welcome,", "Bert.", "Rest here."]
    assert phrase_entry(BERT, "Bert.", tmp_path / "cache").is_file()


def test_a_phrase_at_another_speed_is_spoken_again(
    counting: CountingEngine, tmp_path: Path
) -> None:
    clip_bytes(ANNA, tmp_path / "cache")
    counting.asked.clear()
    clip_bytes(spoken(ANNA.text, rate=100), tmp_path / "cache")  # slower: every phrase anew
    assert counting.phrases() == ["Welcome,", "Anna.", "Rest here."]
    assert len({speed for _, speed in counting.asked}) == 1


def test_a_reading_again_at_a_corrected_speed_asks_again(
    counting: CountingEngine, tmp_path: Path
) -> None:
    counting.factor = 0.6  # far off its calibration: one phrase, no pause to give, read twice
    text = "Take a moment to notice how the hips feel now."
    clip_bytes(spoken(text), tmp_path / "cache")
    assert counting.phrases() == [text, text]
    assert len({speed for _, speed in counting.asked}) == 2  # the second: a new speed, asked


def _torn(entry: bytes, other: bytes) -> bytes:
    return entry[:-3]


def _flipped(entry: bytes, other: bytes) -> bytes:
    return entry[:-1] + bytes([entry[-1] ^ 0x01])  # one sample changed: the digest fails


def _another_phrase(entry: bytes, other: bytes) -> bytes:
    return other  # a whole, sound entry of another phrase under this one's key


@pytest.mark.parametrize("damage", [_torn, _flipped, _another_phrase])
def test_a_damaged_phrase_entry_is_spoken_again_and_the_clip_is_unchanged(
    damage: Callable[[bytes, bytes], bytes], counting: CountingEngine, tmp_path: Path
) -> None:
    expected = clip_bytes(BERT, tmp_path / "empty")
    clip_bytes(ANNA, tmp_path / "cache")
    entry = phrase_entry(ANNA, "Rest here.", tmp_path / "cache")
    other = phrase_entry(ANNA, "Welcome,", tmp_path / "cache").read_bytes()
    entry.write_bytes(damage(entry.read_bytes(), other))
    counting.asked.clear()
    assert clip_bytes(BERT, tmp_path / "cache") == expected
    assert counting.phrases() == ["Bert.", "Rest here."]
    assert PhraseStore(tmp_path / "cache").load(
        PhraseRequest("counting", BERT.voice, "Rest here.", repr(counting.asked[0][1]))
    )  # kept again, whole


def phrases_is_a_file(tmp: Path) -> Path:
    write(tmp / "cache" / "phrases", "a file, not a folder")
    return tmp / "cache"


@pytest.mark.parametrize("broken", [phrases_is_a_file, under_a_file])
def test_a_phrase_store_that_cannot_be_written_only_costs_time(
    broken: Callable[[Path], Path], counting: CountingEngine, tmp_path: Path
) -> None:
    clip_bytes(BERT, tmp_path / "good")
    expected = ClipCache(tmp_path / "good").load(BERT)
    assert expected is not None
    cache = broken(tmp_path)
    for request, name in ((ANNA, "Anna."), (BERT, "Bert.")):
        counting.asked.clear()
        clips = synthesize_all([request], ClipCache(cache), workers=0)
        assert counting.phrases() == ["Welcome,", name, "Rest here."]  # none kept: all spoken
    assert np.array_equal(clips[BERT].samples, expected.samples)
    assert clips[BERT].phrases == expected.phrases
    assert not list(cache.rglob("*.phrase"))
    assert not list(tmp_path.rglob("*.part"))


def test_a_phrase_key_changes_with_each_field_and_a_phrase_entry_is_not_a_clip(
    tmp_path: Path,
) -> None:
    phrase = PhraseRequest("piper", "piper:joe", "Rest here.", repr(1.25))
    others = [
        PhraseRequest("pyttsx3", "piper:joe", "Rest here.", repr(1.25)),
        PhraseRequest("piper", "piper:other", "Rest here.", repr(1.25)),
        PhraseRequest("piper", "piper:joe", "Rest here!", repr(1.25)),
        PhraseRequest("piper", "piper:joe", "Rest here.", repr(1.2500000000000002)),
    ]
    assert len({phrase.key, *(other.key for other in others)}) == 5
    store = PhraseStore(tmp_path)
    pcm = np.arange(-500, 500, dtype=np.int16)
    store.store(phrase, StoredPhrase(pcm, 22_050))
    loaded = store.load(phrase)
    assert loaded is not None
    assert loaded.sample_rate == 22_050
    assert np.array_equal(loaded.pcm, pcm)
    assert store.path(phrase).relative_to(tmp_path).parts[0] == "phrases"
    clips = ClipCache(tmp_path)
    clips.path(REQUEST).parent.mkdir(parents=True)
    clips.path(REQUEST).write_bytes(store.path(phrase).read_bytes())  # its magic is a phrase's
    assert clips.load(REQUEST) is None


def test_a_kept_phrase_at_another_rate_than_the_engine_speaks_is_not_used(
    counting: CountingEngine, tmp_path: Path
) -> None:
    """A voice whose model was replaced under the same path: its phrases are all spoken anew."""
    expected = clip_bytes(BERT, tmp_path / "empty")
    speed = pace(BERT.text, BERT.rate, BERT.sentence_pause).seconds_per_word
    phrase = PhraseRequest("counting", BERT.voice, "Welcome,", repr(speed))
    PhraseStore(tmp_path / "cache").store(phrase, StoredPhrase(np.ones(16_000, np.int16), 16_000))
    counting.asked.clear()
    assert clip_bytes(BERT, tmp_path / "cache") == expected
    assert counting.phrases()[-3:] == ["Welcome,", "Bert.", "Rest here."]  # all, once more
