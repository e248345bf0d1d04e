"""Files that appear whole or not at all: written under a hidden name beside the destination,
flushed to disk, then renamed over it (a rename within one folder is atomic).

The hidden name, ``.NAME.PID.RANDOM.part``, carries the writer's process id: a render killed
before it could clean up (``kill -9``, a power cut) leaves one behind, and the next write to the
same destination removes it once that process is gone, never a live render's.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from generator.errors import OutputError

PART_SUFFIX = ".part"


def temporary_beside(destination: Path) -> Path:
    """Create an empty hidden file in the destination's folder, with the umask's usual mode.

    Stale temporary files of the same destination, left by processes that no longer run, are
    removed first.
    """
    remove_stale(destination)
    while True:
        candidate = destination.with_name(
            f".{destination.name}.{os.getpid()}.{secrets.token_hex(4)}{PART_SUFFIX}"
        )
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate


def remove_stale(destination: Path) -> list[Path]:
    """Remove the temporary files of destination whose writer has died; returns them."""
    own = re.compile(rf"\.{re.escape(destination.name)}\.(\d+)\.[0-9a-f]+{re.escape(PART_SUFFIX)}")
    removed = []
    pattern = f".{glob.escape(destination.name)}.*{PART_SUFFIX}"
    for path in destination.parent.glob(pattern):
        match = own.fullmatch(path.name)
        if match and not _alive(int(match[1])):
            with contextlib.suppress(FileNotFoundError):  # another render removed it first
                path.unlink()
                removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OverflowError:  # not a process id at all: nobody's
        return False
    return True


def commit(temporary: Path, destination: Path, durable: bool = True) -> None:
    """Flush the finished file to disk (``durable``), then move it over the destination in one
    step."""
    commit_all([(temporary, destination)], durable=durable)


def commit_all(
    pairs: Sequence[tuple[Path, Path]], remove: Sequence[Path] = (), durable: bool = True
) -> None:
    """Flush every finished file, then rename them all over their destinations together, and
    remove the files of the set that are no longer written (``remove``) in the same step.

    The slow part (fsync) comes first, and Ctrl-C or SIGTERM waits for the renames, so a set of
    files (an MP3 and its transcripts) is never left half old, half new by an interrupt.
    """
    for temporary, _ in pairs if durable else ():
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
    with _signals_deferred():
        for temporary, destination in pairs:
            temporary.replace(destination)
        for path in remove:
            path.unlink(missing_ok=True)
    for folder in dict.fromkeys(destination.parent for _, destination in pairs if durable):
        _sync_folder(folder)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive in the block are acted on (raised again) after it."""
    if threading.current_thread() is not threading.main_thread():  # only it receives them
        yield
        return
    caught: list[int] = []
    previous = {
        number: signal.signal(number, lambda number, frame: caught.append(number))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (after a crash the folder names the new file)."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a folder: its rename is enough
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a folder; the rename is still atomic
        pass
    finally:
        os.close(descriptor)


def write_atomically(destination: Path, data: bytes | str, durable: bool = True) -> None:
    """Write the whole file under a temporary name and rename it into place; never half of it.

    ``durable`` False: not flushed to disk first, for a file whose reader checks it (a cache
    entry with its digest): a power cut may leave it torn, and its reader makes it again.
    """
    temporary = temporary_beside(destination)
    try:
        if isinstance(data, str):
            temporary.write_text(data, encoding="utf-8")
        else:
            temporary.write_bytes(data)
        commit(temporary, destination, durable)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def staged(destinations: Sequence[Path], remove: Sequence[Path] = ()) -> Iterator[list[Path]]:
    """Temporary paths beside each destination, renamed over them only if the block succeeds;
    then, in the same step, the files of ``remove`` (left from an earlier set) are removed."""
    for destination in destinations:
        if destination.is_dir():
            raise OutputError(
                f"{destination} is a folder", fix="Give a file name such as session.mp3."
            )
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"cannot create the folder {destination.parent}: {error.strerror}",
                fix="Choose another output path with -o.",
            ) from None
    temporary: list[Path] = []
    try:
        temporary.extend(temporary_beside(destination) for destination in destinations)
        yield list(temporary)
        commit_all(list(zip(temporary, destinations, strict=True)), remove)
    except OSError as error:  # permission denied, disk full, read-only file system…
        raise OutputError(
            f"cannot write {error.filename or destinations[0]}: {error.strerror or error}",
            fix="Choose another output path with -o, or free some space.",
        ) from None
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
