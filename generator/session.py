"""The pipeline, stage after stage: recipe → script → cues → speech → timeline → mix → export.

Each function here hands one stage's output to the next; no stage reaches back. The CLI calls
``prepare`` then either ``estimate`` (a timed plan, no audio) or ``render``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from generator import __version__
from generator.audio import SAMPLE_RATE, Samples
from generator.clips import EstimatedClips, RenderClips, bells_used
from generator.cues import DEFAULT, Cue, VoiceChange, map_cues
from generator.durations import MAX_SECONDS
from generator.errors import MarkupError, OutputError, SettingsError, StillpointError
from generator.export import encode_mp3, ffmpeg_path, staged, timeline_json, webvtt
from generator.fitting import TimelineAt, fit, length_range, seconds
from generator.lexicon import Lexicon, load_lexicons
from generator.library import Library
from generator.markup import parse_cues
from generator.mix import BLOCK_SECONDS, mix_blocks, mix_gain
from generator.recipe import Recipe, Settings, apply_overrides, load_recipe
from generator.script import render_script
from generator.speech import ClipCache
from generator.timeline import ClipSource, Timeline, build_timeline
from generator.voices import installed_engines, resolve_voice

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
    known: dict[str, str] = {}  # a [voice] in a loop is looked up once

    def resolved(cue: Cue) -> Cue:
        if not isinstance(cue, VoiceChange) or cue.voice.lower() == DEFAULT:
            return cue
        try:
            if cue.voice not in known:
                known[cue.voice] = resolve_voice(cue.voice)
            return replace(cue, voice=known[cue.voice])
        except StillpointError as error:  # unknown voice, or the piper extra missing
            raise MarkupError(error.what, where=cue.source, fix=error.fix) from None

    return replace(recipe, settings=settings), map_cues(cues, resolved)


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


def _timelines(prepared: Prepared, clips: ClipSource) -> TimelineAt:
    def timeline_at(stretch: Fraction) -> Timeline:
        return build_timeline(
            prepared.recipe.title, prepared.cues, prepared.settings, clips, SAMPLE_RATE, stretch
        )

    return timeline_at


def estimate(prepared: Prepared, library: Library, target: Fraction | None = None) -> Timeline:
    """The session's timeline with speech lengths estimated from word counts: no audio is made."""
    timeline_at = _timelines(prepared, _estimated(prepared, library))
    return fit(timeline_at, target) if target is not None else timeline_at(Fraction(0))


def estimated_lengths(prepared: Prepared, library: Library) -> tuple[Fraction, Fraction, Fraction]:
    """The shortest, usual and longest length of the session (estimated; --minutes' range)."""
    timeline_at = _timelines(prepared, _estimated(prepared, library))
    shortest, longest = length_range(timeline_at)
    return shortest, seconds(timeline_at(Fraction(0))), longest


def _estimated(prepared: Prepared, library: Library) -> EstimatedClips:
    return EstimatedClips(bells_used(prepared.cues, prepared.settings.bell, library))


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
    settings = prepared.settings
    clips = RenderClips(
        bells_used(prepared.cues, settings.bell, library),
        prepared.lexicons,
        float(settings.volume),
        cache,
        lambda made, total: report("Speaking", made, total),
    )
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
