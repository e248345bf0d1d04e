"""`stillpoint validate`: check recipes, programs, templates and scripts; report every problem.

Each file is checked as far as its problems allow: a recipe whose TOML does not parse stops
there, but every part of a readable recipe is rendered, and every markup line of every part is
parsed, so one run lists all that needs fixing, each with its file:line. A file whose lines are
all well is then prepared and timed as `stillpoint script` does it (with the user's config), so
validate refuses whatever `script` and `render` would: an unknown bell, two sides of a pose of
unequal length, a session with nothing to play, a day's minutes out of reach.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from generator.errors import MarkupError, Source, StillpointError, TemplateError, closest
from generator.files.userfiles import display_path, read_text
from generator.markup.cues import Cue
from generator.markup.parser import parse_cues
from generator.markup.templating import render_script
from generator.markup.variables import GLOBALS, read_declarations
from generator.recipes.catalogue import LEXICON, SCRIPT_SUFFIXES, Catalogue
from generator.recipes.config import load_config
from generator.recipes.program import is_program, load_program
from generator.recipes.recipe import Recipe, load_recipe
from generator.session import estimate, prepare, reshape, target_seconds
from generator.sound.sources import bells_used
from generator.speech.lexicon import load_lexicons
from generator.speech.voices import ENGINES

SCRIPT_FOLDERS = ("sessions", "templates", "programs")  # the subfolders of a scripts folder


def files_to_check(paths: Iterable[Path]) -> list[Path]:
    """The files named, and every script file inside the folders named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in SCRIPT_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise StillpointError(f"no such file or folder: {path}", fix="Check the path.")
    return list(dict.fromkeys(found))


def validate(
    paths: Sequence[Path], catalogue: Catalogue
) -> tuple[list[Path], list[StillpointError]]:
    """The files checked and every problem found in them."""
    files = files_to_check(paths)
    named = {path.resolve() for path in paths if path.is_file()}
    problems: list[StillpointError] = []
    for path in files:
        if path.resolve() not in named and _links_outside(path, _library_for(path, catalogue)):
            problems.append(_outside(path))  # render refuses it too: never read it here
            continue
        problems += _check(path, _library_for(path, catalogue))
    unique = {problem.message(): problem for problem in problems}  # a line in a loop: once
    return files, list(unique.values())


def _links_outside(path: Path, catalogue: Catalogue) -> bool:
    """A template found in a folder that is a link to a file outside the scripts folders."""
    if path.suffix != ".j2" or not path.is_symlink():
        return False
    inside = (path.parent, *catalogue.template_dirs)
    return not any(path.resolve().is_relative_to(folder.resolve()) for folder in inside)


def _outside(path: Path) -> TemplateError:
    return TemplateError(
        f"a link to {path.resolve()}, outside the scripts folders",
        where=display_path(path),
        fix="Copy the file into the templates folder instead of linking to it.",
    )


def _library_for(path: Path, catalogue: Catalogue) -> Catalogue:
    """A file inside someone's scripts folder sees that folder's templates, as --scripts would."""
    root = path.resolve().parent
    while root != root.parent:
        if root.name in SCRIPT_FOLDERS:
            scripts = root.parent
            if scripts not in catalogue.user_dirs and (scripts / "templates").is_dir():
                return Catalogue((scripts, *catalogue.user_dirs))
            break
        root = root.parent
    return catalogue


def _check(path: Path, catalogue: Catalogue) -> list[StillpointError]:
    problems: list[StillpointError] = []
    try:  # each check yields what it finds and may end on a problem it cannot go past
        problems.extend(_checks_of(path, catalogue))
    except StillpointError as problem:
        problems.append(problem)
    return problems


def _checks_of(path: Path, catalogue: Catalogue) -> Iterator[StillpointError]:
    if path.name == LEXICON:
        load_lexicons([path], tuple(ENGINES))
    elif path.suffix == ".j2":
        yield from _check_template(path, catalogue)
    elif is_program(path):
        yield from _check_program(path, catalogue)
    else:  # a recipe, or a .txt script: a recipe of one part
        yield from _check_recipe(load_recipe(path), catalogue)


def _check_recipe(recipe: Recipe, catalogue: Catalogue) -> Iterator[StillpointError]:
    """Every part rendered on its own and every markup line parsed; then, when all is well, the
    session prepared and timed as `script` does it, else the bells of the parts that are well
    (each bell file is decoded once either way)."""
    parsed = [_parsed(replace(recipe, parts=(part,)), catalogue) for part in recipe.parts]
    problems = [problem for _, found in parsed for problem in found]
    yield from problems
    if not problems:
        yield from _as_script(recipe.path, catalogue)
        return
    for cues, found in parsed:
        try:
            if not found:  # every bell it rings can be read (a file of the user's, decoded)
                bells_used(cues, recipe.settings.bell, catalogue)
        except StillpointError as problem:
            yield problem


def _parsed(recipe: Recipe, catalogue: Catalogue) -> tuple[tuple[Cue, ...], list[StillpointError]]:
    """A one-part recipe's cues, and the problems of its template and of each markup line."""
    try:
        script = render_script(recipe, catalogue.template_dirs)
    except StillpointError as problem:
        return (), [problem]
    problems: list[MarkupError] = []
    cues = parse_cues(script.lines, problems)
    return cues, list(problems)


def _as_script(path: Path, catalogue: Catalogue) -> Iterator[StillpointError]:
    """What `script` refuses beyond the lines: settings, voices, bells, the session's length,
    the sides of a pose, [at] marks and [pause … from the bell] timed."""
    try:
        estimate(prepare(str(path), catalogue, defaults=load_config().settings), catalogue)
    except StillpointError as problem:
        yield problem


def _check_program(path: Path, catalogue: Catalogue) -> Iterator[StillpointError]:
    program = load_program(path)
    defaults = load_config().settings
    for day in program.days:
        try:
            prepared = prepare(
                day.session, catalogue, day.overrides, day.skip, defaults, strict_skip=False
            )
            target = target_seconds(day.minutes)
            if target is not None:  # as render reshapes and fits it
                prepared = reshape(prepared, catalogue, target).prepared
            estimate(prepared, catalogue, target)
        except StillpointError as problem:
            yield _told_at_day(problem, day.source)


def _told_at_day(problem: StillpointError, source: Source) -> StillpointError:
    """A problem found while checking a program's day, told at the day's line."""
    if problem.where is None:
        return type(problem)(problem.what, where=source, fix=problem.fix)
    return type(problem)(f"{problem.what} (day at {source})", where=problem.where, fix=problem.fix)


def _check_template(path: Path, catalogue: Catalogue) -> Iterator[StillpointError]:
    """Its header, its Jinja syntax, variables read but not declared, and, when it needs no
    variables, its markup rendered with the declared defaults."""
    where = display_path(path)
    try:
        text = read_text(path, TemplateError)
    except TemplateError as error:
        yield error
        return
    declared = read_declarations(text, where)
    env = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)  # only parses here
    try:
        tree = env.parse(text, filename=str(path))
    except jinja2.TemplateSyntaxError as error:
        yield TemplateError(
            f"template syntax error: {error.message}",
            where=Source(where, error.lineno),
            fix="Check the {% %} and {{ }} tags on that line.",
        )
        return
    names = {variable.name for variable in declared}
    if declared or not _only_macros(tree):
        for name in sorted(meta.find_undeclared_variables(tree) - names - set(GLOBALS)):
            yield TemplateError(
                f"the template reads {name!r} but its header does not declare it",
                where=Source(where, _line_of(text, name)),
                fix=_undeclared_fix(name, names),
            )
    if path.parent.name != "poses" and all(not variable.required for variable in declared):
        yield from _check_recipe(load_recipe(path), catalogue)


def _undeclared_fix(name: str, declared: Iterable[str]) -> str:
    """The declared name a misspelt one is closest to, else how to declare it."""
    declare = f"a line  var {name} = DEFAULT: what it means  to the header comment."
    near = closest(name, declared)
    return f"{near.strip()} Or add {declare}" if near else f"Add {declare}"


def _only_macros(tree: jinja2.nodes.Template) -> bool:
    """A macro library (poses/*.j2) defines macros and sets names; it renders nothing itself."""
    return all(
        isinstance(node, jinja2.nodes.Macro | jinja2.nodes.Assign) or _blank(node)
        for node in tree.body
    )


def _blank(node: jinja2.nodes.Node) -> bool:
    return isinstance(node, jinja2.nodes.Output) and all(
        isinstance(item, jinja2.nodes.TemplateData) and not item.data.strip() for item in node.nodes
    )


def _line_of(text: str, name: str) -> int:
    """The first line that reads ``name`` in a tag: the whole word, so hold_breath is not found
    in a line that reads hold_breaths."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
    for number, line in enumerate(text.splitlines(), 1):
        if word.search(line) and ("{{" in line or "{%" in line):
            return number
    return 1
