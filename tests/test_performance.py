"""Guards for the performance issue that cannot flake: work and memory counted, not timed.

- The mix is linear in the session's length and streams: a session twice as long costs twice
  the clip fetches, and mixing it needs no more memory (tracemalloc's peak).
- A one-line edit re-synthesises exactly one clip (real eSpeak NG, a fresh cache).
`make bench` measures the seconds (README, "Performance").
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from generator.base.samples import SAMPLE_RATE, Samples, frozen
from generator.cli import app
from generator.markup.breathing import ToneKind
from generator.markup.parser import parse_cues
from generator.recipes.catalogue import Catalogue
from generator.recipes.overrides import Overrides
from generator.recipes.settings import Settings
from generator.session import prepare, render
from generator.sound.mix import BLOCK_SECONDS, mix_blocks
from generator.speech.cache import ClipCache
from generator.timeline.events import ClipRef, Timeline, ambience_id
from generator.timeline.placement import build_timeline
from tests.conftest import lines, write

ESPEAK = "pyttsx3:gmw/en-us"

# One minute of a typical session: speech, breath windows, a bell, a pause, under a bed.
MINUTE = """\
Let the weight of the body sink into the floor.

Soften the jaw.
[for 4s] Breathe in.
[for 4s] Hold.
[for 6s] Breathe out.
[bell chime]
[pause 36s]
"""


class FakeClips:
    """Constant-level clips of fixed lengths, kept for the mixer: no synthesis."""

    def __init__(self) -> None:
        self.audio: dict[str, Samples] = {ambience_id("brown"): frozen(np.full(1000, 0.01))}

    def _clip(self, key: str, seconds: float) -> ClipRef:
        samples = round(seconds * SAMPLE_RATE)
        self.audio.setdefault(key, frozen(np.full(samples, 0.1)))
        return ClipRef(key, samples)

    def speech(self, text: str, voice: str, rate: int) -> ClipRef:
        return self._clip(text, 0.3 * len(text.split()))

    def bell(self, name: str) -> ClipRef:
        return self._clip(f"bell:{name}", 3.5)

    def tone(self, kind: ToneKind, samples: int) -> ClipRef:
        return self._clip(f"tone:{kind}:{samples}", samples / SAMPLE_RATE)


def session(minutes: int) -> tuple[Timeline, Mapping[str, Samples]]:
    clips = FakeClips()
    cues = parse_cues(lines("[ambience brown]\n" + MINUTE * minutes))
    timeline = build_timeline("T", cues, Settings(), clips, SAMPLE_RATE)
    return timeline, clips.audio


class CountingAudio(Mapping[str, Samples]):
    """The mixer's clips, counting every time one is fetched: once per block it sounds in."""

    def __init__(self, audio: Mapping[str, Samples]) -> None:
        self.audio = audio
        self.fetched = 0

    def __getitem__(self, key: str) -> Samples:
        self.fetched += 1
        return self.audio[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.audio)

    def __len__(self) -> int:
        return len(self.audio)


def counted_mix(timeline: Timeline, audio: Mapping[str, Samples]) -> tuple[int, int, int]:
    """Blocks yielded, samples yielded, and clips fetched while mixing."""
    counting = CountingAudio(audio)
    blocks = samples = 0
    for block in mix_blocks(timeline, counting):
        blocks += 1
        samples += block.size
    return blocks, samples, counting.fetched


def test_mixing_twice_the_session_is_twice_the_work() -> None:
    short, short_audio = session(2)
    long, long_audio = session(4)
    assert long.length == pytest.approx(2 * short.length, rel=0.02)  # the lead-in and tail
    short_blocks, short_samples, short_fetched = counted_mix(short, short_audio)
    long_blocks, long_samples, long_fetched = counted_mix(long, long_audio)
    assert (short_samples, long_samples) == (short.length, long.length)
    block = BLOCK_SECONDS * SAMPLE_RATE
    assert (short_blocks, long_blocks) == (-(-short.length // block), -(-long.length // block))
    # A sound is mixed into the blocks it overlaps: one kept among the active ones after it ended
    # (or every sound visited in every block) would make the longer session cost about 4 times.
    assert short_fetched >= sum(1 for event in short.events if event.clip)
    assert long_fetched <= 2.2 * short_fetched


def peak_bytes_mixing(timeline: Timeline, audio: Mapping[str, Samples]) -> int:
    """The most memory allocated at once while the mix is consumed block by block."""
    tracemalloc.start()
    try:
        for _block in mix_blocks(timeline, audio):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_mixing_memory_does_not_grow_with_the_length() -> None:
    short, short_audio = session(2)
    long, long_audio = session(4)
    short_peak = peak_bytes_mixing(short, short_audio)
    long_peak = peak_bytes_mixing(long, long_audio)
    # Mixing holds one block and its working arrays (float64 gains for the bed), however long
    # the session: mixing the whole would take another 2 minutes of float32 (about 21 MB) here.
    block_bytes = BLOCK_SECONDS * SAMPLE_RATE * 4  # one float32 block: 1.8 MB
    assert long_peak < short_peak + block_bytes // 10


runner = CliRunner()

SCRIPT = """\
Settle in and let the body be heavy.
[pause 1s]
Soften the jaw and the shoulders.
[bell chime]
Rest here for a moment.
[pause 1s]
Now slowly come back.
"""


@pytest.mark.e2e
def test_a_one_line_edit_synthesises_one_clip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STILLPOINT_CACHE", str(tmp_path / "cache"))  # empty: every clip is new
    script = write(tmp_path / "s.txt", SCRIPT)
    command = ["render", str(script), "-o", str(tmp_path / "s.mp3"), "--voice", ESPEAK]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "4 new speech clips" in first.output
    write(script, SCRIPT.replace("Soften the jaw", "Soften the brow"))
    edited = runner.invoke(app, command)
    assert edited.exit_code == 0, edited.output
    assert "1 new speech clip)" in edited.output  # a count agrees with its noun
    # The pipeline says the same: one more edit, one clip; no edit, none.
    write(script, SCRIPT.replace("Rest here", "Stay here"))
    prepared = prepare(str(script), Catalogue(), Overrides({"voice": ESPEAK}))
    cache = ClipCache(tmp_path / "cache")
    assert render(prepared, Catalogue(), tmp_path / "s.mp3", cache).clips_made == 1
    assert render(prepared, Catalogue(), tmp_path / "s.mp3", cache).clips_made == 0
