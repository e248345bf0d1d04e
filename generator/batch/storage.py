"""Where a batch's files live: a folder of this machine, or a filesystem URL every node reaches.

``-o`` and ``--cache`` take a folder or an fsspec URL (``file:///mnt/shared/out`` on a shared
mount, ``s3://bucket/out`` or ``gs://…`` with s3fs or gcsfs installed). A row always renders
into a local folder (the output folder itself, or a staging folder beside the local cache when
the output is a URL), and its files are then published: each copied to a hidden name and moved
into place, so a reader of the URL sees a whole file or none. The speech cache at a URL is read
through the local one: a clip is fetched the first time a machine needs it and kept, and a clip
made here is copied up for the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from generator.errors import EnvironmentProblem, OutputError
from generator.files.atomic import write_atomically
from generator.speech.cache import ClipCache, SpeechRequest


def is_url(text: str) -> bool:
    """A filesystem URL (``scheme://…``) rather than a path."""
    scheme, separator, _ = text.partition("://")
    return bool(separator) and scheme.isidentifier()


class Place(Protocol):
    """The folder a batch writes: its rows' files, their done-files and the report."""

    @property
    def label(self) -> str:
        """The folder or URL as the user gave it."""
        ...

    def staging(self) -> Path:
        """The local folder a row renders into."""
        ...

    def location(self, name: str) -> str:
        """Where the file of this name is, as the report tells it."""
        ...

    def publish(self, files: Sequence[Path]) -> None:
        """Put a row's rendered files in their place, each whole or not at all."""
        ...

    def read_text(self, name: str) -> str | None:
        """The text of the file of this name (a path within the place), or None."""
        ...

    def write_text(self, name: str, text: str) -> None:
        """Write the file of this name whole or not at all."""
        ...

    def size(self, name: str) -> int:
        """The file's size in bytes; -1 when it is not there."""
        ...


@dataclass(frozen=True)
class LocalPlace:
    """A folder of this machine: rows render straight into it."""

    folder: Path

    @property
    def label(self) -> str:
        return str(self.folder)

    def staging(self) -> Path:
        return self.folder

    def location(self, name: str) -> str:
        return str(self.folder / name)

    def publish(self, files: Sequence[Path]) -> None:
        """Nothing to do: a render renames its files into place itself."""

    def read_text(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def write_text(self, name: str, text: str) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)

    def size(self, name: str) -> int:
        try:
            return (self.folder / name).stat().st_size
        except OSError:
            return -1


@dataclass(frozen=True)
class RemotePlace:
    """A folder at an fsspec URL; rows render into a local staging folder first."""

    url: str

    @property
    def label(self) -> str:
        return self.url

    def staging(self) -> Path:
        """A folder of this machine's own for this URL: the same one on every run, so what a
        run killed mid-row left there is swept by the next (``files/atomic.py``)."""
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"stillpoint-batch-{digest}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def location(self, name: str) -> str:
        return f"{self.url}/{name}"

    def publish(self, files: Sequence[Path]) -> None:
        for path in files:
            self._put(path, path.name)
            path.unlink()

    def read_text(self, name: str) -> str | None:
        system, root = _filesystem(self.url)
        try:
            return bytes(system.cat_file(f"{root}/{name}")).decode("utf-8")
        except (OSError, UnicodeDecodeError):  # fsspec's FileNotFoundError is an OSError
            return None

    def write_text(self, name: str, text: str) -> None:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", delete=False) as file:
            file.write(text)
        local = Path(file.name)
        try:
            self._put(local, name)
        finally:
            local.unlink(missing_ok=True)

    def size(self, name: str) -> int:
        system, root = _filesystem(self.url)
        try:
            return int(system.size(f"{root}/{name}"))
        except OSError:
            return -1

    def _put(self, local: Path, name: str) -> None:
        system, root = _filesystem(self.url)
        try:
            _put_whole(system, local, f"{root}/{name}")
        except OSError as error:
            raise OutputError(
                f"cannot write {root}/{name}: {error}",
                fix="Check the URL given with -o and that this machine may write there.",
            ) from None


def _put_whole(system: Any, local: Path, destination: str) -> None:
    """Copy to a hidden name beside the destination, then move it into place: a reader of the
    URL sees the whole file or none (the hidden copy is removed if the copy fails)."""
    parent, _, base = destination.rpartition("/")
    hidden = f"{parent}/.{base}.{os.getpid()}.part"
    try:
        system.makedirs(parent, exist_ok=True)
        system.put_file(str(local), hidden)
        system.mv(hidden, destination)
    except OSError:
        with contextlib.suppress(OSError):
            system.rm_file(hidden)
        raise


def place(text: str) -> Place:
    """The place ``-o`` names: a URL, else a folder."""
    return RemotePlace(text.rstrip("/")) if is_url(text) else LocalPlace(Path(text))


@dataclass(frozen=True)
class SharedCache:
    """The speech cache at a URL, read through a local cache (``ClipCache``) of the same
    layout: ``clips/KK/KEY.clip``."""

    url: str

    def pull(self, requests: Iterable[SpeechRequest], local: ClipCache) -> int:
        """Fetch the clips the local cache lacks and the shared one has; how many."""
        system, root = _filesystem(self.url)
        fetched = 0
        for request in requests:
            path = local.path(request)
            if path.is_file():
                continue
            remote = f"{root}/{_relative(local, request)}"
            with contextlib.suppress(FileNotFoundError):
                data = bytes(system.cat_file(remote))
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, data)  # a torn copy fails its digest and is made again
                fetched += 1
        return fetched

    def push(self, requests: Iterable[SpeechRequest], local: ClipCache) -> int:
        """Copy up the clips the local cache has and the shared one lacks; how many."""
        system, root = _filesystem(self.url)
        pushed = 0
        for request in requests:
            path, remote = local.path(request), f"{root}/{_relative(local, request)}"
            if not path.is_file() or system.exists(remote):
                continue
            _put_whole(system, path, remote)
            pushed += 1
        return pushed


def _relative(local: ClipCache, request: SpeechRequest) -> str:
    return local.path(request).relative_to(local.root).as_posix()


def _filesystem(url: str) -> tuple[Any, str]:
    """fsspec's filesystem for the URL, and the path within it (fsspec is imported here: only a
    batch given a URL needs it)."""
    try:
        from fsspec.core import url_to_fs  # type: ignore[import-untyped]
    except ImportError:
        raise EnvironmentProblem(
            f"{url} is a URL, and reading one needs fsspec, which is not installed",
            fix="pip install fsspec (and s3fs or gcsfs for s3:// or gs://).",
        ) from None
    try:
        system, root = url_to_fs(url)
    except (ValueError, ImportError) as error:  # an unknown scheme, or its package missing
        raise EnvironmentProblem(
            f"cannot open {url}: {error}",
            fix="Give a folder, a file:// URL, or install the scheme's package (s3fs, gcsfs).",
        ) from None
    return system, str(root).rstrip("/")
