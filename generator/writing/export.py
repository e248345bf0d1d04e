"""Stage 7: the mixed blocks become the audio file (through ffmpeg: an MP3, M4B or Opus file, as
its suffix says), tagged, with its sidecars beside it.

Every file is written under a hidden temporary name beside its destination and renamed into place
only when all of them are complete (``files/atomic.py``), so a failed render never damages an
existing file and never leaves half a set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.base.samples import Samples, db_to_gain, frozen
from generator.files.atomic import staged
from generator.files.ffmpeg import Container, Mix, encode_mix
from generator.sound.mastering import ENCODER_LOSS_DB
from generator.timeline.events import Timeline
from generator.writing.output_checks import SIDECARS, beside
from generator.writing.sidecar import timeline_document
from generator.writing.tags import FileTags, ffmetadata, write_tags
from generator.writing.transcripts import lrc, prompt_sheet, webvtt


def sidecar_texts(
    timeline: Timeline, loudness: Mapping[str, float], description: str
) -> dict[str, str]:
    """What goes beside the audio file, by suffix: the timeline JSON, the transcripts, and the
    prompt sheet when the session has writing prompts."""
    contents = (
        timeline_document(timeline, loudness),
        webvtt(timeline),
        lrc(timeline),
        prompt_sheet(timeline, description),  # journaling only, else None
    )
    return {suffix: text for suffix, text in zip(SIDECARS, contents, strict=True) if text}


def write_session(
    output: Path,
    mix: Mix,
    timeline: Timeline,
    tags: FileTags,
    sidecars: Mapping[str, str],
    encoders: int = 1,
) -> tuple[Path, ...]:
    """Encode the mix into output (the container its suffix names; MP3 for any other; a long
    MP3 by ``encoders`` encoders at once), tag it, write the sidecars; all renamed into place at
    once.

    A render owns its set of sidecars: one an earlier render of the same name wrote and this one
    does not (a prompt sheet) is removed with the same step. Returns the files written, the
    audio file first.
    """
    container = Container.of(output) or Container.MP3
    files = (output, *(beside(output, suffix) for suffix in sidecars))
    stale = [beside(output, suffix) for suffix in SIDECARS if suffix not in sidecars]
    with staged(files, [path for path in stale if path.is_file()]) as (audio, *texts):
        marks = [(mark.title, mark.start, mark.end) for mark in timeline.chapters]
        chapters = ffmetadata(marks, timeline.sample_rate)  # only an M4B's are ffmpeg's to write
        rate, channels = timeline.sample_rate, timeline.channels
        encode_mix(_levelled(mix, container), rate, audio, channels, container, chapters, encoders)
        write_tags(audio, tags, container)
        for path, text in zip(texts, sidecars.values(), strict=True):
            path.write_text(text, encoding="utf-8")
    return files


def _levelled(mix: Mix, container: Container) -> Mix:
    """The mix at the level that gives every container the loudness mastering reported.

    Mastering aims ENCODER_LOSS_DB over the target because LAME gives speech back that much
    quieter; ffmpeg's AAC encoder and libopus give it back as given (measured: a 440 Hz sine at
    -31.5 dB RMS decodes at -32.0 dB from the MP3, -31.6 from the M4B, -31.5 from the Opus file;
    a 30 s session at -20.3, -19.9 and -19.9 LUFS). So an M4B's and an Opus file's blocks are
    turned down by as much: all three land at the loudness the timeline JSON states.
    """
    return mix if container is Container.MP3 else _Quieter(mix)


@dataclass(frozen=True)
class _Quieter:
    """The mix turned down by ENCODER_LOSS_DB."""

    mix: Mix

    @property
    def length(self) -> int:
        return self.mix.length

    def blocks(self, first: int, last: int) -> Iterator[Samples]:
        gain = db_to_gain(-ENCODER_LOSS_DB)
        return (frozen(block * gain) for block in self.mix.blocks(first, last))
