"""Where a batch's work runs: the speech all rows need, made once, then the rows rendered in
warm worker processes through the session's own render (no command line, no speech workers a
row). The local engine is a process pool (``--jobs``, a process a core); ``ray_engine.py`` runs
the same two stages on a Ray cluster.
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from generator.base.pools import interrupts_ignored, spawn_pool, stop_pool
from generator.batch.manifest import Row
from generator.batch.plan import Refusal, RowPlan, input_stamps, plan_row
from generator.batch.report import Done, Result, mark_done
from generator.batch.storage import SharedCache, place
from generator.errors import Source, StillpointError, located
from generator.recipes.catalogue import Catalogue
from generator.session import render
from generator.speech.cache import ClipCache, SpeechRequest
from generator.speech.synthesis import synthesize_all
from generator.writing.output_checks import written_beside

OnClip = Callable[[int], None]
T = TypeVar("T")


class Engine(Protocol):
    """Where a batch's stages run: every row planned, the speech the rows lack, the rows."""

    def plan(self, jobs: Sequence[RowJob]) -> list[RowPlan | Refusal]:
        """Each row planned without audio, in the order of ``jobs``."""
        ...

    def make_speech(
        self, requests: Sequence[SpeechRequest], cache: ClipCache, on_clip: OnClip
    ) -> int:
        """Make each clip once, into the cache; how many were made."""
        ...

    def render(self, jobs: Sequence[RowJob], fail_fast: bool) -> Iterator[Result]:
        """Each row's result, in the order they finish; a row's error is its result."""
        ...

    def close(self) -> None:
        """Let go of what the engine started."""
        ...


class LocalEngine:
    """A pool of ``workers`` processes on this machine (one a core by default) that plans the
    rows and then renders them, and a pool of speech workers between the two."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: futures.ProcessPoolExecutor | None = None

    def plan(self, jobs: Sequence[RowJob]) -> list[RowPlan | Refusal]:
        if not jobs:
            return []
        chunk = max(1, len(jobs) // (4 * self.workers))  # few round trips, the load still even
        return list(self._guarded(lambda pool: pool.map(plan_job, jobs, chunksize=chunk)))

    def make_speech(
        self, requests: Sequence[SpeechRequest], cache: ClipCache, on_clip: OnClip
    ) -> int:
        """Each clip made once, in a pool of speech workers of its own that each keep their
        voice loaded, and end with the stage: a row worker holding piper's model as well
        would pass 400 MB (477 MB measured, make bench-batch); the row workers make only the
        words a plan did not foresee."""
        if requests:
            synthesize_all(requests, cache, workers=self.workers, on_clip=on_clip)
        return len(requests)

    def render(self, jobs: Sequence[RowJob], fail_fast: bool) -> Iterator[Result]:
        """The rows in the order they finish; with ``fail_fast``, the rows not started are
        dropped at the first failure. Interrupted (Ctrl-C, SIGTERM, the caller stopping
        early), the workers are stopped: each removes the hidden files of the render it was in
        (``files/atomic.py``), and nothing is half-written."""
        if not jobs:
            return
        pool = self._rows()
        try:
            with interrupts_ignored():  # the pool starts its processes as jobs are submitted
                pending = {pool.submit(render_row, job) for job in jobs}
            while pending:
                done, pending = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                for finished in done:
                    result = finished.result()
                    yield result
                    if fail_fast and result.status == "failed":
                        for future in pending:
                            future.cancel()
                        pending = {future for future in pending if not future.cancelled()}
        except BaseException:
            self._stop()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _rows(self) -> futures.ProcessPoolExecutor:
        """The row workers, started the first time they are needed and kept for each stage."""
        if self._pool is None:
            self._pool = spawn_pool(self.workers, _row_worker)
        return self._pool

    def _guarded(self, stage: Callable[[futures.ProcessPoolExecutor], Iterable[T]]) -> Iterator[T]:
        """A stage's results; interrupted, the workers are stopped."""
        try:
            with interrupts_ignored():
                results = stage(self._rows())
            yield from results
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        if self._pool is not None:
            stop_pool(self._pool)
            self._pool = None


def missing_speech(wanted: Iterable[SpeechRequest], cache: ClipCache) -> list[SpeechRequest]:
    """The distinct utterances that the cache does not hold yet, in a stable order (the same
    batch makes its clips in the same order)."""
    distinct = sorted(set(wanted), key=lambda request: request.key)
    return [request for request in distinct if not cache.path(request).is_file()]


@dataclass(frozen=True)
class RowJob:
    """What a worker needs to render a row: all plain values, so it travels to any process."""

    id: str
    session: str
    where: str  # ROWS:LINE
    minutes: float | None
    skip: tuple[str, ...]
    values: Mapping[str, object] = field(default_factory=dict)
    scripts: tuple[str, ...] = ()  # the scripts folders searched before the built-in ones
    defaults: Mapping[str, object] = field(default_factory=dict)  # the user's config
    folder: str = ""  # where the row's files go: a folder or a URL (``storage.place``)
    cache: str = ""  # the local speech cache's folder
    shared: str = ""  # the URL of the speech cache every node reads through its own, or ""
    key: str = ""  # plan.row_key: what the row asks for

    @classmethod
    def of(cls, row: Row, catalogue: Catalogue, key: str, defaults: Mapping[str, object],
           places: tuple[str, str, str]) -> RowJob:  # fmt: skip
        """The job of a row; ``places``: its ``folder``, ``cache`` and ``shared``."""
        return cls(
            row.id, row.session, str(row.source), row.minutes, row.skip, dict(row.values),
            tuple(str(path) for path in catalogue.user_dirs), dict(defaults), *places, key,
        )  # fmt: skip

    def row(self) -> Row:
        file, _, line = self.where.rpartition(":")
        return Row(
            self.id, self.session, Source(file, int(line)), self.minutes, self.skip, self.values
        )


def render_row(job: RowJob) -> Result:
    """Render one row in this process; its outcome, never an exception (a worker's crash is
    the engine's to see)."""
    started = time.monotonic()
    cpu = _cpu_seconds()
    try:
        with located(job.where):  # an error with no place of its own is told at ROWS:LINE
            return _rendered(job, started, cpu)
    except _Stopped:  # the render has unwound (its hidden files gone): end, take no next row
        os._exit(128 + signal.SIGTERM)
    except StillpointError as error:
        return _failed(job, error.message(), error.exit_code, started, cpu)
    except Exception as error:  # a bug: reported as the command line reports one, the rest go on
        what = f"internal error: {type(error).__name__}: {error}"
        traceback.print_exc()
        return _failed(job, what, 1, started, cpu)


def plan_job(job: RowJob) -> RowPlan | Refusal:
    """Plan one row in this process (no audio): what it will ask the speech cache for and the
    fingerprint of its inputs, or why it cannot be made (told at its ROWS:LINE)."""
    try:
        planned = plan_row(job.row(), _catalogue(job), place(job.folder).staging(), job.defaults)
    except StillpointError as error:
        return Refusal(job.id, error.message(), error.exit_code)
    return RowPlan(job.id, planned.requests, planned.fingerprint, planned.output.name)


def _catalogue(job: RowJob) -> Catalogue:
    return Catalogue(tuple(Path(folder) for folder in job.scripts))


def _rendered(job: RowJob, started: float, cpu: float) -> Result:
    """Plan the row again here, render it into the place's staging folder, publish its files,
    then remember it done."""
    catalogue = _catalogue(job)
    where, cache = place(job.folder), ClipCache(Path(job.cache))
    planned = plan_row(job.row(), catalogue, where.staging(), job.defaults)
    shared = SharedCache(job.shared) if job.shared else None
    if shared:
        shared.pull(planned.requests, cache)
    rendered = render(
        planned.prepared, catalogue, planned.output, cache, None, planned.target,
        speech_workers=0,  # a word the plan did not foresee: made here
        encoders=1,  # a process a core already: a long MP3's parts one after another
    )  # fmt: skip
    checksum, size = _sha256(planned.output), planned.output.stat().st_size
    where.publish([path for path in written_beside(planned.output) if path.is_file()])
    if shared:
        shared.push(planned.requests, cache)
    inputs = tuple(input_stamps(planned, catalogue))
    mark_done(where, job.id, Done(job.key, inputs, planned.fingerprint, size, checksum))
    return Result(
        job.id,
        "done",
        output=where.location(planned.output.name),
        checksum=checksum,
        seconds=round(rendered.timeline.duration, 3),
        wall=round(time.monotonic() - started, 3),
        cpu=round(_cpu_seconds() - cpu, 3),
        clips_made=rendered.clips_made,
    )


def _failed(job: RowJob, message: str, code: int, started: float, cpu: float) -> Result:
    return Result(
        job.id,
        "failed",
        message=" ".join(message.split()),
        wall=round(time.monotonic() - started, 3),
        cpu=round(_cpu_seconds() - cpu, 3),
        exit_code=code,
    )


def _cpu_seconds() -> float:
    """This process's CPU and its finished children's (the encoder): user and system."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Stopped(BaseException):
    """SIGTERM in a renderer: raised like Ctrl-C's KeyboardInterrupt, so the render unwinds
    (ffmpeg stopped, its hidden files removed) before the process ends."""


def _row_worker() -> None:
    """A row worker leaves Ctrl-C to the parent and unwinds on the parent's SIGTERM; its stdout
    goes nowhere (pyttsx3 prints "Audio saved to …" from a thread of its own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    sys.stdout = Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115 - as long as the worker


def _stop(signum: int, frame: object) -> None:
    raise _Stopped
