"""The command line: parse options, call the pipeline, turn the project's errors into exit codes.

Exit codes: 0 success, 2 a mistake in the input (fixable by the user), 1 a broken environment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import traceback
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core

from generator import __version__
from generator.base.durations import format_clock, format_clock_ms, format_seconds, parse_seconds
from generator.base.text import counted, printable
from generator.commands.describe import describe_lines, program_lines
from generator.commands.listing import listing
from generator.commands.player import play as play_file
from generator.commands.scaffold import scaffold
from generator.commands.timed_plan import plan_lines
from generator.errors import OutputError, SettingsError, StillpointError
from generator.markup.templating import part_declarations
from generator.recipes.catalogue import Catalogue, user_scripts_dir
from generator.recipes.config import Config, load_config
from generator.recipes.overrides import Overrides
from generator.recipes.program import Program, load_program
from generator.session import (
    Choices,
    Prepared,
    Rendered,
    estimate,
    prepare,
    render,
    render_from,
    render_program,
    reshape,
    target_seconds,
)
from generator.speech.cache import ClipCache, default_cache_dir
from generator.speech.voices import auto_voice, installed_engines, start_engine

if TYPE_CHECKING:  # imported where used: `stillpoint list` and `script` start without them
    from generator.batch.engines import Engine

TIMER_SESSION = "timer"  # the built-in session behind `stillpoint timer`


DEBUG = "stillpoint.debug"  # the key of --debug in the context's meta, shared by every command


class _ReportingGroup(typer.core.TyperGroup):
    """Turns errors into one line on stderr and an exit code; a traceback only with --debug.

    The project's errors exit 2 (a mistake in the input) or 1 (the machine); anything else is a
    bug, said so in one line, exit 1.
    """

    def invoke(self, ctx: Any) -> Any:  # typer vendors click: its Context type is private
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # click's own: --help, usage errors, Ctrl-C
        except KeyboardInterrupt:  # Ctrl-C: workers and ffmpeg are stopped, temporary files gone
            typer.echo("stillpoint: interrupted", err=True)
            raise typer.Exit(128 + signal.SIGINT) from None
        except Terminated:  # SIGTERM, the same way
            typer.echo("stillpoint: terminated", err=True)
            raise typer.Exit(128 + signal.SIGTERM) from None
        except BrokenPipeError:  # `stillpoint list | head -1`: the reader has all it wanted
            _quiet_stdout()
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except StillpointError as error:
            _traceback(ctx, error)
            typer.echo(f"stillpoint: error: {printable(error.message())}", err=True)
            raise typer.Exit(error.exit_code) from None
        except Exception as error:
            debug = _traceback(ctx, error)
            hint = "" if debug else "run with --debug for the traceback; "
            what = printable(f"{type(error).__name__}: {error}")
            typer.echo(f"stillpoint: internal error: {what} ({hint}please report it)", err=True)
            raise typer.Exit(1) from None


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: Python flushes it at exit, and a closed pipe would raise again
    there, as an error message. The status is a pipe's usual one (128 + SIGPIPE), said nowhere,
    as `ls | head` does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _traceback(ctx: Any, error: BaseException) -> bool:
    """With --debug, print the error's traceback on stderr; says whether it did."""
    debug = bool(ctx.meta.get(DEBUG))
    if debug:
        typer.echo("".join(traceback.format_exception(error)).rstrip(), err=True)
    return debug


app = typer.Typer(
    cls=_ReportingGroup,
    help="Stillpoint: guided hip-release sessions as MP3 files, made offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ScriptsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--scripts",
        metavar="FOLDER",
        envvar="STILLPOINT_SCRIPTS",
        help="A folder of your own sessions/ and templates/; shadows built-ins of the same name.",
        show_default=False,
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a setting or template variable: --set breath=8s.",
        show_default=False,
    ),
]
MinutesOption = Annotated[
    str | None,
    typer.Option(
        "--minutes",
        metavar="MINUTES",
        help="Total length of the file in minutes; stretchable pauses grow or shrink to meet it.",
        show_default=False,
    ),
]
BreathOption = Annotated[
    str | None,
    typer.Option(
        "--breath",
        metavar="LENGTH",
        help="Your breath length, for holds and pauses in breaths (12s).",
        show_default=False,
    ),
]
BellOption = Annotated[
    str | None,
    typer.Option(
        "--bell",
        metavar="BELL",
        help="The bell a bare [bell] rings (bowl, chime, none).",
        show_default=False,
    ),
]
WarmupOption = Annotated[
    str | None,
    typer.Option(
        "--warmup", metavar="LENGTH", help="Silence before the first cue (10s).", show_default=False
    ),
]
VoiceOption = Annotated[
    str | None,
    typer.Option(
        metavar="VOICE",
        help="A voice id from `stillpoint voices` (piper:joe, pyttsx3:gmw/en-us), or auto.",
    ),
]
RateOption = Annotated[
    str | None,
    typer.Option(
        metavar="WPM", help="Pace in words a minute as heard, pauses included (default 120)."
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        metavar="FILE",
        help="The file to write: NAME.mp3, NAME.m4b (AAC, for audiobook apps) or NAME.opus "
        "(the smallest) [default: output/SESSION.mp3].",
    ),
]
AmbienceOption = Annotated[
    str | None,
    typer.Option(
        "--ambience",
        metavar="BED",
        help="A bed under the whole session: brown, pink, ocean, drone, a sound file, or off.",
        show_default=False,
    ),
]
SkipOption = Annotated[
    list[str] | None,
    typer.Option(
        "--skip",
        metavar="PART",
        help="Leave out a pose (--skip lizard); repeat for more.",
        show_default=False,
    ),
]
LevelOption = Annotated[
    str | None,
    typer.Option(
        "--level",
        metavar="LEVEL",
        help="gentle, standard or deep: shorter or longer holds.",
        show_default=False,
    ),
]
TitleOption = Annotated[
    str | None,
    typer.Option(
        "--title",
        metavar="TITLE",
        help="The title of your copy, in its tags, sidecars and the library page.",
        show_default=False,
    ),
]
Session = Annotated[
    str,
    typer.Argument(
        metavar="SESSION", help="A session name, or a path to a .toml recipe or .j2/.txt script."
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stillpoint {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="On an error, print its traceback too (for bug reports)."),
    ] = False,
) -> None:
    """Stillpoint: guided hip-release sessions as MP3 files, made offline."""
    ctx.meta[DEBUG] = debug


def _catalogue(scripts: list[Path] | None) -> Catalogue:
    """--scripts folders, then the user's own scripts folder when it exists, then the built-ins."""
    folders = list(scripts or ())
    if user_scripts_dir().is_dir() and user_scripts_dir() not in folders:
        folders.append(user_scripts_dir())
    return Catalogue(tuple(folders))


def _overrides(pairs: list[str] | None, **options: str | int | None) -> Overrides:
    """--set pairs, then the named options (which win) as the same KEY=VALUE overrides."""
    result: dict[str, str] = {}
    labels: dict[str, str] = {}  # how a named option is told in a message: --voice nobody
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(
                f"--set {pair!r} is not KEY=VALUE", fix="Write it like --set breath=8s."
            )
        result[key.strip()] = value.strip()
    for name, option in options.items():
        if option is not None:  # a TOML value: a number as it is, text quoted
            result[name] = str(option) if isinstance(option, int) else json.dumps(option)
            labels[name] = f"--{name} {option}"
    return Overrides.from_pairs(result, labels)


_NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?(nan|inf)", re.I)


def _number(option: str, text: str | None) -> float | None:
    """An option's number as written: digits, a point, an exponent (no ``1_0``, which Python
    would read as 10). Whether it is in range is the setting's own check."""
    if text is None:
        return None
    if not _NUMBER.fullmatch(text.strip()):
        raise SettingsError(
            f"{option} {text} is not a number", fix=f"Write it with digits, like {option} 20."
        )
    return float(text)


def _whole_number(option: str, text: str | None) -> int | None:
    """An option's whole number, digits only (``--rate 1_20`` is refused, not read as 120)."""
    if text is None:
        return None
    if not re.fullmatch(r"[-+]?[0-9]+", text.strip()):
        raise SettingsError(
            f"{option} {text} is not a whole number",
            fix=f"Write it with digits, like {option} 120.",
        )
    return int(text)


def _warn(lines: tuple[str, ...]) -> None:
    for line in lines:
        typer.echo(line, err=True)


@app.command("list")
def list_sessions(scripts: ScriptsOption = None) -> None:
    """List the sessions you can render: name, estimated length, the range --minutes can reach."""
    for row in listing(_catalogue(scripts), load_config().settings, default_cache_dir()):
        typer.echo(row.line())


@app.command()
def script(
    session: Session,
    minutes: MinutesOption = None,
    voice: VoiceOption = None,
    rate: RateOption = None,
    breath: BreathOption = None,
    bell: BellOption = None,
    warmup: WarmupOption = None,
    level: LevelOption = None,
    ambience: AmbienceOption = None,
    title: TitleOption = None,
    skip: SkipOption = None,
    set_: SetOption = None,
    scripts: ScriptsOption = None,
) -> None:
    """Print the session as a timed plan: every cue at mm:ss.mmm, the arithmetic, the total.

    Makes no audio: speech lengths are estimated from the words, so rendered times differ a little.
    """
    catalogue = _catalogue(scripts)
    overrides = _overrides(
        set_,
        voice=voice,
        rate=_whole_number("--rate", rate),
        breath=breath,
        bell=bell,
        warmup=warmup,
        level=level,
        ambience=ambience,
        title=title,
    )
    prepared = prepare(session, catalogue, overrides, skip or (), load_config().settings)
    target = target_seconds(_number("--minutes", minutes))
    changes: tuple[str, ...] = ()
    if target is not None:
        reshaped = reshape(prepared, catalogue, target)
        prepared, changes = reshaped.prepared, reshaped.changes
    timeline = estimate(prepared, catalogue, target)
    _warn(timeline.warnings)
    settings = prepared.settings
    typer.echo(
        f"{prepared.recipe.title} (voice {settings.voice}; speech lengths estimated at "
        f"{settings.rate} words a minute; one breath = {format_seconds(settings.breath)})"
    )
    if target is not None:
        typer.echo(_reshaped_line(target, changes))
    for line in plan_lines(timeline):
        typer.echo(line)


def _reshaped_line(target: Fraction, changes: Sequence[str]) -> str:
    """What --minutes changed of the practice, before its pauses stretched to the length."""
    asked = format_clock(float(target))
    if not changes:
        return f"Shaped for {asked}: the practice as written; its pauses stretch to the length."
    return f"Shaped for {asked}, then its pauses stretch to it: " + "; ".join(changes) + "."


@app.command("render")
def render_command(
    session: Annotated[
        str | None,
        typer.Argument(
            metavar="[SESSION]",
            help="A session or program name, or a path to a .toml recipe or .j2/.txt script.",
            show_default=False,
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="FILE",
            help="Render again what made this MP3, M4B or Opus file (its recipe and settings "
            "are inside it).",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = None,
    minutes: MinutesOption = None,
    voice: VoiceOption = None,
    rate: RateOption = None,
    breath: BreathOption = None,
    bell: BellOption = None,
    warmup: WarmupOption = None,
    level: LevelOption = None,
    ambience: AmbienceOption = None,
    title: TitleOption = None,
    skip: SkipOption = None,
    set_: SetOption = None,
    scripts: ScriptsOption = None,
) -> None:
    """Render SESSION to an MP3 (or M4B or Opus, by -o's suffix), with a .json timeline and
    .vtt and .lrc transcripts beside it.

    Given a program (sessions over days, see `stillpoint list`), renders every day into one
    folder (-o FOLDER, default output/PROGRAM/) with an .m3u8 playlist in order. With
    --from FILE, renders that file again from the recipe and settings stored inside it
    (options given as well change those).
    """
    catalogue = _catalogue(scripts)
    config = load_config()
    overrides = _overrides(
        set_,
        voice=voice,
        rate=_whole_number("--rate", rate),
        breath=breath,
        bell=bell,
        warmup=warmup,
        level=level,
        ambience=ambience,
        title=title,
    )
    if from_file is not None:
        if session is not None:
            raise SettingsError(
                "give a SESSION or --from FILE.mp3, not both", fix="Leave one of them out."
            )
        _render_again(from_file, catalogue, output, config, overrides, skip or (), minutes)
        return
    if session is None:
        raise SettingsError("no session given", fix="Give a SESSION (see `stillpoint list`).")
    program = catalogue.find_program(session)
    if program is not None:
        if minutes is not None:
            raise SettingsError(
                "--minutes sets one file's length, not a program's",
                fix="Give each day its minutes in the program file.",
            )
        _render_program(load_program(program), catalogue, output, config, overrides, skip or ())
        return
    prepared = prepare(session, catalogue, overrides, skip or (), config.settings)
    _render(prepared, catalogue, output or config.output / f"{prepared.recipe.name}.mp3", minutes)


@app.command()
def show(
    session: Session,
    level: LevelOption = None,
    skip: SkipOption = None,
    set_: SetOption = None,
    scripts: ScriptsOption = None,
) -> None:
    """Show a session's settings and every template variable: value, where it comes from, meaning.

    Given a program, lists its days with their sessions and the settings each day changes.
    """
    catalogue = _catalogue(scripts)
    config = load_config()
    program = catalogue.find_program(session)
    if program is not None:
        for line in program_lines(load_program(program)):
            typer.echo(line)
        return
    prepared = prepare(
        session, catalogue, _overrides(set_, level=level), skip or (), config.settings
    )
    declared = part_declarations(prepared.recipe, catalogue.template_dirs)
    for line in describe_lines(prepared.recipe, config.settings, declared):
        typer.echo(line)


@app.command()
def new(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The new session's name, like my-evening.")
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="SESSION", help="Copy this session (and its templates) to start from."
        ),
    ] = None,
    scripts: ScriptsOption = None,
) -> None:
    """Create your own session: a recipe and a template in your scripts folder, ready to render.

    The folder is the first --scripts folder, else your own scripts folder (created if needed).
    """
    folder = scripts[0] if scripts else user_scripts_dir()
    _make_folder(folder)
    written = scaffold(name, folder, _catalogue([folder, *(scripts or [])]), from_)
    for path in written:
        typer.echo(f"Wrote {path}")
    hint = f" --scripts {folder}" if scripts else ""
    typer.echo(f"Edit them, then: stillpoint script {name}{hint}  (or render)")


def _make_folder(folder: Path) -> None:
    """The scripts folder `new` writes into, made if needed; OutputError when it cannot be."""
    fix = "Give a folder you can write to: stillpoint new NAME --scripts FOLDER."
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"the scripts folder {folder} is a file, not a folder", fix=fix)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        what = f"cannot create the scripts folder {folder}: {error.strerror}"
        raise OutputError(what, fix=fix) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into the scripts folder {folder}", fix=fix)


@app.command()
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...", help="Recipes, programs, templates, scripts or folders of them."
        ),
    ],
    scripts: ScriptsOption = None,
) -> None:
    """Check recipes, programs, templates and scripts; report every problem with its file:line."""
    from generator.commands.validate import validate as check_files  # `list` starts without it

    files, problems = check_files(paths, _catalogue(scripts))
    for problem in problems:
        typer.echo(f"{problem.message()}", err=True)
    if problems:
        typer.echo(
            f"{counted(len(problems), 'problem')} in {counted(len(files), 'file')}", err=True
        )
        raise typer.Exit(2)
    typer.echo(f"{counted(len(files), 'file')} checked: no problems")


@app.command()
def timer(
    minutes: Annotated[
        str,
        typer.Option(
            metavar="MINUTES",
            help="The meditation in minutes, from the opening bell's strike to the closing "
            "bell's strike (the file adds its 1 s lead-in, the warm-up, the closing bell's ring "
            "and a 2 s tail).",
        ),
    ] = "20",
    interval: Annotated[
        str | None,
        typer.Option(
            metavar="LENGTH",
            help="A soft bell at every multiple of this after the opening strike (5m).",
            show_default=False,
        ),
    ] = None,
    warmup: WarmupOption = None,
    bell: BellOption = None,
    ambience: AmbienceOption = None,
    output: OutputOption = None,
    scripts: ScriptsOption = None,
) -> None:
    """Render an unguided timer: a bell, silence (with interval bells), a closing triple bell.

    Times count from the opening bell's strike, as a meditation timer does: interval bells at
    exact multiples of --interval after it, the closing bell exactly --minutes after it.
    """
    catalogue = _catalogue(scripts)
    shortest = 10  # seconds: the shortest timer.j2's pause may be ([pause … (10s..12h)])
    meditation = _number("--minutes", minutes) or 0.0  # minutes from strike to strike
    if (target_seconds(meditation) or 0) < shortest:  # 0, NaN or over 12 hours: told there
        raise SettingsError(
            f"--minutes {minutes}: a timer lasts at least {shortest} seconds from its opening "
            "bell's strike to its closing bell's",
            fix=f"Give --minutes {shortest / 60:.2g} or more.",
        )
    if interval is not None:
        try:
            every = parse_seconds(interval)
        except ValueError as error:
            raise SettingsError(
                f"--interval: {error}", fix="Write it like --interval 5m."
            ) from None
        if every <= 0:
            raise SettingsError(
                f"--interval {interval}: the interval must be longer than 0",
                fix="Write it like --interval 5m.",
            )
    overrides = _overrides(
        None,
        interval=interval or "",
        length=f"{meditation!r} minutes",  # read back exactly: 2.5 -> "2.5 minutes" -> 150 s
        bell=bell,
        warmup=warmup,
        ambience=ambience,
    )
    config = load_config()
    prepared = prepare(TIMER_SESSION, catalogue, overrides, (), config.settings)
    # No target: the length is the template's, exact from strike to strike, not fitted.
    _render(prepared, catalogue, output or config.output / f"{prepared.recipe.name}.mp3", None)


def _render(prepared: Prepared, catalogue: Catalogue, output: Path, minutes: str | None) -> None:
    target = target_seconds(_number("--minutes", minutes))
    with _Progress() as progress:
        result = render(
            prepared, catalogue, output, ClipCache(default_cache_dir()), progress, target
        )
    _report(output, result)


def _render_again(
    mp3: Path,
    catalogue: Catalogue,
    output: Path | None,
    config: Config,
    overrides: Overrides,
    skip: Sequence[str],
    minutes: str | None,
) -> None:
    from generator.writing.output_checks import check_not_input  # with its tags: `list` without

    if output is not None:  # the file --from reads must not be written over while it is read
        check_not_input(output, [mp3])
    choices = Choices(overrides, tuple(skip), config.settings)
    target = target_seconds(_number("--minutes", minutes))
    with _Progress() as progress:
        cache = ClipCache(default_cache_dir())
        result = render_from(
            mp3, catalogue, choices, output, config.output, cache, progress, target
        )
    _report(result.files[0], result)


def _render_program(
    program: Program,
    catalogue: Catalogue,
    output: Path | None,
    config: Config,
    overrides: Overrides,
    skip: Sequence[str],
) -> None:
    folder = output or config.output / program.name
    choices = Choices(overrides, tuple(skip), config.settings)
    with _Progress() as progress:
        results = render_program(
            program, catalogue, folder, ClipCache(default_cache_dir()), choices, progress
        )
    for result in results:
        _report(result.files[0], result)
    typer.echo(f"Wrote {folder / program.name}.m3u8 ({counted(len(results), 'day')})")


def _report(output: Path, result: Rendered) -> None:
    _warn(result.timeline.warnings + result.warnings)
    typer.echo(
        f"Wrote {output} ({format_clock_ms(result.timeline.duration)}, "
        f"{counted(len(result.timeline.chapters), 'chapter')}, "
        f"{counted(result.clips_made, 'new speech clip')})"
    )


@app.command("library")
def library_command(
    folder: Annotated[
        Path | None,
        typer.Argument(
            metavar="[FOLDER]",
            help="The folder of rendered sessions [default: output/].",
            show_default=False,
        ),
    ] = None,
    feed: Annotated[
        str | None,
        typer.Option(
            "--feed",
            metavar="BASE_URL",
            help="Also write FOLDER/feed.xml, a podcast feed of the sessions as served at "
            "BASE_URL (http:// or https://), with chapters and transcripts: subscribe to "
            "BASE_URL/feed.xml in a phone's podcast app.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write FOLDER/index.html: every session in the folder, playable offline in a browser.

    One self-contained page, opened straight from the file (no network, no server): each session
    with its player, length, cover, chapters as buttons and the transcript following along; it
    remembers where each was left. With --feed, a podcast feed of the folder too.
    """
    from generator.commands.library_page.feed import feed_base  # only this command needs them
    from generator.commands.library_page.page import write_library

    base = feed_base(feed) if feed is not None else None  # a bad URL: one line, nothing written
    with _Progress() as progress:  # a bar on a terminal, for a folder of many MP3s
        library = write_library(folder or load_config().output, progress, base)
    _warn(library.warnings)  # files left out or not read: the page is written all the same
    typer.echo(f"Wrote {printable(str(library.page))} (open it in a browser)")
    if library.feed is not None:
        feed_url = f"{base}{library.feed.name}"
        typer.echo(f"Wrote {printable(str(library.feed))} (subscribe to {printable(feed_url)})")


@app.command()
def batch(
    rows: Annotated[
        Path,
        typer.Argument(
            metavar="ROWS",
            help="A CSV or JSONL manifest: a row a session (id, session, settings, set.KEY).",
            show_default=False,
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="OUTDIR",
            help="The folder (or filesystem URL: file://, s3://…) to render into: ID.mp3 a "
            "row, and report.jsonl [default: output/ROWS-NAME/]",
            show_default=False,
        ),
    ] = None,
    cache: Annotated[
        str | None,
        typer.Option(
            "--cache",
            metavar="URL",
            help="A speech cache every machine of a cluster reads (file:// on a shared mount, "
            "s3://…), through this machine's own.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        str | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            help="Rows rendered at once [default: one per core]",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            metavar="local|ray",
            help="Where the work runs: this machine's processes, or a Ray cluster (with the "
            "'ray' extra installed).",
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            metavar="HOST:PORT",
            help="The Ray cluster to join [default: RAY_ADDRESS, else a cluster on this machine]",
            show_default=False,
        ),
    ] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first row that fails.")
    ] = False,
    scripts: ScriptsOption = None,
) -> None:
    """Render every row of ROWS: thousands of personalised sessions, their work shared.

    Every row is checked first (a mistake is refused at ROWS:LINE before any work); the speech
    all rows need is made once; then the rows render in parallel. Run it again and the rows
    already made from the same inputs are skipped. Exit status 0 when every row succeeded.
    """
    config = load_config()
    workers = _whole_number("--jobs", jobs) or os.cpu_count() or 1
    if workers < 1:
        raise SettingsError(f"--jobs {jobs} is not a count of processes", fix="Write --jobs 2.")
    from generator.batch.run import Batch, batch_exit_code, batch_summary  # only batch needs them
    from generator.batch.run import run as run_batch
    from generator.commands.batch_display import BatchDisplay

    work = Batch(
        rows, output or config.output / rows.stem, _catalogue(scripts),
        ClipCache(default_cache_dir()), workers, fail_fast, config.settings, cache or "",
    )  # fmt: skip
    display = BatchDisplay()
    runner = _batch_engine(engine, address, workers)
    try:
        progress = run_batch(work, display, runner)
    finally:
        display.close()
        runner.close()
    typer.echo(batch_summary(progress, work.place))
    if progress.failed:
        raise typer.Exit(batch_exit_code(progress))


def _batch_engine(name: str, address: str | None, workers: int) -> Engine:
    from generator.batch.engines import LocalEngine

    if name == "local":
        return LocalEngine(workers)
    if name == "ray":
        from generator.batch.ray_engine import RayEngine  # Ray takes seconds to import

        return RayEngine(address=address, workers=workers)
    raise SettingsError(f"--engine {name} is not local or ray", fix="Write --engine local.")


@app.command()
def play(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A rendered session's MP3.")],
) -> None:
    """Play a session in the terminal, showing each chapter as it starts (Ctrl-C stops).

    Needs an audio device; without one it says so, and where the file is to copy elsewhere.
    """
    play_file(file, typer.echo)


@app.command()
def voices() -> None:
    """List the voices for --voice and [voice]: engine, id, language; * marks the default (auto).

    A local piper model works too, by path: --voice piper:/path/to/voice.onnx.
    """
    default = auto_voice()
    found = [info for name in installed_engines() for info in start_engine(name).voices()]
    typer.echo(f"  {'engine':<8} {'id':<36} {'language':<12} name")
    for info in found:
        mark = "*" if info.id == default else " "
        languages = ", ".join(info.languages)
        typer.echo(f"{mark} {info.engine:<8} {info.id:<36} {languages:<12} {info.name}")
    if "piper" not in installed_engines():
        typer.echo(
            "(the natural piper voice is not installed: `make demo` installs it, or "
            "pip install 'PATH-TO-STILLPOINT[piper]')"
        )


class _Progress:
    """A progress bar per stage on a terminal; silent when stderr is not one."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.stage = ("", 0)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if (stage, total) != self.stage:  # a new stage, or more clips to make than first known
            self._close()
            self.stage = (stage, total)
            self.bar = typer.progressbar(length=total, label=f"{stage:<9}", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(max(0, done - self.bar.pos))

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt: what runs unwinds
    (workers and ffmpeg stopped, temporary files removed) before the command exits 143."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def main() -> None:
    """Entry point of the ``stillpoint`` command."""
    signal.signal(signal.SIGTERM, _terminated)  # here, not at import: tests import the app
    app(prog_name="stillpoint")
