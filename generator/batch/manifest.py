"""The rows of a batch: a CSV or JSONL manifest, read and checked before any work.

CSV: a header row, then one row a session to render. JSONL: one JSON object a line. Columns:
``id`` (required, unique: it names the output and keys resumption), ``session`` (required),
``minutes``, ``skip`` (parts separated by ``;`` in CSV, a list in JSONL), any setting by its name
(``listener``, ``title``, ``voice``, ``rate``, ``breath``, ``level``, ``ambience``, ``bell``, …),
and any other setting or template variable as ``set.KEY``. An empty cell is the default. A CSV
cell is read as ``--set`` reads a value (``6`` a number, ``true``, text as it is).

A mistake is one error naming ROWS:LINE and the closest valid name: an unknown column, a
duplicate id, an id that cannot name a file, a row without a session.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from generator.errors import Source, StillpointError, closest
from generator.files.userfiles import display_path, read_text
from generator.recipes.overrides import Overrides, parse_value
from generator.recipes.settings import Settings

ROW_KEYS = ("id", "session", "minutes", "skip")
SET_PREFIX = "set."
MAX_ROWS = 1_000_000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a file name on every system


class ManifestError(StillpointError):
    """The batch's manifest has a mistake: where (ROWS:LINE), what and how to fix it."""


@dataclass(frozen=True)
class Row:
    """One session to render, as the manifest asks for it."""

    id: str
    session: str
    source: Source  # ROWS:LINE
    minutes: float | None = None
    skip: tuple[str, ...] = ()
    values: Mapping[str, object] = field(default_factory=dict)  # settings and variables

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    @property
    def overrides(self) -> Overrides:
        """The row's settings and variables, each told at the row's line when it is wrong."""
        return Overrides(self.values, lambda key: f"{self.source} ({key})")


def read_rows(path: Path) -> tuple[Row, ...]:
    """Every row of the manifest, checked; ManifestError at the first mistake."""
    text = read_text(path, ManifestError)
    where = display_path(path)
    records = (
        _jsonl(text, where) if path.suffix.lower() in (".jsonl", ".ndjson") else _csv(text, where)
    )
    rows: list[Row] = []
    seen: dict[str, Source] = {}
    for source, record in records:
        row = _row(record, source)
        if row.id in seen:
            raise ManifestError(
                f"the id {row.id!r} is used twice",
                where=source,
                fix=f"Give every row its own id (the first is at {seen[row.id]}).",
            )
        seen[row.id] = source
        rows.append(row)
    if not rows:
        raise ManifestError("the manifest has no rows", where=where, fix="Add a row a session.")
    return tuple(rows)


def _csv(text: str, where: str) -> list[tuple[Source, dict[str, object]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    names = [name.strip() for name in header]
    _check_columns(names, Source(where, 1))
    records = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        source = Source(where, reader.line_num)
        if len(cells) > len(names):
            raise ManifestError(
                f"{len(cells)} cells for {len(names)} columns",
                where=source,
                fix="Quote a cell that holds a comma, or remove the extra cells.",
            )
        record = {name: _cell(name, cell) for name, cell in zip(names, cells, strict=False)}
        records.append((source, {key: value for key, value in record.items() if value != ""}))
        if len(records) > MAX_ROWS:
            raise ManifestError(f"more than {MAX_ROWS:,} rows", where=source, fix="Split it.")
    return records


def _cell(name: str, cell: str) -> object:
    text = cell.strip()
    if not text or name in ("id", "session"):
        return text
    if name == "skip":
        return [part.strip() for part in text.split(";") if part.strip()]
    return parse_value(text)


def _jsonl(text: str, where: str) -> list[tuple[Source, dict[str, object]]]:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        source = Source(where, number)
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise ManifestError(
                f"not a JSON object ({error})", where=source, fix='Write {"id": …, "session": …}.'
            ) from None
        if not isinstance(record, dict):
            raise ManifestError("not a JSON object", where=source, fix='Write {"id": …}.')
        flat = {str(key): value for key, value in record.items() if key != "set"}
        nested = record.get("set", {})
        if not isinstance(nested, dict):
            raise ManifestError('"set" must be an object', where=source, fix='"set": {"x": 6}')
        flat.update({SET_PREFIX + str(key): value for key, value in nested.items()})
        _check_columns(list(flat), source)
        records.append((source, {key: value for key, value in flat.items() if value != ""}))
    return records


def _check_columns(names: list[str], source: Source) -> None:
    known = [*ROW_KEYS, *Settings.names()]
    for name in names:
        if name.startswith(SET_PREFIX) and len(name) > len(SET_PREFIX):
            continue
        if name not in known:
            raise ManifestError(
                f"unknown column {name!r}",
                where=source,
                fix=f"{closest(name, known)} Columns: {', '.join(known)}, or set.KEY for any "
                "other setting or template variable.".strip(),
            )
    for required in ("id", "session"):
        if required not in names and source.line == 1:
            raise ManifestError(f"no {required!r} column", where=source, fix=f"Add {required}.")


def _row(record: Mapping[str, object], source: Source) -> Row:
    ident = record.get("id")
    if not isinstance(ident, str) or not _ID.fullmatch(ident):
        raise ManifestError(
            f"the id {ident!r} cannot name a file",
            where=source,
            fix="Use letters, digits, '.', '-' and '_' (at most 100), starting with a letter or "
            "digit.",
        )
    session = record.get("session")
    if not isinstance(session, str) or not session.strip():
        raise ManifestError("this row has no session", where=source, fix="Name one: pigeon.")
    minutes = record.get("minutes")
    if (minutes is not None and not isinstance(minutes, int | float)) or isinstance(minutes, bool):
        raise ManifestError(f"minutes {minutes!r} is not a number", where=source, fix="Write 20.")
    skip = record.get("skip", [])
    if isinstance(skip, str):
        skip = [skip]
    if not isinstance(skip, list) or not all(isinstance(name, str) for name in skip):
        raise ManifestError(
            "skip must list parts", where=source, fix='Write "lizard;pelvic-tilts".'
        )
    values = {
        key.removeprefix(SET_PREFIX): value for key, value in record.items() if key not in ROW_KEYS
    }
    return Row(
        ident,
        session.strip(),
        source,
        float(minutes) if minutes is not None else None,
        tuple(skip),
        values,
    )
