"""Pronunciation: a lexicon maps words and phrases to the spelling an engine says best.

A lexicon file is TOML with a table for every engine and one for all of them:

    [all]
    "Baddha Konasana" = "Bahdah Ko nah sah nah"
    [pyttsx3]
    "Epsom" = "Ep sum"

The built-in ``scripts/lexicon.toml`` comes first; a ``lexicon.toml`` in a user's scripts folder
adds to it and wins where both name a phrase. Whole words and phrases are matched regardless of
case, longest first. The lexicon changes only what the engine is given: the transcript, the
timeline's ``text`` and the plan keep the words as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import LexiconError, Source
from generator.files.userfiles import display_path, parse_toml, read_text

EVERY_ENGINE = "all"


@dataclass(frozen=True)
class Lexicon:
    entries: Mapping[str, str] = field(default_factory=dict)  # folded phrase -> spoken form
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _spoken: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = {_fold(phrase): spoken for phrase, spoken in self.entries.items()}
        folded.pop("", None)  # a blank phrase would match between any two words
        object.__setattr__(self, "entries", folded)
        phrases = sorted(folded, key=len, reverse=True)  # "Baddha Konasana" before "Konasana"
        object.__setattr__(self, "_spoken", tuple(folded[phrase] for phrase in phrases))
        # One named group a phrase: the match says which entry it is, whatever its case. (Folding
        # the matched text to look it up fails: IGNORECASE lets a dotless i (U+0131) or a long
        # s (U+017F) match, whose lower() is not the entry's.)
        alternatives = "|".join(
            f"(?P<p{index}>{_words(phrase)})" for index, phrase in enumerate(phrases)
        )
        pattern = (
            re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if phrases else None
        )
        object.__setattr__(self, "_pattern", pattern)

    def respell(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(self._said, text)

    def _said(self, match: re.Match[str]) -> str:
        return self._spoken[int(str(match.lastgroup)[1:])]


def _words(phrase: str) -> str:
    """A phrase as a pattern: its words in order, any run of whitespace between them."""
    return r"\s+".join(map(re.escape, phrase.split()))


def _fold(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def load_lexicons(paths: Sequence[Path], engines: Sequence[str]) -> dict[str, Lexicon]:
    """One lexicon per engine: every file's [all] and [ENGINE] tables, later files winning."""
    merged: dict[str, dict[str, str]] = {engine: {} for engine in engines}
    for path in paths:
        tables = _read(path)
        for engine in engines:
            for table in (EVERY_ENGINE, engine):
                merged[engine].update(tables.get(table, {}))
    return {engine: Lexicon(entries) for engine, entries in merged.items()}


def _read(path: Path) -> dict[str, dict[str, str]]:
    where = display_path(path)
    text = read_text(path, LexiconError)
    fix = 'Write entries as "word" = "how to say it", under [all] or an engine\'s name.'
    data = parse_toml(text, where, LexiconError, fix)
    tables: dict[str, dict[str, str]] = {}
    for name, table in data.items():
        if not isinstance(table, dict) or not all(
            isinstance(value, str) and value.strip() for value in table.values()
        ):
            raise LexiconError(
                f'[{name}] must be a table of "phrase" = "spoken form" (text, not empty)',
                where=where,
                fix='Write entries like "Epsom" = "Ep sum" under [all], [pyttsx3] or [piper].',
            )
        for phrase in table:
            if not _fold(phrase):
                raise LexiconError(
                    f"[{name}] has an entry with no words to match",
                    where=_blank_key_line(where, text, name),
                    fix='Give the phrase to respell, like "Epsom" = "Ep sum", or remove the line.',
                )
        tables[name] = {str(phrase): str(spoken) for phrase, spoken in table.items()}
    return tables


def _blank_key_line(where: str, text: str, table: str) -> Source | str:
    """The line of a blank key ("" = … or "  " = …) in the table, for the error."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped.strip("[] ").strip("\"'") == table
        elif inside and re.match(r"""^(["'])\s*\1\s*=""", stripped):
            return Source(where, number)
    return where
