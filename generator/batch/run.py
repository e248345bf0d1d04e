"""A batch from its manifest to its report: plan every row (no audio), skip the rows done from
the same inputs, make the speech the others need once, render them, and report.

The report is written when the run ends, and when it is interrupted: the rows that finished are
in it, and no file is half-written (every render writes under hidden names, renamed at its end).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator.base.text import counted, printable
from generator.batch.engines import Engine, LocalEngine, RowJob, missing_speech
from generator.batch.manifest import Row, read_rows
from generator.batch.plan import Refusal, RowPlan, row_key
from generator.batch.report import REPORT, Result, done_before, done_unchanged, write_report
from generator.batch.storage import LocalPlace, Place, SharedCache, place
from generator.errors import OutputError, StillpointError
from generator.files.atomic import remove_stale
from generator.recipes.catalogue import Catalogue
from generator.speech.cache import ClipCache
from generator.writing.output_checks import check_output, written_beside


@dataclass
class Progress:
    """What a batch has done so far: clips made of those needed, rows finished of the total."""

    rows: int = 0
    clips_needed: int = 0
    clips_made: int = 0
    finished: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    results: list[Result] = field(default_factory=list)

    @property
    def left(self) -> float | None:
        """Seconds left, from the rows finished so far (None before the first)."""
        rendered = [r for r in self.results if r.status != "skipped"]
        if not rendered:
            return None
        todo = self.rows - self.finished
        return (time.monotonic() - self.started) / len(rendered) * todo


Watch = Callable[[Progress, Result | None], None]  # told after each clip or row


@dataclass(frozen=True)
class Batch:
    """What ``stillpoint batch`` was asked."""

    manifest: Path
    output: Path | str  # a folder, or a filesystem URL (``storage.py``)
    catalogue: Catalogue
    cache: ClipCache  # this machine's
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    fail_fast: bool = False
    defaults: Mapping[str, object] = field(default_factory=dict)  # the user's config settings
    shared_cache: str = ""  # the URL of a speech cache every node reads, or ""

    @property
    def place(self) -> Place:
        return place(str(self.output))


def run(batch: Batch, watch: Watch, engine: Engine | None = None) -> Progress:
    """Run the batch on ``engine`` (a local pool of ``batch.jobs`` by default, closed at the
    end); its progress (the results in manifest order) when it has finished, or when it is
    interrupted."""
    if engine is not None:
        return _run(batch, watch, engine)
    local = LocalEngine(batch.jobs)
    try:
        return _run(batch, watch, local)
    finally:
        local.close()


def _run(batch: Batch, watch: Watch, engine: Engine) -> Progress:
    rows = read_rows(batch.manifest)
    where = batch.place
    _check_place(where)  # before any work; a folder is made only once every row is checked
    progress = Progress(rows=len(rows))
    order = {row.id: index for index, row in enumerate(rows)}
    jobs = _unfinished(batch, rows)
    plans = _planned(engine, list(jobs.values()))  # a mistake in any row stops the batch here
    staged = [where.staging() / plan.output for plan in plans]
    try:
        for row in rows:
            if row.id not in jobs:
                _skipped(row.id, where.location(_name(row)), progress, watch)
        todo = _skip_done(plans, where, progress, watch)
        _sweep(staged)  # what a batch killed mid-row left
        _make_speech(batch, engine, todo, progress, watch)
        for result in engine.render([jobs[plan.id] for plan in todo], batch.fail_fast):
            _count(progress, result)
            watch(progress, result)
    finally:
        _sweep(staged)  # the rows an interruption stopped mid-way
        progress.results.sort(key=lambda result: order[result.id])
        write_report(where, progress.results)
    return progress


def _unfinished(batch: Batch, rows: Sequence[Row]) -> dict[str, RowJob]:
    """The job of each row not made before from the same cells and unchanged files (those are
    skipped without planning), by id."""
    places = (str(batch.output), str(batch.cache.root), batch.shared_cache)
    jobs = {}
    for row in rows:
        key = row_key(row, batch.catalogue, batch.defaults)
        if not done_unchanged(batch.place, row.id, key, _name(row)):
            jobs[row.id] = RowJob.of(row, batch.catalogue, key, batch.defaults, places)
    return jobs


class RowRefused(StillpointError):
    """A row of the manifest cannot be made: told at its ROWS:LINE, before any work."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.exit_code = refusal.exit_code


def _planned(engine: Engine, jobs: Sequence[RowJob]) -> list[RowPlan]:
    """Every row planned; the first (in the manifest's order) that cannot be is an error."""
    plans = engine.plan(jobs)
    refused = next((plan for plan in plans if isinstance(plan, Refusal)), None)
    if refused is not None:
        raise RowRefused(refused)
    return [plan for plan in plans if isinstance(plan, RowPlan)]


def _make_speech(
    batch: Batch, engine: Engine, todo: Sequence[RowPlan], progress: Progress, watch: Watch
) -> None:
    """The speech the rows lack, made once; through the shared cache when there is one."""
    wanted = {request for plan in todo for request in plan.requests}
    shared = SharedCache(batch.shared_cache) if batch.shared_cache else None
    if shared:
        shared.pull(wanted, batch.cache)
    needed = missing_speech(wanted, batch.cache)
    progress.clips_needed = len(needed)

    def clip_made(count: int) -> None:
        progress.clips_made += count
        watch(progress, None)

    engine.make_speech(needed, batch.cache, clip_made)
    if shared:
        shared.push(needed, batch.cache)


def _name(row: Row) -> str:
    return f"{row.id}.mp3"


def _skip_done(
    plans: Sequence[RowPlan], where: Place, progress: Progress, watch: Watch
) -> list[RowPlan]:
    """The rows to render: those not made before from the same inputs (a template saved again
    unchanged changes its time, not the file it makes)."""
    todo = []
    for plan in plans:
        if done_before(where, plan.id, plan.fingerprint, plan.output):
            _skipped(plan.id, where.location(plan.output), progress, watch)
        else:
            todo.append(plan)
    return todo


def _skipped(row_id: str, output: str, progress: Progress, watch: Watch) -> None:
    result = Result(row_id, "skipped", "done before, from the same inputs", output)
    _count(progress, result)
    watch(progress, result)


def _sweep(outputs: Sequence[Path]) -> None:
    """Remove the hidden files of renders whose process has died (``files/atomic.py``)."""
    for output in outputs:
        for path in written_beside(output):
            remove_stale(path)


def _count(progress: Progress, result: Result) -> None:
    progress.results.append(result)
    progress.finished += 1
    progress.failed += result.status == "failed"
    progress.audio_seconds += result.seconds


def _check_place(where: Place) -> None:
    """A folder that can be made and written, or a URL that can be read."""
    if isinstance(where, LocalPlace):
        folder = where.folder
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder} is not a folder", fix="Give -o the folder to render into.")
        check_output(folder / "row.mp3")
    else:
        where.size(REPORT)  # the scheme known, its package installed: or one clear line now


def batch_summary(progress: Progress, where: Place) -> str:
    """The line a batch ends with: what it made, skipped and failed, and where the report is."""
    counts = Counter(result.status for result in progress.results)
    return (
        f"Rendered {counted(counts['done'], 'row')} into {printable(where.label)} "
        f"({counts['skipped']} skipped, {counts['failed']} failed, "
        f"{progress.audio_seconds / 60:.1f} minutes of audio); "
        f"report: {printable(where.location(REPORT))}"
    )


def batch_exit_code(progress: Progress) -> int:
    """2 when every failed row failed on its input (fixable by the user), else 1."""
    failed = [result for result in progress.results if result.status == "failed"]
    return 2 if all(result.exit_code == 2 for result in failed) else 1
