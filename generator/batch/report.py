"""What a batch did, row by row, and what each finished row was made from.

``OUTDIR/report.jsonl``: one line a row (id, status, the one-line message, output, checksum,
audio length, wall and CPU time, clips made), written whole at the end of a run and when it is
interrupted. ``OUTDIR/.stillpoint-batch/ID.json``: what a finished row was made from
(``Done``), written after the file itself: a row run again is skipped while its cells, the
files it read and its file are as they were, by a small read and a stat a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from generator.batch.storage import Place

REPORT = "report.jsonl"
DONE_FOLDER = ".stillpoint-batch"

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class Result:
    """One row's outcome."""

    id: str
    status: Status
    message: str = ""  # the one line a failure says (what, where, how to fix it)
    output: str = ""
    checksum: str = ""  # SHA-256 of the audio file
    seconds: float = 0.0  # the audio's length
    wall: float = 0.0  # seconds the row took, start to end
    cpu: float = 0.0  # CPU seconds, the render's process and the encoder's
    clips_made: int = 0
    exit_code: int = 0  # a failure's: 2 the input, 1 the machine

    def line(self) -> str:
        document = asdict(self)
        document.pop("exit_code")
        return json.dumps(document, ensure_ascii=False, sort_keys=False)


Stamp = tuple[str, int, int]  # a file's path, size and modification time (ns); -1, -1: absent


def stamp(path: Path) -> Stamp:
    """The file or folder as it is now: its resolved path, size and modification time."""
    try:
        status = path.stat()
    except OSError:
        return str(path), -1, -1
    return str(path.resolve()), status.st_size, status.st_mtime_ns


@dataclass(frozen=True)
class Done:
    """What a finished row was made from: the key of its cells (``plan.row_key``), the stamps
    of the files it read, its fingerprint (every input, ``plan.py``) and its file's size."""

    key: str
    inputs: tuple[Stamp, ...]
    fingerprint: str
    size: int
    checksum: str


def done_unchanged(place: Place, row_id: str, key: str, output: str) -> bool:
    """The row was made from these cells, every file it read is as it was, and its file
    (``output``, a name in the place) is there as it was written: skipped without planning (a
    small read and a stat a file: well under a millisecond on a local disk)."""
    done = _done(place, row_id)
    if done is None or done.key != key or place.size(output) != done.size:
        return False
    return all(stamp(Path(path)) == (path, size, mtime) for path, size, mtime in done.inputs)


def done_before(place: Place, row_id: str, fingerprint: str, output: str) -> bool:
    """The row's file is there, as it was written, from the same inputs (planned again)."""
    done = _done(place, row_id)
    return done is not None and done.fingerprint == fingerprint and place.size(output) == done.size


def _done(place: Place, row_id: str) -> Done | None:
    text = place.read_text(_done_name(row_id))
    if text is None:
        return None
    try:
        stored = json.loads(text)
        inputs = tuple((str(p), int(s), int(m)) for p, s, m in stored["inputs"])
        return Done(
            str(stored["key"]), inputs, str(stored["fingerprint"]), int(stored["size"]),
            str(stored["checksum"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):  # torn, or from another version
        return None


def _done_name(row_id: str) -> str:
    return f"{DONE_FOLDER}/{row_id}.json"


def mark_done(place: Place, row_id: str, done: Done) -> None:
    """Remember a finished row (after its file is in place: a crash between the two only costs
    the row being made again)."""
    place.write_text(_done_name(row_id), json.dumps(asdict(done)) + "\n")


def write_report(place: Place, results: Sequence[Result]) -> None:
    """The report of the rows that finished (done, skipped or failed), in manifest order."""
    place.write_text(REPORT, "".join(result.line() + "\n" for result in results))
