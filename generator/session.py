"""The pipeline, stage after stage: recipe → script → cues → speech → timeline → mix → export.

Each function here hands one stage's output to the next; no stage reaches back. The CLI calls
``prepare`` then either ``estimate`` (a timed plan, no audio) or ``render``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from generator import __version__
from generator.audio import SAMPLE_RATE, Samples, db_to_gain, frozen, load_sound
from generator.cues import Bell, Cue, Speech, Window, parse_cues
from generator.errors import MarkupError, OutputError, SettingsError
from generator.export import encode_mp3, ffmpeg_path, staged, timeline_json, webvtt
from generator.library import Library
from generator.mix import BLOCK_SECONDS, mix_blocks, mix_gain
from generator.recipe import Recipe, Settings, apply_overrides, load_recipe
from generator.script import render_script
from generator.speech import ClipCache, SpeechRequest, resolve_voice, start_engine, synthesize_all
from generator.timeline import ClipRef, Timeline, build_timeline

# Bells are levelled by their energy (RMS over the whole sound), not their peak, so a bright
# chime and a low bowl sound about as loud. Rendered and measured with ffmpeg's ebur128: bowl
# -26.5 LUFS, chime -25.5 LUFS, under eSpeak's voice at -22 LUFS. They invite, not startle.
BELL_RMS_DB = -26.0
BELL_PEAK_LIMIT_DB = -3.0  # a sound with a sharp attack is turned down further: no bell clips
# Speech length without audio, fitted (least squares) to eSpeak NG's clips of hip-release at
# rate 145: 0.334 s a word (its words run 0.8 x 60/rate) plus 0.23 s a sentence; 0.5% off in total.
ESTIMATE_WORD_FACTOR = Fraction(4, 5)
ESTIMATE_PAUSE_PER_SENTENCE = Fraction(23, 100)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class Prepared:
    """A session up to its cues: everything that needs no audio."""

    recipe: Recipe
    cues: tuple[Cue, ...]

    @property
    def settings(self) -> Settings:
        return self.recipe.settings


@dataclass(frozen=True)
class Rendered:
    timeline: Timeline
    files: tuple[Path, ...]
    clips_made: int


def prepare(session: str, library: Library, overrides: Mapping[str, str] | None = None) -> Prepared:
    """Recipe, script and cues for SESSION; raises the project's errors for any bad input."""
    recipe = apply_overrides(load_recipe(library.find_session(session)), overrides or {})
    script = render_script(recipe, library.template_dirs)
    unknown = [
        key
        for key in recipe.overrides
        if key not in Settings.names() and key not in script.variables
    ]
    if unknown:
        raise SettingsError(
            f"--set {unknown[0]}: no setting or template variable of that name",
            fix=f"Settings: {', '.join(Settings.names())}; this session's variables: "
            f"{', '.join(sorted(script.variables)) or 'none'}.",
        )
    cues = parse_cues(script.lines)
    default_bell = recipe.settings.bell
    cues = tuple(
        replace(cue, sound=default_bell) if isinstance(cue, Bell) and not cue.sound else cue
        for cue in cues
    )
    return Prepared(recipe, cues)


def bells_used(prepared: Prepared, library: Library) -> dict[str, Samples]:
    """The bells the cues ring, at the bell level; an unknown name is a markup error at its line."""
    available = library.sounds()
    bells: dict[str, Samples] = {}
    for cue in prepared.cues:
        if not isinstance(cue, Bell) or cue.sound in bells:
            continue
        if cue.sound not in available:
            raise MarkupError(
                f"unknown bell {cue.sound!r}",
                where=cue.source,
                fix=f"Sounds: {', '.join(available) or 'none'} (files in sounds/).",
            )
        sound = load_sound(available[cue.sound], SAMPLE_RATE)
        bells[cue.sound] = _levelled(sound)
    return bells


def _bell_id(name: str) -> str:
    """The id a bell's samples go by in the mix (speech clips go by their cache key)."""
    return f"bell:{name}"


def _levelled(sound: Samples) -> Samples:
    rms = float(np.sqrt(np.mean(np.square(sound, dtype=np.float64)))) if sound.size else 0.0
    if rms == 0.0:
        return sound
    peak = float(np.max(np.abs(sound)))
    gain = min(db_to_gain(BELL_RMS_DB) / rms, db_to_gain(BELL_PEAK_LIMIT_DB) / peak)
    return frozen(sound * gain)


def estimate(prepared: Prepared, library: Library) -> Timeline:
    """The session's timeline with speech lengths estimated from word counts: no audio is made."""
    bells = bells_used(prepared, library)
    rate = prepared.settings.rate

    def clip_of(cue: Speech | Window | Bell) -> ClipRef:
        if isinstance(cue, Bell):
            return ClipRef(_bell_id(cue.sound), bells[cue.sound].size)
        words = len(cue.text.split())
        sentences = max(1, sum(cue.text.count(mark) for mark in ".?!"))
        seconds = words * ESTIMATE_WORD_FACTOR * 60 / rate + sentences * ESTIMATE_PAUSE_PER_SENTENCE
        return ClipRef(f"estimate:{cue.text}", round(seconds * SAMPLE_RATE))

    return build_timeline(
        prepared.recipe.title, prepared.cues, prepared.settings, clip_of, SAMPLE_RATE
    )


def speech_requests(
    prepared: Prepared, engine: str, voice: str
) -> dict[Speech | Window, SpeechRequest]:
    rate = prepared.settings.rate
    return {
        cue: SpeechRequest(engine, voice, rate, cue.text)
        for cue in prepared.cues
        if isinstance(cue, Speech | Window) and cue.text
    }


def render(
    prepared: Prepared,
    library: Library,
    output: Path,
    cache: ClipCache,
    progress: Progress | None = None,
) -> Rendered:
    """Synthesise, place, mix and encode the session into output (.mp3) and its sidecars."""
    report = progress or (lambda stage, done, total: None)
    if output.suffix.lower() != ".mp3":  # the sidecars take the same stem: x.json would collide
        raise OutputError(f"{output} does not end in .mp3", fix="Name the output like session.mp3.")
    ffmpeg_path()  # fail before minutes of work if the encoder is missing
    bells = bells_used(prepared, library)
    engine = start_engine()
    voice = resolve_voice(engine, prepared.settings.voice)
    requests = speech_requests(prepared, engine.name, voice)
    distinct = len(set(requests.values()))
    made = 0

    def clip_done(count: int) -> None:
        nonlocal made
        made += count
        report("Speaking", made, distinct)

    clips = synthesize_all(requests.values(), cache, on_clip=clip_done)
    audio: dict[str, Samples] = {_bell_id(name): sound for name, sound in bells.items()}
    audio.update({request.key: clips[request] for request in requests.values()})

    def clip_of(cue: Speech | Window | Bell) -> ClipRef:
        key = _bell_id(cue.sound) if isinstance(cue, Bell) else requests[cue].key
        return ClipRef(key, audio[key].size)

    timeline = build_timeline(
        prepared.recipe.title, prepared.cues, prepared.settings, clip_of, SAMPLE_RATE
    )
    files = (output, output.with_suffix(".json"), output.with_suffix(".vtt"))
    with staged(files) as (mp3, json_path, vtt_path):
        gain = mix_gain(timeline, audio)
        blocks = len(range(0, timeline.length, SAMPLE_RATE * BLOCK_SECONDS))

        def counted() -> Iterator[Samples]:
            for index, block in enumerate(mix_blocks(timeline, audio, gain), 1):
                report("Encoding", index, blocks)
                yield block

        encode_mp3(counted(), SAMPLE_RATE, mp3, _tags(prepared.recipe))
        json_path.write_text(timeline_json(timeline), encoding="utf-8")
        vtt_path.write_text(webvtt(timeline), encoding="utf-8")
    return Rendered(timeline, files, made)


def _tags(recipe: Recipe) -> dict[str, str]:
    return {
        "title": recipe.title,
        "artist": "Stillpoint",
        "album": "Stillpoint",
        "comment": recipe.description,
        "encoded_by": f"Stillpoint {__version__}",
    }
