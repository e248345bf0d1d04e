"""The pipeline, stage after stage: recipe → script → cues → speech → timeline → mix → export.

Each function here hands one stage's output to the next; no stage reaches back. The CLI calls
``prepare`` then either ``estimate`` (a timed plan, no audio) or ``render``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from generator import __version__
from generator.base.durations import MAX_SECONDS
from generator.base.samples import SAMPLE_RATE, Samples
from generator.errors import (
    MarkupError,
    SettingsError,
    Source,
    StillpointError,
    located,
)
from generator.files.atomic import staged
from generator.files.ffmpeg import ffmpeg_path
from generator.files.userfiles import display_path
from generator.markup.cues import (
    DEFAULT,
    Bell,
    Cue,
    VoiceChange,
    check_session,
    map_cues,
    scaled_holds,
)
from generator.markup.parser import parse_cues
from generator.markup.templating import leave_out_orders, part_declarations, render_script
from generator.markup.variables import Variable
from generator.recipes.catalogue import Catalogue
from generator.recipes.config import setting_source
from generator.recipes.overrides import Overrides, apply_overrides
from generator.recipes.program import Program
from generator.recipes.recipe import Part, Recipe, load_recipe, without_parts
from generator.recipes.settings import Settings, suggested
from generator.sound.sources import (
    EstimatedClips,
    RenderClips,
    ambience_asked,
    ambience_used,
    bells_used,
    check_bell_setting,
    music_used,
)
from generator.speech.cache import ClipCache
from generator.speech.lexicon import Lexicon, load_lexicons
from generator.speech.voices import installed_engines, resolve_voice
from generator.timeline.events import ClipRef, ClipSource, Timeline
from generator.timeline.fitting import TimelineAt, fit, length_range, seconds, unreachable
from generator.timeline.placement import LEAD_IN, TAIL, build_timeline
from generator.timeline.shaping import LEAVE_OUT, Knob, Shape, extreme, shaped, start
from generator.writing.cover import cover_image
from generator.writing.playlist import Entry, m3u8

if TYPE_CHECKING:  # imported where a render uses them: `list` and `script` start without them
    from generator.sound.mastering import Mastered
    from generator.sound.mix import Mixed
    from generator.writing.tags import FileTags

Progress = Callable[[str, int, int], None]  # (stage, done, total)
BED_MARGIN = 30.0  # seconds of a bed or music file read past the estimated end of the session
# The estimate of a session's length against its render: an utterance of one phrase lands within
# 3 % of its words' length (delivery.py), so a render differs by seconds. A length this near the
# estimate's range is left to the render's own fit to decide.
ESTIMATE_MARGIN = Fraction(10)


@dataclass(frozen=True)
class Prepared:
    """A session up to its cues: everything that needs no audio."""

    recipe: Recipe
    cues: tuple[Cue, ...]
    lexicons: Mapping[str, Lexicon] = field(default_factory=dict)  # engine -> its lexicon
    templates: Mapping[str, Path] = field(default_factory=dict)  # every template it rendered
    skip: tuple[str, ...] = ()  # the poses left out

    @property
    def settings(self) -> Settings:
        return self.recipe.settings


@dataclass(frozen=True)
class Rendered:
    timeline: Timeline
    files: tuple[Path, ...]
    clips_made: int
    warnings: tuple[str, ...] = ()  # about the render, not the timeline: a cache not written


def prepare(
    session: str,
    catalogue: Catalogue,
    overrides: Overrides | None = None,
    skip: Sequence[str] = (),
    defaults: Mapping[str, object] | None = None,
    strict_skip: bool = True,
) -> Prepared:
    """Recipe, script and cues for SESSION; raises the project's errors for any bad input.

    ``defaults`` are the user's config (under the recipe), ``overrides`` the command line's or
    a program's (over it); ``skip`` leaves out the parts it names (a pose, a template or a
    chapter the session does not have is an error unless not ``strict_skip``).
    """
    chosen = overrides or Overrides()
    recipe = apply_overrides(load_recipe(catalogue.find_session(session), defaults), chosen)
    recipe = without_parts(recipe, skip, lambda: _part_names(recipe, catalogue), strict_skip)
    return _prepared(recipe, catalogue, chosen, tuple(skip), defaults or {})


def _prepared(
    recipe: Recipe,
    catalogue: Catalogue,
    chosen: Overrides,
    skip: tuple[str, ...],
    defaults: Mapping[str, object],
) -> Prepared:
    """The recipe's script and cues, every setting and variable checked before any audio."""
    if recipe.settings.title:  # a personal copy's own title, wherever the title shows
        recipe = replace(recipe, title=recipe.settings.title)
    script = render_script(recipe, catalogue.template_dirs)
    known = (*Settings.names(), *sorted(script.variables))
    for key in chosen.values:
        if key not in known and key not in chosen.optional:
            raise SettingsError(
                f"no setting or template variable named {key!r}",
                where=chosen.locate(key),
                fix=f"{suggested(key, known)} Settings: {', '.join(Settings.names())}; this "
                f"session's variables: {', '.join(sorted(script.variables)) or 'none'}.".strip(),
            )
    cues = scaled_holds(parse_cues(script.lines), recipe.settings.hold_scale)
    check_session(cues, recipe.settings.breath, display_path(recipe.path))
    settings = recipe.settings

    def given(name: str) -> Source | str | None:  # where a setting's value came from
        return setting_source(name, recipe, chosen, defaults)

    # A typo in a setting is found before any audio is made, told where it was given.
    check_bell_setting(settings.bell, catalogue, given("bell"))
    ambience_asked(cues, settings.ambience, given("ambience"))
    if settings.cover:
        with located(given("cover")):
            cover_image(recipe.settings.cover, recipe.title)  # a cover that is not a picture
    with located(given("voice")):
        recipe, cues = _with_voices(recipe, cues)
    lexicons = load_lexicons(catalogue.lexicon_files, installed_engines())
    return Prepared(recipe, cues, lexicons, script.templates, skip)


def _part_names(recipe: Recipe, catalogue: Catalogue) -> tuple[tuple[str, ...], ...]:
    """What each part can be called by in --skip: its pose, its template, its chapters."""
    names = []
    for part in recipe.parts:
        one = replace(recipe, parts=(part,))
        lines = render_script(one, catalogue.template_dirs).lines
        chapters = [line.text.strip()[9:-1] for line in lines if line.text.startswith("[chapter ")]
        pose = [str(part.variables["pose"])] if "pose" in part.variables else []
        names.append((*pose, Path(part.template).stem, *chapters))
    return tuple(names)


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


def estimate(prepared: Prepared, catalogue: Catalogue, target: Fraction | None = None) -> Timeline:
    """The session's timeline with speech lengths estimated from word counts: no audio is made."""
    timeline_at = _timelines(prepared, _estimated(prepared, catalogue))
    return fit(timeline_at, target) if target is not None else timeline_at(Fraction(0))


def estimated_lengths(
    prepared: Prepared, catalogue: Catalogue
) -> tuple[Fraction, Fraction, Fraction]:
    """The shortest, usual and longest length of the session (estimated; --minutes' range)."""
    timeline_at = _timelines(prepared, _estimated(prepared, catalogue, marks=False))
    shortest, longest = length_range(timeline_at)
    return shortest, seconds(timeline_at(Fraction(0))), longest


def usual_length(prepared: Prepared, catalogue: Catalogue) -> Fraction:
    """The session's length with its pauses as written (estimated): ``estimate``'s, without
    the phrase marks its plan shows."""
    timeline_at = _timelines(prepared, _estimated(prepared, catalogue, marks=False))
    return seconds(timeline_at(Fraction(0)))


def _estimated(prepared: Prepared, catalogue: Catalogue, marks: bool = True) -> EstimatedClips:
    """Lengths without audio: the bells as their files hold them (only their lengths count)."""
    bells = bells_used(prepared.cues, prepared.settings.bell, catalogue, level=None)
    return EstimatedClips(bells, marks=marks)


@dataclass(frozen=True)
class Reshaped:
    """A session reshaped to a length, and what changed, said as the plan prints it."""

    prepared: Prepared
    changes: tuple[str, ...] = ()


def reshape(prepared: Prepared, catalogue: Catalogue, target: Fraction) -> Reshaped:
    """The session with its practice reshaped towards ``target`` (timeline/shaping.py): the
    rounds, breaths, variants and parts its templates let change. The pauses then make it
    exact (fit); a session with nothing to change comes back as it was."""
    knobs = _knobs(prepared.recipe, catalogue)
    if not knobs:
        return Reshaped(prepared)
    lengths = _ShapeLengths(prepared, catalogue, knobs)
    shape = shaped(knobs, target, lengths.of)
    changes = tuple(shape.changes())
    if not changes:
        return Reshaped(prepared)
    recipe = _recipe_in(prepared.recipe, shape)
    again = _prepared(recipe, catalogue, Overrides(), prepared.skip, {})
    return Reshaped(again, tuple(_said(prepared.recipe, change) for change in changes))


def refuse_unreachable(prepared: Prepared, catalogue: Catalogue, target: Fraction) -> None:
    """LengthError, before any speech is made, when the session (already reshaped) cannot be
    stretched to ``target``: the estimate is the length the render lands on, within seconds."""
    shortest, _, longest = estimated_lengths(prepared, catalogue)
    if shortest - ESTIMATE_MARGIN <= target <= longest + ESTIMATE_MARGIN:
        return
    low, high = reach(prepared, catalogue)
    raise unreachable(prepared.recipe.title, target, low, high)


def reach(prepared: Prepared, catalogue: Catalogue) -> tuple[Fraction, Fraction]:
    """The shortest and longest the session can be made, reshaped and stretched (estimated)."""
    knobs = _knobs(prepared.recipe, catalogue)
    if not knobs:
        shortest, _, longest = estimated_lengths(prepared, catalogue)
        return shortest, longest
    return _extreme(prepared, catalogue, knobs, False), _extreme(prepared, catalogue, knobs, True)


def _extreme(
    prepared: Prepared, catalogue: Catalogue, knobs: Sequence[Knob], longest: bool
) -> Fraction:
    """The session reshaped to its extreme and stretched to it: one script and one timeline, as
    a render that long builds them. The solver's sum of its parts' lengths (``_ShapeLengths``)
    is the same for every built-in session (tests/test_quick_commands.py) but renders and places
    each part alone, at three stretches: 0.45 s of the first `stillpoint list`'s 1.4, measured."""
    recipe = _recipe_in(prepared.recipe, extreme(knobs, longest))
    clips = _BellLengths(catalogue, recipe.settings.bell)
    stretch = Fraction(1 if longest else -1)
    timeline = build_timeline(
        "", _cues(recipe, catalogue), recipe.settings, clips, SAMPLE_RATE, stretch
    )
    return seconds(timeline)


def _cues(recipe: Recipe, catalogue: Catalogue) -> tuple[Cue, ...]:
    """The recipe's script as cues, its holds at the listener's level: nothing checked."""
    script = render_script(recipe, catalogue.template_dirs)
    return scaled_holds(parse_cues(script.lines), recipe.settings.hold_scale)


def _knobs(recipe: Recipe, catalogue: Catalogue) -> tuple[Knob, ...]:
    """What a length may change of the recipe: each part's declared ranges and variants (its
    own flex over them), and the parts that may be left out. A variable the listener set
    (--set, a program's day) is theirs: it stays."""
    found: list[Knob] = []
    headers = part_declarations(recipe, catalogue.template_dirs)
    orders = leave_out_orders(recipe, catalogue.template_dirs)
    for index, ((part, declared), order) in enumerate(zip(headers, orders, strict=True)):
        for variable in declared:
            if variable.name not in recipe.overrides:
                found += _variable_knob(index, part, variable)
        if order is not None:
            found.append(Knob(index, LEAVE_OUT, (False, True), 1, order))
    return tuple(found)


def _variable_knob(index: int, part: Part, variable: Variable) -> list[Knob]:
    flex = part.flex.get(variable.name)
    current = part.variables.get(variable.name, variable.default)
    if flex is not None and all(type(value) is int for value in flex):
        low, high = flex  # a range: two whole numbers
        values: tuple[object, ...] = tuple(range(int(low), int(high) + 1))
    elif flex is not None:
        values = tuple(flex)
    elif variable.span is not None:
        values = tuple(range(variable.span[0], variable.span[1] + 1))
    else:
        values = variable.choices
    if not values:
        return []
    if type(current) is int and values and type(values[0]) is int and current not in values:
        values = tuple(sorted({*values, current}))  # type: ignore[type-var]  # all whole numbers
    if current not in values:
        return []  # a value of the listener's own outside what may change: it stays
    return [Knob(index, variable.name, values, values.index(current))]


def _recipe_in(recipe: Recipe, shape: Shape) -> Recipe:
    """The recipe with the shape's values in its parts, and the parts it leaves out gone."""
    parts = []
    for index, part in enumerate(recipe.parts):
        knobs = [knob for knob in shape.chosen if knob.part == index]
        if any(knob.name == LEAVE_OUT and not shape.value(knob) for knob in knobs):
            continue
        values = {knob.name: shape.value(knob) for knob in knobs if knob.name != LEAVE_OUT}
        parts.append(replace(part, variables={**part.variables, **values}))
    return replace(recipe, parts=tuple(parts))


def _said(recipe: Recipe, change: tuple[Knob, object, object]) -> str:
    knob, before, after = change
    part = recipe.parts[knob.part]
    name = str(part.variables.get("pose", Path(part.template).stem))
    if knob.name == LEAVE_OUT:
        return f"{name}: left out (it gives way {_ordinal(knob.order)})"
    return f"{name}: {knob.name} {before} -> {after}"


def _ordinal(order: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(order, f"{order}th")


class _ShapeLengths:
    """The session's estimated lengths in any shape, from its parts' lengths, each estimated
    once per set of values: the search tries many shapes, each part in few."""

    def __init__(self, prepared: Prepared, catalogue: Catalogue, knobs: Sequence[Knob]) -> None:
        self.prepared = prepared
        self.catalogue = catalogue
        self.knobs = knobs
        self.clips = _BellLengths(catalogue, prepared.settings.bell)
        self.parts: dict[tuple[int, str], tuple[Fraction, Fraction, Fraction]] = {}
        whole = estimated_lengths(prepared, catalogue)
        alone = self._parts(start(knobs))
        self.overhead = tuple(w - a for w, a in zip(whole, alone, strict=True))

    def of(self, shape: Shape) -> tuple[Fraction, Fraction, Fraction]:
        alone = self._parts(shape)
        low, usual, high = (a + o for a, o in zip(alone, self.overhead, strict=True))
        return low, usual, high

    def _parts(self, shape: Shape) -> tuple[Fraction, Fraction, Fraction]:
        recipe = _recipe_in(self.prepared.recipe, _with_all_parts(shape))
        kept = {k.part for k in shape.chosen if k.name == LEAVE_OUT and not shape.value(k)}
        total = [Fraction(0)] * 3
        for index, part in enumerate(recipe.parts):
            if index not in kept:
                for at, length in enumerate(self._part(index, part)):
                    total[at] += length
        return total[0], total[1], total[2]

    def _part(self, index: int, part: Part) -> tuple[Fraction, Fraction, Fraction]:
        key = (index, repr(sorted(part.variables.items())))
        if key not in self.parts:
            self.parts[key] = self._measured(part)
        return self.parts[key]

    def _measured(self, part: Part) -> tuple[Fraction, Fraction, Fraction]:
        recipe = replace(self.prepared.recipe, parts=(part,))
        cues = _cues(recipe, self.catalogue)
        settings = recipe.settings
        framing = LEAD_IN + TAIL + settings.warmup  # every timeline's own, not the part's

        def length(stretch: Fraction) -> Fraction:
            timeline = build_timeline("", cues, settings, self.clips, SAMPLE_RATE, stretch)
            return seconds(timeline) - framing

        return length(Fraction(-1)), length(Fraction(0)), length(Fraction(1))


def _with_all_parts(shape: Shape) -> Shape:
    """The shape with every part kept: the part lengths are summed over those kept."""
    return Shape({k: (1 if k.name == LEAVE_OUT else v) for k, v in shape.chosen.items()})


class _BellLengths(EstimatedClips):
    """Estimated clip lengths whose bells are decoded when first rung: a variant may ring one
    the session at its own shape does not."""

    def __init__(self, catalogue: Catalogue, default: str) -> None:
        super().__init__({}, marks=False)
        self.catalogue = catalogue
        self.default = default

    def bell(self, name: str) -> ClipRef:
        if name not in self.bells:
            rung = (Bell(name, Source("", 0)),)
            found = bells_used(rung, self.default, self.catalogue, level=None)
            self.bells = {**self.bells, **found}
        return super().bell(name)


def render(
    prepared: Prepared,
    catalogue: Catalogue,
    output: Path,
    cache: ClipCache,
    progress: Progress | None = None,
    target: Fraction | None = None,
    album: Album | None = None,
    speech_workers: int | None = None,
    encoders: int | None = None,
) -> Rendered:
    """Synthesise, place, mix and encode the session into output (.mp3, .m4b or .opus) and its
    sidecars. Missing speech is made in ``speech_workers`` processes (a core each by default;
    0: in this process, as a batch's renderers do); a long MP3 by ``encoders`` encoders at once
    (a core each by default; a batch's renderers, a process a core already, take 1)."""
    from threadpoolctl import threadpool_limits

    from generator.writing.output_checks import (
        check_chapters,
        check_container,
        check_output,
        session_inputs,
    )

    report = progress or (lambda stage, done, total: None)
    check_container(output)  # the sidecars take the same stem: x.json would collide
    inputs = session_inputs(prepared.recipe, prepared.templates, prepared.cues, catalogue)
    check_output(output, inputs)  # a folder, a file in the way, or an input: before any work
    ffmpeg_path()  # fail before minutes of work if the encoder is missing
    if target is not None:  # reshaped first, and refused from the estimate before any speech
        prepared = reshape(prepared, catalogue, target).prepared
        refuse_unreachable(prepared, catalogue, target)
    check_chapters(output, prepared.cues)  # an Opus file numbers at most 999
    settings = prepared.settings
    clips = RenderClips(
        bells_used(prepared.cues, settings.bell, catalogue, settings.bell_level),
        prepared.lexicons,
        float(settings.volume),
        cache,
        lambda made, total: report("Speaking", made, total),
        _beds(prepared, catalogue, target),
        settings.sentence_pause,
        speech_workers,
    )
    build = _timelines(prepared, clips)

    def timeline_at(stretch: Fraction) -> Timeline:
        timeline = build(stretch)
        while clips.complete():  # placed with estimates: place again with the real clips
            timeline = build(stretch)
        return timeline

    timeline = fit(timeline_at, target) if target is not None else timeline_at(Fraction(0))
    # numpy's BLAS on one thread: its own threads spin against ours and the encoder's for the
    # cores, ten times slower on a busy machine (measured: oversampling one minute, 0.65 s
    # instead of 0.06 s on 2 loaded cores).
    encoding = encoders or os.cpu_count() or 1
    with threadpool_limits(limits=1, user_api="blas"):
        return _mastered_and_encoded(
            prepared, timeline, clips, output, report, target, album, encoding
        )


def _beds(prepared: Prepared, catalogue: Catalogue, target: Fraction | None) -> dict[str, Samples]:
    """The music and ambience loops, each file read only as far as the session can play it: its
    length asked for, or its estimated longest, with a margin (a loop shorter than the session
    only repeats sooner)."""
    longest = target if target is not None else estimated_lengths(prepared, catalogue)[2]
    seconds = float(longest) + BED_MARGIN
    cues, settings = prepared.cues, prepared.settings
    return {
        **music_used(cues, seconds, settings.music_level),
        **ambience_used(cues, settings.ambience, seconds, settings.ambience_level),
    }


def _mastered_and_encoded(
    prepared: Prepared,
    timeline: Timeline,
    clips: RenderClips,
    output: Path,
    report: Progress,
    target: Fraction | None,
    album: Album | None,
    encoders: int,
) -> Rendered:
    from generator.sound.mastering import PlanCache, master
    from generator.sound.mix import Mixed
    from generator.writing.export import sidecar_texts, write_session

    clips.level_speech()
    report("Measuring", 0, 1)
    mastered = master(timeline, clips.audio, PlanCache(clips.cache.root), clips.audio)
    report("Measuring", 1, 1)
    sidecars = sidecar_texts(timeline, _loudness(mastered), prepared.recipe.description)
    tags = _tags(prepared, timeline, album or Album(), target)
    mixed = _Reported(Mixed(timeline, mastered.audio, mastered.gain), report)
    files = write_session(output, mixed, timeline, tags, sidecars, encoders)
    return Rendered(timeline, files, clips.made, clips.warnings)


@dataclass
class _Reported:
    """The mix, its progress told in seconds encoded (parts encoded apart overlap by a few
    seconds: the count stops at the session's length)."""

    mix: Mixed
    report: Progress
    done: int = 0

    @property
    def length(self) -> int:
        return self.mix.length

    def blocks(self, first: int, last: int) -> Iterator[Samples]:
        rate, total = self.mix.timeline.sample_rate, self.mix.length
        for block in self.mix.blocks(first, last):
            self.done += len(block)
            self.report("Encoding", min(self.done, total) // rate, total // rate)
            yield block


def _loudness(mastered: Mastered) -> dict[str, float]:
    """What mastering measured, for the timeline JSON: the loudness expected after encoding and
    the most the true peak can be (rounded: these are measurements)."""
    return {
        "integrated_lufs": round(mastered.loudness, 2),
        "true_peak_dbtp": round(mastered.true_peak, 2),
        "target_lufs": mastered.target,
        "gain_db": round(20 * math.log10(mastered.gain), 2),
        "limited_clips": mastered.limited,
    }


@dataclass(frozen=True)
class Album:
    """Where a file belongs: a program (its title, and the day as track k of n), or none."""

    title: str = "Stillpoint"
    track: int = 0
    tracks: int = 0
    name: str = ""  # the file's title within the album; empty: the session's title


def _tags(
    prepared: Prepared, timeline: Timeline, album: Album, target: Fraction | None
) -> FileTags:
    from generator.writing.provenance import make_record
    from generator.writing.tags import ChapterTag, FileTags

    recipe = prepared.recipe
    record = make_record(recipe, prepared.templates, prepared.lexicons, prepared.skip, target)
    return FileTags(
        title=album.name or recipe.title,
        comment=recipe.description,
        album=album.title,
        track=(album.track, album.tracks) if album.track else None,
        encoder=f"Stillpoint {__version__}",
        cover=cover_image(recipe.settings.cover, recipe.title),
        chapters=tuple(
            ChapterTag(mark.title, _ms(timeline, mark.start), _ms(timeline, mark.end))
            for mark in timeline.chapters
        ),
        record=record.to_json(),
    )


def _ms(timeline: Timeline, samples: int) -> int:
    return round(samples * 1000 / timeline.sample_rate)


def render_program(
    program: Program,
    catalogue: Catalogue,
    folder: Path,
    cache: ClipCache,
    choices: Choices,
    progress: Progress | None = None,
) -> tuple[Rendered, ...]:
    """Every day of the program into folder, then its .m3u8 playlist, in order.

    Every day is prepared before the first is rendered: a mistake in the last day costs no audio.
    """
    days = [
        (
            day,
            prepare(
                day.session,
                catalogue,
                day.overrides.under(choices.overrides),
                (*day.skip, *choices.skip),
                choices.defaults,
                strict_skip=False,
            ),
            target_seconds(day.minutes),
        )
        for day in program.days
    ]
    results = []
    for day, prepared, target in days:
        album = Album(program.title, day.number, len(days), day.title)
        output = folder / f"{day.stem}.mp3"
        results.append(render(prepared, catalogue, output, cache, progress, target, album))
    entries = [
        Entry(f"{day.stem}.mp3", day.title or prepared.recipe.title, result.timeline.duration)
        for (day, prepared, _), result in zip(days, results, strict=True)
    ]
    playlist = folder / f"{program.name}.m3u8"
    with staged([playlist]) as (staging,):
        staging.write_text(m3u8(program.title, entries), encoding="utf-8")
    return tuple(results)


def render_from(
    mp3: Path,
    catalogue: Catalogue,
    choices: Choices,
    output: Path | None,
    folder: Path,
    cache: ClipCache,
    progress: Progress | None = None,
    target: Fraction | None = None,
) -> Rendered:
    """Render again what made ``mp3``, from the record inside it; ``choices`` change it.

    Its files are laid out in a temporary scripts folder searched first, so the same recipe and
    templates render, whatever the library holds now; the output defaults to folder/NAME.mp3.
    """
    from generator.writing.provenance import laid_out
    from generator.writing.provenance import read as read_record

    record = read_record(mp3)
    with laid_out(record) as recipe:
        catalogue = Catalogue((recipe.parent.parent, *catalogue.user_dirs))
        chosen = record.overrides.under(choices.overrides)
        prepared = prepare(str(recipe), catalogue, chosen, (*record.skip, *choices.skip))
        _reads_only_its_own(prepared, catalogue, recipe.parent.parent, choices.overrides, mp3)
        destination = output or folder / f"{record.name}.mp3"
        length = target if target is not None else record.target
        return render(prepared, catalogue, destination, cache, progress, length)


def _reads_only_its_own(
    prepared: Prepared, catalogue: Catalogue, root: Path, given: Overrides, mp3: Path
) -> None:
    """A shared MP3's record may make a render read only what it carries (laid out in root), the
    scripts folders' own files and sounds, or a file the command line names: never a path of its
    choosing elsewhere (a cover, an ambience or music file), which the new file would carry on."""
    from generator.writing.output_checks import session_inputs

    allowed = [root.resolve(), *(folder.resolve() for folder in catalogue.script_roots)]
    allowed += [folder.resolve() for folder in catalogue.sound_dirs]
    named = {
        Path(value).expanduser().resolve()
        for value in given.values.values()
        if isinstance(value, str)
    }
    inputs = session_inputs(prepared.recipe, prepared.templates, prepared.cues, catalogue)
    for path in inputs:
        real = path.expanduser().resolve()
        if real in named or any(real.is_relative_to(folder) for folder in allowed):
            continue
        raise SettingsError(
            f"the recipe inside {display_path(mp3)} asks to read {path}, a file outside it",
            fix="Name the file on the command line to use it (--set cover=…, --ambience …, "
            "--set music=…), or render without it.",
        )


@dataclass(frozen=True)
class Choices:
    """What the command line chose for every day of a program."""

    overrides: Overrides = field(default_factory=Overrides)
    skip: tuple[str, ...] = ()
    defaults: Mapping[str, object] = field(default_factory=dict)
