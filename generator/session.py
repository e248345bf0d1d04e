"""The pipeline, stage after stage: recipe → script → cues → speech → timeline → mix → export.

Each function here hands one stage's output to the next; no stage reaches back. The CLI calls
``prepare`` then either ``estimate`` (a timed plan, no audio) or ``render``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from generator import __version__
from generator.audio import SAMPLE_RATE, Samples, db_to_gain, frozen, load_sound
from generator.breathing import ToneKind
from generator.cues import DEFAULT, NO_BELL, Bell, Cue, Pause, VoiceChange, map_cues, walk
from generator.durations import MAX_SECONDS
from generator.errors import MarkupError, OutputError, SettingsError, Source, StillpointError
from generator.export import encode_mp3, ffmpeg_path, staged, timeline_json, webvtt
from generator.fitting import TimelineAt, fit, length_range
from generator.lexicon import Lexicon, load_lexicons
from generator.library import Library
from generator.markup import parse_cues
from generator.mix import BLOCK_SECONDS, mix_blocks, mix_gain
from generator.recipe import Recipe, Settings, apply_overrides, load_recipe
from generator.script import render_script
from generator.speech import ClipCache, SpeechRequest, synthesize_all
from generator.timeline import ClipRef, ClipSource, Timeline, build_timeline
from generator.tones import breath_tone, tone_id
from generator.voices import installed_engines, resolve_voice

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
    lexicons: Mapping[str, Lexicon] = field(default_factory=dict)  # engine -> its lexicon

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
    recipe, cues = _with_voices(recipe, cues)
    lexicons = load_lexicons(library.lexicon_files, installed_engines())
    return Prepared(recipe, cues, lexicons)


def _with_voices(recipe: Recipe, cues: tuple[Cue, ...]) -> tuple[Recipe, tuple[Cue, ...]]:
    """The session's voice and every [voice] resolved to a full ENGINE:NAME id, or an error."""
    settings = replace(recipe.settings, voice=resolve_voice(recipe.settings.voice))

    def resolved(cue: Cue) -> Cue:
        if not isinstance(cue, VoiceChange) or cue.voice.lower() == DEFAULT:
            return cue
        try:
            return replace(cue, voice=resolve_voice(cue.voice))
        except StillpointError as error:  # unknown voice, or the piper extra missing
            raise MarkupError(error.what, where=cue.source, fix=error.fix) from None

    return replace(recipe, settings=settings), map_cues(cues, resolved)


def speech_request(
    text: str, voice: str, rate: int, lexicons: Mapping[str, Lexicon]
) -> SpeechRequest:
    """What the engine is asked to say: the text as its lexicon respells it."""
    engine = voice.split(":", 1)[0]
    lexicon = lexicons.get(engine)
    spoken = lexicon.respell(text) if lexicon else text
    return SpeechRequest(engine, voice, rate, spoken)


def target_seconds(minutes: float | None) -> Fraction | None:
    """The total length asked for with --minutes, validated; None when not asked."""
    if minutes is None:
        return None
    if not (0 < minutes <= MAX_SECONDS / 60) or minutes != minutes:  # NaN fails both
        raise SettingsError(
            f"--minutes {minutes:g} is not a session length",
            fix=f"Give a number of minutes above 0 and at most {MAX_SECONDS // 60}.",
        )
    return Fraction(str(minutes)) * 60


def _bell_sources(prepared: Prepared) -> dict[str, Source]:
    """Each bell the session rings, with the first line that rings it."""
    default = prepared.settings.bell
    found: dict[str, Source] = {}
    for cue in walk(prepared.cues):
        if isinstance(cue, Bell):
            name = cue.sound or default
        elif isinstance(cue, Pause) and cue.bells is not None:
            name = cue.bells.sound or default
        else:
            continue
        if name != NO_BELL:
            found.setdefault(name, cue.source)
    return found


def bells_used(prepared: Prepared, library: Library) -> dict[str, Samples]:
    """The bells the cues ring, at the bell level; an unknown name is a markup error at its line."""
    available = library.sounds()
    bells: dict[str, Samples] = {}
    for name, source in _bell_sources(prepared).items():
        if name not in available:
            raise MarkupError(
                f"unknown bell {name!r}",
                where=source,
                fix=f"Sounds: {', '.join(available) or 'none'} (files in sounds/), or none.",
            )
        bells[name] = _levelled(load_sound(available[name], SAMPLE_RATE))
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


class _EstimatedClips:
    """Clip lengths without audio: speech estimated from its words, bells and tones exact."""

    def __init__(self, bells: Mapping[str, Samples]) -> None:
        self.bells = bells

    def speech(self, text: str, voice: str, rate: int) -> ClipRef:
        words = len(text.split())
        sentences = max(1, sum(text.count(mark) for mark in ".?!"))
        seconds = words * ESTIMATE_WORD_FACTOR * 60 / rate + sentences * ESTIMATE_PAUSE_PER_SENTENCE
        return ClipRef(f"estimate:{voice}:{rate}:{text}", round(seconds * SAMPLE_RATE))

    def bell(self, name: str) -> ClipRef:
        return ClipRef(_bell_id(name), self.bells[name].size)

    def tone(self, kind: ToneKind, samples: int) -> ClipRef:
        return ClipRef(tone_id(kind, samples), samples)


def _timelines(prepared: Prepared, clips: ClipSource) -> TimelineAt:
    def timeline_at(stretch: Fraction) -> Timeline:
        return build_timeline(
            prepared.recipe.title, prepared.cues, prepared.settings, clips, SAMPLE_RATE, stretch
        )

    return timeline_at


def estimate(prepared: Prepared, library: Library, target: Fraction | None = None) -> Timeline:
    """The session's timeline with speech lengths estimated from word counts: no audio is made."""
    timeline_at = _timelines(prepared, _EstimatedClips(bells_used(prepared, library)))
    return fit(timeline_at, target) if target is not None else timeline_at(Fraction(0))


def estimated_range(prepared: Prepared, library: Library) -> tuple[Fraction, Fraction]:
    """The shortest and longest the session can be made with --minutes (estimated)."""
    return length_range(_timelines(prepared, _EstimatedClips(bells_used(prepared, library))))


class _RenderClips:
    """Real audio: bells, tones made on demand, speech from the cache or synthesised in batches.

    Speech the timeline asks for that has no clip yet (at first all of it; later an announcement
    whose words changed with the stretch) is noted and given an estimated length; ``complete``
    synthesises what was noted, all at once and in parallel.
    """

    def __init__(
        self,
        prepared: Prepared,
        bells: Mapping[str, Samples],
        cache: ClipCache,
        report: Progress,
    ) -> None:
        self.lexicons = prepared.lexicons
        self.volume = float(prepared.settings.volume)
        self.cache = cache
        self.report = report
        self.estimated = _EstimatedClips(bells)
        self.audio: dict[str, Samples] = {_bell_id(name): sound for name, sound in bells.items()}
        self.requests: dict[tuple[str, str, int], SpeechRequest] = {}  # what has a clip
        self.missing: dict[SpeechRequest, tuple[str, str, int]] = {}
        self.made = 0

    def speech(self, text: str, voice: str, rate: int) -> ClipRef:
        request = self.requests.get((text, voice, rate))
        if request is None:
            self.missing[speech_request(text, voice, rate, self.lexicons)] = (text, voice, rate)
            return self.estimated.speech(text, voice, rate)
        return ClipRef(request.key, self.audio[request.key].size, request.text)

    def bell(self, name: str) -> ClipRef:
        return ClipRef(_bell_id(name), self.audio[_bell_id(name)].size)

    def tone(self, kind: ToneKind, samples: int) -> ClipRef:
        key = tone_id(kind, samples)
        if key not in self.audio:
            self.audio[key] = breath_tone(kind, samples, SAMPLE_RATE)
        return ClipRef(key, samples)

    def complete(self) -> bool:
        """Synthesise the speech asked for since the last call; False when there was none."""
        if not self.missing:
            return False
        missing, self.missing = self.missing, {}
        total = self.made + len(missing)

        def clip_done(count: int) -> None:
            self.made += count
            self.report("Speaking", self.made, total)

        clips = synthesize_all(missing, self.cache, on_clip=clip_done)
        for request, said in missing.items():
            clip = clips[request]
            self.audio[request.key] = frozen(clip * self.volume) if self.volume != 1 else clip
            self.requests[said] = request
        return True


def render(
    prepared: Prepared,
    library: Library,
    output: Path,
    cache: ClipCache,
    progress: Progress | None = None,
    target: Fraction | None = None,
) -> Rendered:
    """Synthesise, place, mix and encode the session into output (.mp3) and its sidecars."""
    report = progress or (lambda stage, done, total: None)
    if output.suffix.lower() != ".mp3":  # the sidecars take the same stem: x.json would collide
        raise OutputError(f"{output} does not end in .mp3", fix="Name the output like session.mp3.")
    ffmpeg_path()  # fail before minutes of work if the encoder is missing
    clips = _RenderClips(prepared, bells_used(prepared, library), cache, report)
    build = _timelines(prepared, clips)

    def timeline_at(stretch: Fraction) -> Timeline:
        timeline = build(stretch)
        while clips.complete():  # placed with estimates: place again with the real clips
            timeline = build(stretch)
        return timeline

    timeline = fit(timeline_at, target) if target is not None else timeline_at(Fraction(0))
    files = (output, output.with_suffix(".json"), output.with_suffix(".vtt"))
    with staged(files) as (mp3, json_path, vtt_path):
        gain = mix_gain(timeline, clips.audio)
        blocks = len(range(0, timeline.length, SAMPLE_RATE * BLOCK_SECONDS))

        def counted() -> Iterator[Samples]:
            for index, block in enumerate(mix_blocks(timeline, clips.audio, gain), 1):
                report("Encoding", index, blocks)
                yield block

        encode_mp3(counted(), SAMPLE_RATE, mp3, _tags(prepared.recipe), timeline.channels)
        json_path.write_text(timeline_json(timeline), encoding="utf-8")
        vtt_path.write_text(webvtt(timeline), encoding="utf-8")
    return Rendered(timeline, files, clips.made)


def _tags(recipe: Recipe) -> dict[str, str]:
    return {
        "title": recipe.title,
        "artist": "Stillpoint",
        "album": "Stillpoint",
        "comment": recipe.description,
        "encoded_by": f"Stillpoint {__version__}",
    }
