"""Stage 2: each part's template renders to script markup, line by line, with its source.

Templates are untrusted text a user may have been sent, so they render in Jinja's sandbox with
StrictUndefined. Every rendered line remembers the template file and line it came from (macros
and includes too), so a markup error later names the line a person can open and fix.
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import cast

import jinja2
from jinja2 import meta
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.sandbox import SandboxedEnvironment

from generator.base.durations import parse_seconds
from generator.errors import RecipeError, Source, TemplateError, closest
from generator.files.userfiles import (
    MAX_TEXT_BYTES,
    KeyLocator,
    display_path,
    not_utf8,
    read_text,
    regular_file,
)
from generator.markup import sandbox
from generator.markup.cues import scaled_breaths
from generator.markup.sandbox import ScriptSandbox
from generator.markup.variables import Variable, defaults, leave_out_order, read_declarations
from generator.markup.wording import spoken_length
from generator.recipes.recipe import Part, Recipe

MAX_OUTPUT_CHARS = 5_000_000  # a script this long is a runaway loop, not a session

# Private-use characters wrap a "template-number.line" mark in rendered text; no script uses them.
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_MARK_OPEN}(\\d+)\\.(\\d+){_MARK_CLOSE}")


@dataclass(frozen=True)
class ScriptLine:
    text: str
    source: Source


@dataclass(frozen=True)
class Script:
    """The rendered markup of a whole session, and what rendering it needed."""

    lines: tuple[ScriptLine, ...]
    variables: frozenset[str]  # every variable some rendered template reads or declares
    templates: Mapping[str, Path] = field(default_factory=dict)  # name as loaded -> its file


# Template files by the number their line marks carry: one numbering for the process, so a
# template compiled once carries the same marks in every environment (``_COMPILED``).
_FILES: list[str] = []
_NUMBERS: dict[str, int] = {}


def _file_number(filename: str) -> int:
    if filename not in _NUMBERS:
        _NUMBERS[filename] = len(_FILES)
        _FILES.append(filename)
    return _NUMBERS[filename]


class _Compiled(jinja2.BytecodeCache):
    """Every template compiled once a process, kept by name, file and text (Jinja checks the
    text's checksum: an edited template compiles again). `stillpoint list` renders each
    session's templates many times, each in an environment of its own, and compiling was
    more than half of its time (2.4 of 4.3 s measured, under cProfile)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _Compiled()


class _LineMarks(Extension):
    """Puts a mark at the start of every line of template text, naming its file and line."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        number = _file_number(stream.filename or stream.name or "<template>")

        for token in stream:
            if token.type != "data":
                yield token
                continue
            pieces = token.value.split("\n")
            marked = [
                f"{_MARK_OPEN}{number}.{token.lineno + offset}{_MARK_CLOSE}{piece}"
                for offset, piece in enumerate(pieces)
            ]
            yield Token(token.lineno, "data", "\n".join(marked))


def render_script(recipe: Recipe, template_dirs: Sequence[Path]) -> Script:
    """Render every part of the recipe into marked-up lines; parts are separated by a blank line."""
    if recipe.path.suffix == ".txt":
        return Script(_plain_lines(recipe.path), frozenset())
    env = _confined(_environment((recipe.folder, *template_dirs), recipe), recipe, template_dirs)
    lines: list[ScriptLine] = []
    declared: set[str] = set()
    for part in recipe.parts:
        variables = declarations(env, part)
        declared |= {variable.name for variable in variables}
        _check_variables(recipe, part, variables)
        try:
            lines.extend(_render_part(env, part, variables))
        except OutsideFolders as error:  # an include or import: told at the line that asks
            where = _template_frame(error, _FILES) or part.source
            raise TemplateError(error.what, where=where, fix=error.fix) from None
        lines.append(ScriptLine("", part.source))
    files = _files_read(env)
    search = (recipe.folder, *template_dirs)
    used = {_name_in(Path(file), search): Path(file) for file in files}
    return Script(tuple(lines), _variables_read(env, files) | declared, used)


def _name_in(file: Path, search: Sequence[Path]) -> str:
    """The name a template file is loaded by: its path within the first folder that holds it."""
    for folder in search:
        if file.is_relative_to(folder):
            return file.relative_to(folder).as_posix()
    return file.name


def part_declarations(
    recipe: Recipe, template_dirs: Sequence[Path]
) -> tuple[tuple[Part, tuple[Variable, ...]], ...]:
    """Each part of the recipe with the variables its template declares."""
    env = _confined(_environment((recipe.folder, *template_dirs), recipe), recipe, template_dirs)
    return tuple((part, declarations(env, part)) for part in recipe.parts)


def declarations(env: jinja2.Environment, part: Part) -> tuple[Variable, ...]:
    """The variables a part's template declares in its header."""
    source, where = _header_source(env, part)
    return read_declarations(source, where)


def leave_out_orders(recipe: Recipe, template_dirs: Sequence[Path]) -> tuple[int | None, ...]:
    """Each part's order to be left out in to meet a length (``leave out: N`` in its template's
    header, or the part's own ``leave_out``); None: never left out."""
    env = _confined(_environment((recipe.folder, *template_dirs), recipe), recipe, template_dirs)
    orders: list[int | None] = []
    for part in recipe.parts:
        if part.leave_out is False:
            orders.append(None)
        elif isinstance(part.leave_out, int) and part.leave_out is not True:
            orders.append(part.leave_out)
        else:
            orders.append(leave_out_order(*_header_source(env, part)))
    return tuple(orders)


def _header_source(env: jinja2.Environment, part: Part) -> tuple[str, str]:
    """The text of a part's template, and its name as the user reads it."""
    try:
        source, filename, _ = env.loader.get_source(env, part.template)  # type: ignore[union-attr]
    except jinja2.TemplateNotFound:
        raise _not_found(part.template, part) from None
    except OutsideFolders as error:
        raise TemplateError(error.what, where=part.source, fix=error.fix) from None
    return source, display_path(Path(filename or part.template))


class OutsideFolders(TemplateError):
    """A template name or link that leads out of the folders templates are searched in."""


class _ConfinedLoader(jinja2.BaseLoader):
    """Finds templates as the environment's own loader does, but only inside the search folders.

    A recipe or a scripts folder may come from someone else: a name with ``..``, an absolute
    path, or a symbolic link in a templates folder must not make it read other files (the
    rendered words end up in the MP3, its transcripts and the plan). Text that is not UTF-8 is
    an error at its line here too, wherever the template is loaded from.
    """

    def __init__(self, inner: jinja2.BaseLoader, search: Sequence[Path], extra: Sequence[Path]):
        self.inner = inner
        self.search = tuple(search)
        self.roots = tuple(folder.resolve() for folder in (*search, *extra))
        self.files: dict[str, None] = {}  # every template file read, in order

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if Path(template).is_absolute() or ".." in template.split("/"):
            raise OutsideFolders(
                f"template name {template!r} leads outside the scripts folders",
                fix="Name a template by its path inside a templates folder, like poses/pigeon.j2.",
            )
        found = next((d / template for d in self.search if (d / template).is_file()), None)
        if found is not None and not any(found.resolve().is_relative_to(r) for r in self.roots):
            raise OutsideFolders(
                f"template {template!r} links to {found.resolve()}, outside the scripts folders",
                fix="Copy the file into the templates folder instead of linking to it.",
            )
        if found is not None:  # a device, pipe or huge file is refused before Jinja reads it
            size = regular_file(found, TemplateError, "Give a template that is a text file.")
            if size > MAX_TEXT_BYTES:
                raise TemplateError(
                    f"template {template!r} is larger than {MAX_TEXT_BYTES:,} bytes",
                    fix="A template is text of a few kilobytes; check the file.",
                )
        try:
            source, filename, uptodate = self.inner.get_source(environment, template)
        except UnicodeDecodeError as error:
            raise not_utf8(error, display_path(found or Path(template)), TemplateError) from None
        self.files.setdefault(filename or template, None)
        return source, filename, uptodate


def _confined(
    env: SandboxedEnvironment, recipe: Recipe, template_dirs: Sequence[Path]
) -> SandboxedEnvironment:
    """The environment with its loader confined to the search folders (see _ConfinedLoader).

    A single .j2 file given by path may itself be a link: the file the user named is allowed.
    """
    extra = (recipe.path.resolve().parent,) if recipe.path.suffix == ".j2" else ()
    inner = env.loader
    if inner is not None and not isinstance(inner, _ConfinedLoader):
        env.loader = _ConfinedLoader(inner, (recipe.folder, *template_dirs), extra)
    return env


def _not_found(name: str, part: Part) -> TemplateError:
    return TemplateError(
        f"template {name!r} not found",
        where=part.source,
        fix="Check its name; templates live in scripts/templates or your --scripts folder.",
    )


def _environment(search: Sequence[Path], recipe: Recipe) -> SandboxedEnvironment:
    env = ScriptSandbox(
        loader=jinja2.FileSystemLoader([str(folder) for folder in search]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=[_LineMarks],
        bytecode_cache=_COMPILED,
    )
    env.add_filter("spoken", _spoken_filter)
    scale = recipe.settings.hold_scale

    def held(breaths: object) -> int:
        """``held(hold_breaths)``: the breaths a hold really lasts at the listener's level."""
        return int(scaled_breaths(Fraction(str(breaths)), scale))

    env.globals.update(listener=recipe.settings.listener, level=recipe.settings.level, held=held)
    return env


def _spoken_filter(duration: object) -> str:
    """``{{ "5m" | spoken }}`` -> "five minutes": a length as the voice should say it."""
    return spoken_length(parse_seconds(str(duration)))


def _files_read(env: jinja2.Environment) -> list[str]:
    """The template files this environment has read, in order (the part's, its includes…)."""
    return list(cast(_ConfinedLoader, env.loader).files)


def _check_variables(recipe: Recipe, part: Part, declared: Sequence[Variable]) -> None:
    """A required variable left out, or a recipe's variable its template does not declare (a
    typo such as hold_breath would otherwise be ignored), told at its own line. Templates without
    a header are let be; --set values go to every part, so only the parts that use them mind
    them."""
    missing = [v for v in declared if v.required and v.name not in part.variables]
    if missing:
        raise TemplateError(
            f"{part.template} needs the variable {missing[0].name!r} ({missing[0].meaning})",
            where=part.source,
            fix=f"Add {missing[0].name} = … to this [[part]], or pass --set {missing[0].name}=….",
        )
    names = [variable.name for variable in declared]
    unknown = [key for key in part.variables if key not in (*names, *recipe.overrides)]
    if declared and unknown:
        raise TemplateError(
            f"{part.template} has no variable {unknown[0]!r}",
            where=_line_in_part(recipe, part, unknown[0]),
            fix=f"{closest(unknown[0], names)} Its variables: {', '.join(names)}.".strip(),
        )


def _line_in_part(recipe: Recipe, part: Part, key: str) -> Source:
    """The line of the recipe where this part sets ``key`` (the part's own [[part]] line when
    it cannot be told: a part written as an inline table)."""
    if recipe.path.suffix != ".toml":
        return part.source
    text = read_text(recipe.path, RecipeError)
    return KeyLocator(part.source.file, text).in_table(part.source, key)


def _render_part(
    env: SandboxedEnvironment, part: Part, declared: Sequence[Variable]
) -> list[ScriptLine]:
    files = _FILES  # a line mark's number is its file's index here

    def here(error: BaseException) -> Source:  # the template line that failed, or the part
        return _template_frame(error, files) or part.source

    try:
        with sandbox.deadline(sandbox.RENDER_SECONDS):
            template = env.get_template(part.template)
            values = {**defaults(declared), **part.variables}
            output = "".join(_limited(template.generate(**values), part, files))
    except jinja2.TemplateNotFound as error:
        missing = _not_found(str(error.name), part)  # an include's is told at its line
        where = here(error)
        raise TemplateError(missing.what, where=where, fix=missing.fix) from None
    except jinja2.TemplateSyntaxError as error:
        where = (
            Source(display_path(Path(error.filename)), error.lineno)
            if error.filename
            else part.source
        )
        raise TemplateError(
            f"template syntax error: {error.message}",
            where=where,
            fix="Check the {% %} and {{ }} tags on that line.",
        ) from None
    except jinja2.UndefinedError as error:
        known = [*(variable.name for variable in declared), *part.variables, *env.globals]
        raise TemplateError(
            str(error.message),
            where=here(error),
            fix=_undefined_fix(str(error.message), known),
        ) from None
    except jinja2.exceptions.SecurityError as error:
        raise TemplateError(
            f"template refused by the sandbox: {error}",
            where=here(error),
            fix="Templates may only use variables, loops, conditions, filters and macros.",
        ) from None
    except sandbox.LimitExceeded as error:  # a value too big
        where = here(error)
        raise TemplateError(error.what, where=where, fix=error.fix) from None
    except sandbox.TooSlow as error:  # Jinja leaves its traceback be: it knows its own line
        raise TemplateError(error.what, where=error.where or part.source, fix=error.fix) from None
    except RecursionError as error:
        raise TemplateError(
            "the template includes, imports or calls itself without end",
            where=here(error),
            fix="Check the include, import and macro calls on that line.",
        ) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise TemplateError(
            f"template failed: {error}",
            where=here(error),
            fix="Check the expression on that line and the variables it uses.",
        ) from None
    return _split_marked(output, files)


def _undefined_fix(message: str, known: Iterable[str]) -> str:
    """For "'hold_breath' is undefined": the known name nearest to it, then how to give it."""
    named = re.match(r"'(?P<name>\w+)' is undefined", message)
    near = closest(named["name"], known) if named else ""
    give = "Set it in the recipe's [[part]], with --set, or give it a default(…) here."
    return f"{near.strip()} Or {give[0].lower()}{give[1:]}" if near else give


def _limited(chunks: Iterable[str], part: Part, files: Sequence[str]) -> Iterator[str]:
    """The chunks until they pass MAX_OUTPUT_CHARS, checked before they are joined. A runaway
    is told at the template line whose words were written last."""
    total = 0
    marked = ""  # the last chunk with a line mark in it

    def written_at() -> Source | None:
        marks = list(_MARK.finditer(marked))
        ends = [mark.start() for mark in marks[1:]] + [len(marked)]
        worded = [m for m, end in zip(marks, ends, strict=True) if marked[m.end() : end].strip()]
        last = worded[-1] if worded else (marks[-1] if marks else None)
        return Source(_shown(files[int(last[1])]), int(last[2])) if last else None

    try:
        for chunk in chunks:
            marked = chunk if _MARK_OPEN in chunk else marked
            total += len(chunk)
            if total > MAX_OUTPUT_CHARS:
                raise TemplateError(
                    f"{part.template} produced more than {MAX_OUTPUT_CHARS:,} characters",
                    where=written_at() or part.source,
                    fix=sandbox.RUNAWAY_FIX,
                )
            yield chunk
    except sandbox.TooSlow as error:  # the alarm may ring here rather than in the template
        error.where = error.where or written_at()
        raise


def _split_marked(output: str, files: Sequence[str]) -> list[ScriptLine]:
    """Strip the marks; each line's source is the mark in force at its first visible character."""
    lines: list[ScriptLine] = []
    current = Source("<template>", 1)
    text: list[str] = []
    source: Source | None = None
    position = 0
    for mark in [*_MARK.finditer(output), None]:
        chunk = output[position : mark.start() if mark else len(output)]
        for index, piece in enumerate(chunk.split("\n")):
            if index:
                lines.append(ScriptLine("".join(text), source or current))
                text, source = [], None
            text.append(piece)
            if source is None and piece.strip():
                source = current
        if mark:
            current = Source(_shown(files[int(mark[1])]), int(mark[2]))
            position = mark.end()
    if "".join(text).strip():
        lines.append(ScriptLine("".join(text), source or current))
    return lines


def _shown(filename: str) -> str:
    """A template file as messages show it (``display_path``: relative to the working folder
    when inside it), worked out once for each file and folder rather than at every line: its
    path resolved is a dozen system calls (1.3 of `stillpoint list`'s 5.7 s under cProfile)."""
    return _shown_from(filename, str(Path.cwd()))


@functools.lru_cache(maxsize=256)
def _shown_from(filename: str, folder: str) -> str:
    return display_path(Path(filename))


def _plain_lines(path: Path) -> tuple[ScriptLine, ...]:
    where = display_path(path)
    text = read_text(path, TemplateError)
    return tuple(
        ScriptLine(line, Source(where, number)) for number, line in enumerate(text.splitlines(), 1)
    )


def _template_frame(error: BaseException, files: Sequence[str]) -> Source | None:
    """Jinja rewrites tracebacks to show template lines: the innermost template frame is where."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename in files and frame.lineno:
            return Source(display_path(Path(frame.filename)), frame.lineno)
    return None


def _variables_read(env: SandboxedEnvironment, files: Sequence[str]) -> frozenset[str]:
    names: set[str] = set()
    for filename in files:
        names |= _undeclared(env, filename, Path(filename).read_text(encoding="utf-8"))
    return frozenset(names)


_UNDECLARED: dict[tuple[str, str], frozenset[str]] = {}


def _undeclared(env: SandboxedEnvironment, filename: str, source: str) -> frozenset[str]:
    """The variables a template's text reads without setting them, parsed once a process for
    each text (the parse was 1.7 of `stillpoint list`'s 4.3 s, under cProfile)."""
    key = (filename, source)
    if key not in _UNDECLARED:
        found = meta.find_undeclared_variables(env.parse(source, filename=filename))
        _UNDECLARED[key] = frozenset(found)
    return _UNDECLARED[key]
