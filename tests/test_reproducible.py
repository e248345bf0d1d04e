"""The same inputs, settings and voice give the same bytes: the MP3 and every file beside it.

From a warm speech cache, and from an empty one too: each engine makes a clip from its request
alone (eSpeak NG in a new process per clip, piper with a session seeded from the request), so
which worker made which clip, and what it made before, does not matter. Each render is its own
process, so Python's string hashing differs between them as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.speech.cache import SpeechRequest
from generator.speech.synthesis import synthesize_one
from generator.speech.voices import piper_installed, start_engine
from tests.conftest import write
from tests.test_faults import ESPEAK, start

pytestmark = pytest.mark.e2e

SCRIPT = """\
[chapter Arriving]
[bell chime]
Welcome. Settle in, and let the hips be heavy.

[prompt] What do the hips hold today?
[pause 2s]
[chapter Breath]
[for 4s] Breathe in.
[for 4s] Breathe out.
[bell]
Rest now. Sentences joined: one. Two.
"""


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def render_all(script: Path, jobs: list[tuple[Path, Path]], voice: str) -> None:
    """Render script once per (output folder, cache), all at the same time."""
    running = [start(script, folder / "s.mp3", cache, "--voice", voice) for folder, cache in jobs]
    for process in running:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr


def test_renders_are_byte_identical_from_a_warm_cache_and_from_empty_ones(tmp_path: Path) -> None:
    script = write(tmp_path / "s.txt", SCRIPT)
    cold, other_cold, warm = tmp_path / "cold", tmp_path / "cold2", tmp_path / "warm"
    render_all(script, [(cold, tmp_path / "cache"), (other_cold, tmp_path / "cache2")], ESPEAK)
    render_all(script, [(warm, tmp_path / "cache")], ESPEAK)
    made = files(cold)
    assert sorted(made) == ["s.json", "s.lrc", "s.mp3", "s.prompts.txt", "s.vtt"]
    assert files(other_cold) == made
    assert files(warm) == made


@pytest.mark.skipif(not piper_installed(), reason="the piper extra is not installed")
def test_piper_renders_from_empty_caches_are_byte_identical(tmp_path: Path) -> None:
    script = write(tmp_path / "s.txt", SCRIPT)
    jobs = [(tmp_path / name, tmp_path / f"cache-{name}") for name in ("a", "b")]
    render_all(script, jobs, "piper:joe")
    assert files(jobs[0][0]) == files(jobs[1][0])


@pytest.mark.parametrize(
    "voice",
    [
        ESPEAK,
        pytest.param(
            "piper:joe", marks=pytest.mark.skipif(not piper_installed(), reason="no piper extra")
        ),
    ],
)
def test_what_an_engine_said_before_does_not_change_the_next_clip(voice: str) -> None:
    engine = start_engine(voice.split(":", 1)[0])
    said = [
        synthesize_one(engine, SpeechRequest(engine.name, voice, 150, text))[0].tobytes()
        for text in ("Rest here.", "Something else first, and longer.", "Rest here.")
    ]
    assert said[0] == said[2]
