"""Stage 7: the mixed blocks become the MP3 (through ffmpeg), tagged, with its sidecars beside it.

Every file is written under a hidden temporary name beside its destination and renamed into place
only when all of them are complete (``files/atomic.py``), so a failed render never damages an
existing file and never leaves half a set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from generator.base.samples import Samples
from generator.files.atomic import staged
from generator.files.ffmpeg import encode_mp3
from generator.timeline.events import Timeline
from generator.writing.output_checks import SIDECARS, beside
from generator.writing.sidecar import timeline_document
from generator.writing.tags import FileTags, write_tags
from generator.writing.transcripts import lrc, prompt_sheet, webvtt


def sidecar_texts(
    timeline: Timeline, loudness: Mapping[str, float], description: str
) -> dict[str, str]:
    """What goes beside the MP3, by suffix: the timeline JSON, the transcripts, and the prompt
    sheet when the session has writing prompts."""
    contents = (
        timeline_document(timeline, loudness),
        webvtt(timeline),
        lrc(timeline),
        prompt_sheet(timeline, description),  # journaling only, else None
    )
    return {suffix: text for suffix, text in zip(SIDECARS, contents, strict=True) if text}


def write_session(
    output: Path,
    blocks: Iterable[Samples],
    timeline: Timeline,
    tags: FileTags,
    sidecars: Mapping[str, str],
) -> tuple[Path, ...]:
    """Encode the blocks into output, tag it, write the sidecars; all renamed into place at once.

    A render owns its set of sidecars: one an earlier render of the same name wrote and this one
    does not (a prompt sheet) is removed with the same step. Returns the files written, the MP3
    first.
    """
    files = (output, *(beside(output, suffix) for suffix in sidecars))
    stale = [beside(output, suffix) for suffix in SIDECARS if suffix not in sidecars]
    with staged(files, [path for path in stale if path.is_file()]) as (mp3, *texts):
        encode_mp3(blocks, timeline.sample_rate, mp3, timeline.channels)
        write_tags(mp3, tags)
        for path, text in zip(texts, sidecars.values(), strict=True):
            path.write_text(text, encoding="utf-8")
    return files
