"""Files that appear whole or not at all: written under a hidden name beside the destination,
then renamed over it (a rename within one folder is atomic)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temporary_beside(destination: Path) -> Path:
    """Create an empty hidden file in the destination's folder, with the umask's usual mode."""
    while True:
        candidate = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate


def commit(temporary: Path, destination: Path) -> None:
    """Flush the finished file to disk, then move it over the destination in one step."""
    with temporary.open("rb") as written:
        os.fsync(written.fileno())
    temporary.replace(destination)
