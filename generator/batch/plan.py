"""Every row prepared without audio: its session reshaped to its length, checked, the speech it
will ask for, and the fingerprint of everything that makes its file (for resumption).

A row that cannot be prepared stops the batch before any work, told at its ROWS:LINE: a bad
value in a manifest is a mistake in the input, like a bad option.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from generator import __version__
from generator.base.samples import SAMPLE_RATE
from generator.batch.manifest import Row
from generator.batch.report import Stamp, stamp
from generator.errors import located
from generator.recipes.catalogue import Catalogue
from generator.session import Prepared, prepare, refuse_unreachable, reshape, target_seconds
from generator.sound.sources import EstimatedClips, bells_used, speech_request
from generator.speech.cache import CLIP_FORMAT, ENGINE_FORMATS, SpeechRequest
from generator.timeline.events import Timeline
from generator.timeline.fitting import fit
from generator.timeline.placement import build_timeline
from generator.writing.output_checks import session_inputs
from generator.writing.provenance import make_record


@dataclass(frozen=True)
class Planned:
    """A row ready to render: what it renders, where, and what it is made from."""

    row: Row
    prepared: Prepared  # reshaped to the row's length
    target: Fraction | None
    output: Path
    requests: frozenset[SpeechRequest]  # the speech its timeline asks for, as estimated
    fingerprint: str  # of every input: a row whose fingerprint is unchanged is done


@dataclass(frozen=True)
class RowPlan:
    """What the batch keeps of a planned row: small, so a batch of many rows holds them all."""

    id: str
    requests: frozenset[SpeechRequest]  # the speech it will ask for, as estimated
    fingerprint: str
    output: str  # its file's name


@dataclass(frozen=True)
class Refusal:
    """Why a row cannot be made: the one line told at its ROWS:LINE, and its exit code."""

    id: str
    message: str
    exit_code: int


def plan_row(
    row: Row, catalogue: Catalogue, folder: Path, defaults: Mapping[str, object] | None = None
) -> Planned:
    """The row prepared (under the user's config ``defaults``), reshaped, its speech listed."""
    with located(row.source):
        prepared = prepare(row.session, catalogue, row.overrides, row.skip, defaults)
        target = target_seconds(row.minutes)
        if target is not None:
            prepared = reshape(prepared, catalogue, target).prepared
            refuse_unreachable(prepared, catalogue, target)
        requests = frozenset(_speech_of(prepared, catalogue, target))
    fingerprint = _fingerprint(row, prepared, target, catalogue)
    output = folder / f"{row.id}.mp3"
    return Planned(row, prepared, target, output, requests, fingerprint)


def row_key(row: Row, catalogue: Catalogue, defaults: Mapping[str, object] | None) -> str:
    """A digest of what the row asks for, without reading any template: its cells, the user's
    config, the scripts folders searched, and the versions. With the files it read unchanged
    (``input_stamps``), an unchanged key means an unchanged file: the row is skipped unplanned."""
    document = {
        "row": [row.id, row.session, row.minutes, list(row.skip)],
        "values": sorted(repr(item) for item in row.values.items()),
        "defaults": sorted(repr(item) for item in (defaults or {}).items()),
        "scripts": [str(folder) for folder in catalogue.user_dirs],
        "versions": engine_versions(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def input_stamps(planned: Planned, catalogue: Catalogue) -> list[Stamp]:
    """Every file the row's render read, and the folders they are in (a template added beside
    them could be found first), each as path, size and modification time."""
    prepared = planned.prepared
    files = session_inputs(prepared.recipe, prepared.templates, prepared.cues, catalogue)
    folders = {path.parent for path in files} | set(catalogue.user_dirs)
    return sorted({stamp(path) for path in (*files, *folders)})


def _speech_of(
    prepared: Prepared, catalogue: Catalogue, target: Fraction | None
) -> set[SpeechRequest]:
    """The requests of the row's timeline at the length it is fitted to (estimated): what its
    render will ask the cache for (an announcement of a silence's length may still differ by a
    word when the real clips move the stretch; the render makes that one itself)."""
    settings = prepared.settings
    bells = bells_used(prepared.cues, settings.bell, catalogue, settings.bell_level)
    clips = EstimatedClips(bells)

    def timeline_at(stretch: Fraction) -> Timeline:
        return build_timeline(
            prepared.recipe.title, prepared.cues, settings, clips, SAMPLE_RATE, stretch
        )

    timeline = fit(timeline_at, target) if target is not None else timeline_at(Fraction(0))
    return {
        speech_request(e.text, e.voice, e.rate, prepared.lexicons, settings.sentence_pause)
        for e in timeline.events
        if e.kind == "speech"
    }


def _fingerprint(
    row: Row, prepared: Prepared, target: Fraction | None, catalogue: Catalogue
) -> str:
    """A digest of everything that makes the row's file: the row, the recipe, templates and
    lexicon as they are now (the record a render embeds: a text saved again unchanged is the
    same), the sound files it reads (by size and time), and the versions of Stillpoint and of
    the engines."""
    record = make_record(
        prepared.recipe, prepared.templates, prepared.lexicons, prepared.skip, target
    )
    texts = {prepared.recipe.path, *prepared.templates.values(), *catalogue.lexicon_files}
    read = session_inputs(prepared.recipe, prepared.templates, prepared.cues, catalogue)
    sounds = [path for path in read if path not in texts]  # the texts are in the record whole
    document = {
        "row": [row.id, row.session, row.minutes, list(row.skip)],
        "values": sorted(repr(item) for item in row.values.items()),
        "record": record.to_json(),
        "files": sorted(stamp(path) for path in sounds),
        "versions": engine_versions(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


@functools.cache
def engine_versions() -> dict[str, str]:
    """What could change a file made from the same inputs: Stillpoint's clip formats (and each
    engine's own) and version, and the speech engines' versions."""
    versions = {"stillpoint": __version__, "clips": str(CLIP_FORMAT)}
    versions.update({f"clips.{engine}": str(n) for engine, n in ENGINE_FORMATS.items()})
    for package in ("piper-tts", "onnxruntime", "pyttsx3"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        try:
            said = subprocess.run(
                [espeak, "--version"], capture_output=True, text=True, timeout=10, check=False
            )
            versions["espeak-ng"] = said.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            versions["espeak-ng"] = "unknown"
    return versions
