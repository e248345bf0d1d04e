"""Stillpoint as a library: render a session from Python, without the command line.

    from pathlib import Path
    from generator.api import render_session

    result = render_session(
        "pigeon",
        Path("out/pigeon-sam.mp3"),
        settings={"listener": "Sam", "voice": "pyttsx3:gmw/en-us", "breath": "8s"},
        minutes=10,
    )
    print(result.path, result.seconds, [chapter.title for chapter in result.chapters])

The settings are those of ``--set`` (a setting or a template variable by name), as Python values
(``8``, ``"8s"``, ``True``); the user's config file is not read unless ``config=True``. Errors are
the project's own (``generator.errors``): a ``StillpointError`` whose ``message()`` is the one
line the command line would print, and whose ``exit_code`` says whose it is (2 the input, 1 the
machine). Nothing is half-written when one is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.recipes.catalogue import Catalogue
from generator.recipes.config import load_config
from generator.recipes.overrides import Overrides
from generator.session import prepare, render, target_seconds
from generator.speech.cache import ClipCache, default_cache_dir

Progress = Callable[[str, int, int], None]  # (stage, done, total): "Speaking", "Encoding", …


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float  # seconds from the start of the file
    end: float


@dataclass(frozen=True)
class RenderResult:
    """What a render wrote and what it holds."""

    path: Path  # the MP3
    files: tuple[Path, ...]  # the MP3, then its sidecars (.json, .vtt, .lrc, …)
    seconds: float  # the audio's exact length: samples / sample_rate
    samples: int
    sample_rate: int
    channels: int
    chapters: tuple[Chapter, ...]
    clips_made: int  # speech clips synthesised by this render (the rest came from the cache)
    warnings: tuple[str, ...]  # what the command line would print as warnings


def render_session(
    session: str | Path,
    output: str | Path,
    *,
    settings: Mapping[str, object] | None = None,
    minutes: float | None = None,
    skip: Sequence[str] = (),
    scripts: Sequence[str | Path] = (),
    cache: str | Path | None = None,
    config: bool = False,
    progress: Progress | None = None,
) -> RenderResult:
    """Render ``session`` (a name, or a path to a recipe or script) into ``output`` (an MP3).

    ``settings`` override settings and template variables; ``minutes`` makes the file exactly
    that long; ``skip`` leaves parts out; ``scripts`` are folders searched before the built-in
    library; ``cache`` is the speech cache folder (default: the user's, as the command line
    uses); ``config`` puts the user's config file under the recipe.
    """
    catalogue = Catalogue(tuple(Path(folder) for folder in scripts))
    overrides = Overrides(dict(settings or {}), lambda key: f"settings[{key!r}]")
    defaults = load_config().settings if config else {}
    prepared = prepare(str(session), catalogue, overrides, tuple(skip), defaults)
    clips = ClipCache(Path(cache) if cache is not None else default_cache_dir())
    rendered = render(prepared, catalogue, Path(output), clips, progress, target_seconds(minutes))
    timeline = rendered.timeline
    return RenderResult(
        path=rendered.files[0],
        files=rendered.files,
        seconds=timeline.duration,
        samples=timeline.length,
        sample_rate=timeline.sample_rate,
        channels=timeline.channels,
        chapters=tuple(
            Chapter(mark.title, timeline.seconds(mark.start), timeline.seconds(mark.end))
            for mark in timeline.chapters
        ),
        clips_made=rendered.clips_made,
        warnings=timeline.warnings + rendered.warnings,
    )


def sessions(scripts: Sequence[str | Path] = ()) -> dict[str, Path]:
    """Every session that can be rendered, by name: the built-ins and those in ``scripts``."""
    return Catalogue(tuple(Path(folder) for folder in scripts)).sessions()
