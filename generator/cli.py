"""The command line: parse options, call the pipeline, turn the project's errors into exit codes.

Exit codes: 0 success, 2 a mistake in the input (fixable by the user), 1 a broken environment.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from generator import __version__
from generator.durations import format_clock
from generator.errors import SettingsError, StillpointError
from generator.library import Library
from generator.session import Prepared, estimate, prepare, render
from generator.speech import ClipCache, default_cache_dir, start_engine


class _ReportingGroup(typer.core.TyperGroup):
    """Turns the project's errors into one line on stderr and their exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click: its Context type is private
        try:
            return super().invoke(ctx)
        except StillpointError as error:
            typer.echo(f"stillpoint: error: {error.message()}", err=True)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=_ReportingGroup,
    help="Stillpoint: guided hip-release sessions as MP3 files, made offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ScriptsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--scripts",
        envvar="STILLPOINT_SCRIPTS",
        help="A folder of your own sessions/ and templates/; shadows built-ins of the same name.",
        show_default=False,
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a setting or template variable: --set breath=8s.",
        show_default=False,
    ),
]
Session = Annotated[
    str, typer.Argument(help="A session name, or a path to a .toml recipe or .j2/.txt script.")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stillpoint {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Stillpoint: guided hip-release sessions as MP3 files, made offline."""


def _library(scripts: list[Path] | None) -> Library:
    return Library(tuple(scripts or ()))


def _overrides(
    pairs: list[str] | None, voice: str | None = None, rate: int | None = None
) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(
                f"--set {pair!r} is not KEY=VALUE", fix="Write it like --set breath=8s."
            )
        result[key.strip()] = value.strip()
    if voice is not None:
        result["voice"] = f'"{voice}"'
    if rate is not None:
        result["rate"] = str(rate)
    return result


def _warn(lines: tuple[str, ...]) -> None:
    for line in lines:
        typer.echo(line, err=True)


@app.command("list")
def list_sessions(scripts: ScriptsOption = None) -> None:
    """List the sessions you can render, with title and estimated length."""
    library = _library(scripts)
    for name in library.sessions():
        try:
            prepared = prepare(name, library)
            length = format_clock(estimate(prepared, library).duration)
            title = prepared.recipe.title
        except StillpointError as error:
            length, title = "  ?  ", f"(broken: {error.message()})"
        typer.echo(f"{name:<24} ~{length}  {title}")


@app.command()
def script(session: Session, set_: SetOption = None, scripts: ScriptsOption = None) -> None:
    """Print the session's script as a timed plan (mm:ss per cue, total length); makes no audio."""
    library = _library(scripts)
    prepared = prepare(session, library, _overrides(set_))
    timeline = estimate(prepared, library)
    _warn(timeline.warnings)
    typer.echo(f"{prepared.recipe.title} (speech lengths estimated)")
    chapters = {mark.start: mark.title for mark in timeline.chapters}
    for event in timeline.events:
        if event.start in chapters:
            typer.echo(f"\n## {chapters.pop(event.start)}")
        at = format_clock(timeline.seconds(event.start))
        length = timeline.seconds(event.end - event.start)
        what = {"speech": event.text, "bell": f"[bell {event.sound}]", "pause": "[silence]"}[
            event.kind
        ]
        typer.echo(f"{at}  {what}" + (f"  ({length:.0f}s)" if event.kind == "pause" else ""))
    typer.echo(f"\nTotal ≈ {format_clock(timeline.duration)}")


@app.command("render")
def render_command(
    session: Session,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The MP3 to write [default: output/SESSION.mp3]."),
    ] = None,
    voice: Annotated[
        str | None, typer.Option(help="A voice id from `stillpoint voices`, or auto.")
    ] = None,
    rate: Annotated[int | None, typer.Option(help="Speaking rate in words per minute.")] = None,
    set_: SetOption = None,
    scripts: ScriptsOption = None,
) -> None:
    """Render SESSION to an MP3, with a .json timeline and a .vtt transcript beside it."""
    library = _library(scripts)
    prepared: Prepared = prepare(session, library, _overrides(set_, voice, rate))
    destination = output or Path("output") / f"{prepared.recipe.name}.mp3"
    with _Progress() as progress:
        result = render(prepared, library, destination, ClipCache(default_cache_dir()), progress)
    _warn(result.timeline.warnings)
    typer.echo(
        f"Wrote {destination} ({format_clock(result.timeline.duration)}, "
        f"{len(result.timeline.chapters)} chapters, {result.clips_made} new speech clips)"
    )


@app.command()
def voices() -> None:
    """List the voices you can pass to --voice; * marks the default (auto)."""
    engine = start_engine()
    default = engine.default_voice()
    for info in engine.voices():
        mark = "*" if info.id == default else " "
        typer.echo(f"{mark} {info.id:<32} {', '.join(info.languages):<16} {info.name}")


class _Progress:
    """A progress bar per stage on a terminal; silent when stderr is not one."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.stage = ""

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self._close()
            self.stage = stage
            self.bar = typer.progressbar(length=total, label=f"{stage:<9}", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def main() -> None:
    """Entry point of the ``stillpoint`` command."""
    app(prog_name="stillpoint")
