"""The project's exceptions: one base class, small specific subclasses.

Every error carries what went wrong, where (file:line when there is one) and how to fix it,
so the CLI can print one line and choose the exit code without knowing the stage.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A place in a script, recipe or template: what a cue remembers and errors name."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class StillpointError(Exception):
    """Base of every error Stillpoint reports to the user. Exit code 2: the user can fix it."""

    exit_code = 2

    def __init__(self, what: str, *, where: Source | str | None = None, fix: str = "") -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message())

    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text.rstrip('.')}. {self.fix}" if self.fix else text


class RecipeError(StillpointError):
    """A session recipe (TOML) is malformed or asks for something that does not exist."""


class SettingsError(StillpointError):
    """A setting or --set value is out of range or of the wrong kind."""


class TemplateError(StillpointError):
    """A Jinja template is missing, has a syntax error or uses an undefined variable."""


class MarkupError(StillpointError):
    """A line of script markup is not understood."""


class LexiconError(StillpointError):
    """A pronunciation lexicon cannot be read or has a wrong entry."""


class SessionNotFoundError(StillpointError):
    """The SESSION argument names no built-in session, user session or file."""


class OutputError(StillpointError):
    """The output path cannot be used (a folder, or its folder cannot be created)."""


class EnvironmentProblem(StillpointError):
    """Something on the machine is missing or broken. Exit code 1: install or repair it."""

    exit_code = 1


class SynthesisError(EnvironmentProblem):
    """The speech engine failed to produce a clip."""


class EncodeError(EnvironmentProblem):
    """ffmpeg failed to encode the session."""


@contextlib.contextmanager
def located(where: Source | str | None) -> Iterator[None]:
    """A StillpointError raised inside without a place of its own is told at ``where`` (a
    setting's check knows the value, not whether it came from an option, recipe or config)."""
    try:
        yield
    except StillpointError as error:
        if error.where is None and where is not None:
            error.where = where
            error.args = (error.message(),)
        raise


def closest(name: str, known: Iterable[str]) -> str:
    """' Did you mean X?' for the known name nearest to a typo, or an empty string: the start of
    a fix, so a misspelt setting, bell or pose names the right one."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""
