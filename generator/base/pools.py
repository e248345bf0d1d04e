"""Worker process pools that stop when their parent says: speech workers, a batch's renderers.

Processes are started with the ``spawn`` method (eSpeak NG hangs if forked after start-up, and a
fresh interpreter holds no copy of the parent's memory). A Ctrl-C in the terminal goes to every
process of the foreground group: the workers ignore it and the parent, which decides, stops them.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator


def spawn_pool(workers: int, initializer: Callable[[], None]) -> futures.ProcessPoolExecutor:
    """A pool of at most ``workers`` spawned processes, each first running ``initializer``."""
    return futures.ProcessPoolExecutor(
        max_workers=max(1, workers),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
    )


@contextlib.contextmanager
def interrupts_ignored() -> Iterator[None]:
    """Processes started in this block ignore SIGINT from their first instruction.

    A worker that took a Ctrl-C while importing would print a traceback. An ignored signal is
    inherited across exec, a handler is not. A Ctrl-C during these few milliseconds of starting
    processes is lost: the user presses it again.
    """
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_pool(pool: futures.ProcessPoolExecutor) -> None:
    """End the workers now (SIGTERM, then 5 s each to exit): a hung eSpeak would make a polite
    shutdown wait for ever."""
    processes = list(pool._processes.values())  # no public way before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
    # The pool's manager thread closes its wake-up pipe as it ends; Python 3.11's exit hook
    # writes to that pipe, and when the two meet the user saw "Exception ignored ... Bad file
    # descriptor" after "stillpoint: terminated" (once in a run of the test suite): let it end
    # first.
    manager: threading.Thread | None = getattr(pool, "_executor_manager_thread", None)  # private
    if manager is not None:
        manager.join(timeout=5)
