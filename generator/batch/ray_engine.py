"""A batch's two stages on a Ray cluster (``stillpoint batch --engine ray``), past one machine.

The speech the rows lack is made by a few Ray actors (one a worker), each keeping its voice
model loaded between clips; each row is then one Ray task running the same ``render_row`` as the
local pool, so the same rows give byte-identical files with either engine. Every actor and task
declares what it takes (a CPU and its memory), so Ray places no more on a node than it holds. A
row's error comes back as its result, never as a task failure: Ray retries a task only when its
worker was lost (a node gone, a process killed), and a row whose worker is lost every time is a
failed row, the others go on.

Ray is an optional extra (``pip install 'stillpoint-sessions[ray]'``), imported only when this
engine is used: ``stillpoint --help`` and the local engine never load it. Without ``--address``
(or ``RAY_ADDRESS``) a Ray of this machine is started for the batch, with ``workers`` CPUs, and
stopped with it; given one, the batch runs on that cluster (a cluster that asks for a token:
``RAY_AUTH_MODE=token`` and its token, as Ray documents; a ``ray://`` client address needs
``ray[client]``). The workers import ``generator`` as this process does: on a Ray of this
machine they run this Python, with this environment's Stillpoint. Every node of a cluster needs
Stillpoint installed, the same version as here (a row rendered by another version fails with a
message saying so), with eSpeak NG, ffmpeg and the voices the rows ask for; the output (``-o``)
and the speech cache are a folder every node reaches at the same path, or URLs
(``storage.py``); so is any file a row names (a user scripts folder, a cover, an ambience).
Relative paths are resolved here first. A clip made on another node is copied back into this
machine's cache. Ray's own logging stays out of the terminal: the batch prints its progress as
with the local engine, and a Ray that cannot be reached is one error line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from generator import __version__
from generator.batch.engines import OnClip, RowJob, plan_job, render_row
from generator.batch.plan import Refusal, RowPlan
from generator.batch.report import Result
from generator.batch.storage import is_url, place
from generator.errors import EnvironmentProblem, SynthesisError
from generator.files.atomic import remove_stale, write_atomically
from generator.speech.cache import ClipCache, SpeechRequest
from generator.speech.synthesis import Unstored, clip_in_worker, synthesis_failed
from generator.speech.voices import CLIP_TIMEOUT

MB = 1 << 20
SPEECH_MEMORY = 600 * MB  # a speech actor: piper's model and onnxruntime (eSpeak NG far less)
RENDER_MEMORY = 600 * MB  # a row's render: 231 MB for 60 minutes with eSpeak NG, 468 with piper
RETRIES = 2  # a task whose worker was lost runs again this many times, on any node
START_SECONDS = 120.0  # for the actors to start (a cluster may have to start processes or nodes)
INSTALL = "pip install 'stillpoint-sessions[ray]'"


def ray_module() -> ModuleType:
    """Ray, imported now (it takes a moment); EnvironmentProblem when it is not installed."""
    require_ray()
    import ray

    return ray


def require_ray() -> None:
    """EnvironmentProblem, saying how to install it, when Ray is not installed (not importing
    it: a check before any row is planned)."""
    if importlib.util.find_spec("ray") is None:
        raise EnvironmentProblem(
            "the Ray engine needs Ray, which is not installed",
            fix=f"Install the extra: {INSTALL}, or leave out --engine ray.",
        )


@dataclass(kw_only=True)
class RayEngine:
    """The batch on a Ray cluster: ``address`` (None: ``RAY_ADDRESS``, else a Ray of this machine
    with ``workers`` CPUs); ``workers`` speech actors, and as many rows rendered at once.

    Use it in a ``with`` block (or call ``close``): a Ray it started is stopped at the end.
    """

    address: str | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    _started: bool = field(default=False, init=False, repr=False)  # ray.init was ours

    def __post_init__(self) -> None:
        require_ray()
        self.workers = max(1, self.workers)

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the Ray this engine started (a Ray started by someone else is left running)."""
        if self._started:
            ray_module().shutdown()
            self._started = False

    def _ray(self) -> ModuleType:
        """Ray, connected: to the cluster at the address, or to a Ray started here."""
        ray = ray_module()
        if ray.is_initialized():  # already connected (by the caller, or an earlier stage)
            return ray
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        try:
            with _stderr_kept() as said:  # Ray's own lines (its C++ client retrying, …)
                if address:
                    ray.init(address=address, **quiet)
                else:
                    ray.init(num_cpus=self.workers, include_dashboard=False, **quiet)
                    self._started = True
        except (ConnectionError, ValueError, RuntimeError) as error:
            where = f"the Ray cluster at {address}" if address else "a Ray on this machine"
            token = "Authentication" in said.getvalue()
            raise EnvironmentProblem(
                f"cannot connect to {where}: {_one_line(error)}"
                + (" (the cluster asks for a token)" if token else ""),
                fix="Set RAY_AUTH_MODE=token and the cluster's token (see Ray's documentation)."
                if token
                else "Check the address (ray status on the cluster), or leave out --address to "
                "run Ray on this machine.",
            ) from None
        return ray

    def plan(self, jobs: Sequence[RowJob]) -> list[RowPlan | Refusal]:
        """Each row planned by a Ray task (no audio: a CPU, little memory), in order."""
        if not jobs:
            return []
        ray = self._ray()
        task = ray.remote(plan_job).options(num_cpus=1, max_retries=RETRIES)
        references = [task.remote(_absolute(job)) for job in jobs]
        try:
            return [
                _plan_outcome(ray, reference, job)
                for reference, job in zip(references, jobs, strict=True)
            ]
        except BaseException:
            for reference in references:
                ray.cancel(reference)
            raise

    def make_speech(
        self, requests: Sequence[SpeechRequest], cache: ClipCache, on_clip: OnClip
    ) -> int:
        """Make each clip once into the cache, in ``workers`` actors that keep their voices."""
        if not requests:
            return 0
        ray = self._ray()
        root = str(cache.root.resolve())
        actor = ray.remote(Speaker).options(
            num_cpus=1,
            memory=_fitting(ray, SPEECH_MEMORY),
            max_restarts=RETRIES,  # a speaker lost: started again, its clip made again
            max_task_retries=RETRIES,
        )
        here = ray.get_runtime_context().get_node_id()
        speakers = [actor.remote(here) for _ in range(min(self.workers, len(requests)))]
        todo = list(reversed(requests))
        working: dict[Any, tuple[Any, SpeechRequest]] = {}  # a clip being made: its speaker
        deadline = time.monotonic() + START_SECONDS + CLIP_TIMEOUT * len(requests)
        try:
            for speaker in speakers:
                if todo:
                    request = todo.pop()
                    working[speaker.make.remote(request, root)] = (speaker, request)
            while working:
                left = deadline - time.monotonic()
                ready, _ = ray.wait(list(working), num_returns=1, timeout=max(0.0, left))
                if not ready:
                    raise SynthesisError(
                        "speech synthesis timed out on the Ray cluster",
                        fix="Check that eSpeak NG works on every node: espeak-ng 'hello'",
                    )
                speaker, request = working.pop(ready[0])
                _keep_clip(request, cache, _clip_outcome(ray, ready[0]))
                on_clip(1)
                if todo:
                    request = todo.pop()
                    working[speaker.make.remote(request, root)] = (speaker, request)
        except BaseException:  # an error or Ctrl-C: a speaker stopped mid-clip leaves its part
            for speaker in speakers:
                ray.kill(speaker)
            for _speaker, request in working.values():
                remove_stale(cache.path(request))
            raise
        for speaker in speakers:  # their CPUs go to the rows
            ray.kill(speaker)
        return len(requests)

    def render(self, jobs: Sequence[RowJob], fail_fast: bool) -> Iterator[Result]:
        """Each row one Ray task, at most ``workers`` at once, in the order they finish; with
        ``fail_fast`` the rows not yet started are dropped at the first failure (those running
        finish, as in the local pool)."""
        if not jobs:
            return
        ray = self._ray()
        task = ray.remote(render_on_node).options(
            num_cpus=1,
            memory=_fitting(ray, RENDER_MEMORY),
            max_retries=RETRIES,  # a worker lost: the row again, elsewhere
            retry_exceptions=False,  # a row's error is its result, not worth a retry
        )
        todo = list(reversed(jobs))
        running: dict[Any, RowJob] = {}
        try:
            while todo or running:
                while todo and len(running) < self.workers:
                    job = todo.pop()
                    running[task.remote(_absolute(job), __version__)] = job
                ready, _ = ray.wait(list(running), num_returns=1)
                job = running.pop(ready[0])
                result = _row_outcome(ray, ready[0], job)
                yield result
                if fail_fast and result.status == "failed":
                    todo.clear()
        finally:
            for reference in running:  # stopped early (Ctrl-C, an error): the rest is not needed
                ray.cancel(reference)


class Speaker:
    """A Ray actor making clips into its node's cache, its speech engines kept between clips."""

    def __init__(self, driver_node: str) -> None:
        import ray

        self.elsewhere = ray.get_runtime_context().get_node_id() != driver_node

    def make(self, request: SpeechRequest, cache_root: str) -> str | Unstored | bytes:
        """ "" once the clip is in the cache, the clip when the cache refused it, else an error;
        on another node than the batch's, the cached clip's bytes (for the batch's own cache,
        which a shared cache is filled from)."""
        outcome = clip_in_worker(request, Path(cache_root))
        if outcome == "" and self.elsewhere:
            return ClipCache(Path(cache_root)).path(request).read_bytes()
        return outcome


def render_on_node(job: RowJob, version: str) -> Result:
    """A row rendered in a Ray worker, by the same Stillpoint as the batch's."""
    if version != __version__:
        message = (
            f"this Ray node has Stillpoint {__version__}, the batch {version}: install the same "
            "version on every node"
        )
        return Result(job.id, "failed", message=message, exit_code=1)
    return render_row(job)


def _clip_outcome(ray: ModuleType, reference: Any) -> str | Unstored | bytes:
    try:
        outcome: str | Unstored | bytes = ray.get(reference)
    except ray.exceptions.RayError as error:  # the actor lost after its restarts
        return f"the Ray worker was lost ({_one_line(error)})"
    return outcome


def _keep_clip(request: SpeechRequest, cache: ClipCache, outcome: str | Unstored | bytes) -> None:
    """A clip made on another node is stored in this one's cache too; an error text is the
    SynthesisError the local pool raises; a clip the cache refused is made again by the row
    that needs it, as in the local pool."""
    if isinstance(outcome, bytes):
        path = cache.path(request)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, outcome)  # a torn copy fails its digest and is made again
    elif isinstance(outcome, str) and outcome:
        raise synthesis_failed(request, outcome)


def _plan_outcome(ray: ModuleType, reference: Any, job: RowJob) -> RowPlan | Refusal:
    """The row's plan; a task that died is the row refused, in one line (exit 1)."""
    try:
        outcome: RowPlan | Refusal = ray.get(reference)
    except ray.exceptions.RayError as error:
        return Refusal(job.id, f"{job.where}: cannot plan it on Ray: {_one_line(error)}", 1)
    return outcome


def _row_outcome(ray: ModuleType, reference: Any, job: RowJob) -> Result:
    """The row's result, its output named as the batch named it; a task that died (its worker
    lost every time it ran) is the row failed, in one line."""
    try:
        result: Result = ray.get(reference)
    except ray.exceptions.RayTaskError as error:  # a bug: as the local pool reports one
        message = f"internal error: {_one_line(error.cause or error)}"
        return Result(job.id, "failed", message=message, exit_code=1)
    except ray.exceptions.RayError as error:
        message = f"its Ray worker was lost ({_one_line(error)})"
        return Result(job.id, "failed", message=message, exit_code=1)
    if result.output and not is_url(job.folder):  # named in the folder as the batch gave it
        name = Path(result.output).name
        result = dataclasses.replace(result, output=place(job.folder).location(name))
    return result


def _absolute(job: RowJob) -> RowJob:
    """The job with its folders absolute (a worker does not share this process's working
    folder); a URL as it is."""

    def resolved(text: str) -> str:
        return text if not text or is_url(text) else str(Path(text).resolve())

    return dataclasses.replace(
        job,
        folder=resolved(job.folder),
        cache=resolved(job.cache),
        scripts=tuple(resolved(folder) for folder in job.scripts),
    )


def _fitting(ray: ModuleType, memory: int) -> int:
    """The memory to declare: ``memory``, or less on a cluster whose largest node has less for
    tasks (more would wait for ever for a node that does not exist)."""
    nodes = [node["Resources"].get("memory", 0) for node in ray.nodes() if node.get("Alive")]
    largest = int(max(nodes, default=0))
    return min(memory, largest) if largest > 0 else memory


@contextlib.contextmanager
def _stderr_kept() -> Iterator[io.StringIO]:
    """What this process writes to its standard error (file descriptor 2, where Ray's C++ core
    logs) kept out of the terminal for the block; the text, to read after it."""
    said = io.StringIO()
    with tempfile.TemporaryFile() as kept:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(kept.fileno(), 2)
        try:
            yield said
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            kept.seek(0)
            said.write(kept.read().decode("utf-8", "replace"))


def _one_line(error: BaseException) -> str:
    """The first line of an error, as a row's message says it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return f"{type(error).__name__}: {first}"[:300] if first else type(error).__name__
