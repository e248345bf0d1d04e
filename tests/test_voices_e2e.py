"""Both engines end to end: real eSpeak NG and piper speech, ffmpeg, the MP3 decoded again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.speech.cache import ClipCache, SpeechRequest, default_cache_dir
from tests.conftest import check_audio_matches_timeline, write

pytestmark = pytest.mark.e2e
runner = CliRunner()

SHORT = """\
[bell chime]
Settle into a comfortable seat.
[pause 2s]
[for 5s] Breathe in slowly.
[for 5s] And out.
Let the hips be heavy.
"""


def render(script: Path, mp3: Path, *options: str) -> dict[str, Any]:
    result = runner.invoke(app, ["render", str(script), "-o", str(mp3), *options])
    assert result.exit_code == 0, result.output
    return dict(json.loads(mp3.with_suffix(".json").read_text()))


@pytest.mark.parametrize("voice", ["pyttsx3:gmw/en-us", "piper:joe"])
def test_each_engine_speaks_where_the_timeline_says(tmp_path: Path, voice: str) -> None:
    script = write(tmp_path / "short.txt", SHORT)
    mp3 = tmp_path / "short.mp3"
    timeline = render(script, mp3, "--voice", voice)
    speech = [e for e in timeline["events"] if e["kind"] == "speech"]
    assert {e["voice"].lower() for e in speech} == {voice}
    check_audio_matches_timeline(mp3, timeline)


def test_voices_and_paces_change_inside_one_script(tmp_path: Path) -> None:
    script = write(
        tmp_path / "mixed.txt",
        "[voice pyttsx3:gmw/en-us]\nThis is the system voice.\n[pause 1s]\n"
        "[voice piper:joe]\nAnd this is the natural voice.\n[pause 1s]\n"
        "[say slowly] The same words, more slowly.\n[pause 1s]\n"
        "The same words, more slowly.\n",
    )
    mp3 = tmp_path / "mixed.mp3"
    timeline = render(script, mp3)
    speech = [e for e in timeline["events"] if e["kind"] == "speech"]
    assert [(e["voice"].lower(), e["rate"]) for e in speech] == [
        ("pyttsx3:gmw/en-us", 120),
        ("piper:joe", 120),
        ("piper:joe", 96),  # [say slowly]: four fifths of the default 120
        ("piper:joe", 120),
    ]
    slow, usual = speech[2], speech[3]
    assert slow["end"] - slow["start"] > (usual["end"] - usual["start"]) * 1.1
    check_audio_matches_timeline(mp3, timeline)


def test_the_lexicon_changes_what_is_said_not_the_transcript(tmp_path: Path) -> None:
    scripts = tmp_path / "mine"
    write(scripts / "lexicon.toml", '[piper]\n"Stillpoint" = "Still point"\n')
    script = write(tmp_path / "hello.txt", "Welcome to Stillpoint, a quiet practice.\n")
    mp3 = tmp_path / "hello.mp3"
    timeline = render(script, mp3, "--scripts", str(scripts), "--voice", "piper:joe")
    (said,) = [e for e in timeline["events"] if e["kind"] == "speech"]
    assert said["text"] == "Welcome to Stillpoint, a quiet practice."
    assert said["spoken"] == "Welcome to Still point, a quiet practice."
    vtt = mp3.with_suffix(".vtt").read_text()
    assert "Welcome to Stillpoint, a quiet practice." in vtt
    assert "Still point" not in vtt
    # the engine was given the respelling: its clip is cached under that request
    asked = SpeechRequest("piper", "piper:joe", 120, said["spoken"])
    assert ClipCache(default_cache_dir()).path(asked).is_file()


def test_an_unknown_voice_in_a_script_names_its_line(tmp_path: Path) -> None:
    script = write(tmp_path / "bad.txt", "Hello.\n\n[voice klingon]\nGoodbye.\n")
    result = runner.invoke(app, ["render", str(script), "-o", str(tmp_path / "bad.mp3")])
    assert result.exit_code == 2
    assert result.output.startswith(f"stillpoint: error: {script}:3: unknown voice 'klingon'")
    assert "stillpoint voices" in result.output
    assert not (tmp_path / "bad.mp3").exists()


def test_piper_clips_are_the_same_whichever_worker_makes_them(tmp_path: Path) -> None:
    """Two workers, each with one long-lived session, in two orders: the same samples."""
    from generator.speech.synthesis import synthesize_all

    texts = ["Settle into a comfortable seat.", "Breathe in slowly.", "And out.", "Rest."]
    requests = [SpeechRequest("piper", "piper:joe", 120, text) for text in texts]
    first = synthesize_all(requests, ClipCache(tmp_path / "one"), workers=2)
    second = synthesize_all(requests[::-1], ClipCache(tmp_path / "two"), workers=2)
    assert all(first[r].samples.tobytes() == second[r].samples.tobytes() for r in requests)
    assert len({first[r].samples.tobytes() for r in requests}) == len(requests)


WELCOME = (
    "Welcome, {}. This is a short practice with pigeon pose, guided by voice. "
    "For this time, there is nowhere else you need to be."
)


def test_piper_speaks_only_the_phrases_with_a_new_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch row that differs by the name: only "Bert." is spoken, and the clip is the one an
    empty cache gives, byte for byte; a damaged phrase entry is spoken again, the clip unchanged."""
    import onnxruntime

    from generator.speech.synthesis import synthesize_all
    from generator.speech.voices import PiperEngine

    anna, bert = (
        SpeechRequest("piper", "piper:joe", 120, WELCOME.format(name)) for name in ("Anna", "Bert")
    )
    phrases: list[str] = []
    runs: list[int] = []
    speak, run = PiperEngine.speak, onnxruntime.InferenceSession.run

    def spoken(self: PiperEngine, said: list[str], *args: Any) -> Any:
        phrases.extend(said)
        return speak(self, said, *args)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(PiperEngine, "speak", spoken)
    monkeypatch.setattr(onnxruntime.InferenceSession, "run", counted)

    def made(request: SpeechRequest, root: Path) -> tuple[bytes, list[str], int]:
        phrases.clear()
        runs.clear()
        synthesize_all([request], ClipCache(root), workers=0)
        return ClipCache(root).path(request).read_bytes(), list(phrases), len(runs)

    made(anna, tmp_path / "warm")
    expected, every, cold_runs = made(bert, tmp_path / "empty")
    assert every[:2] == ["Welcome,", "Bert."]
    assert len(every) == 6  # its phrases, each spoken once from an empty cache
    clip, said, warm_runs = made(bert, tmp_path / "warm")
    assert said == ["Bert."]
    assert warm_runs * 4 <= cold_runs  # onnxruntime's runs: the front and decoder of one phrase
    assert clip == expected
    entry = next(
        path for path in (tmp_path / "warm").rglob("*.phrase") if b'"Welcome,"' in path.read_bytes()
    )
    entry.write_bytes(entry.read_bytes()[:-100])  # torn
    ClipCache(tmp_path / "warm").path(bert).unlink()
    clip, said, _ = made(bert, tmp_path / "warm")
    assert said == ["Welcome,"]
    assert clip == expected
