"""What took measuring, kept on disk by a key of everything that decides it: small text
records beside the speech clips' cache (a mastering plan, a voice's loudness). A record that is
absent, unreadable or damaged is None to its reader, which measures again; one that cannot be
written only costs time."""

from __future__ import annotations

from pathlib import Path

from generator.files.atomic import write_atomically


class Memo:
    """Records in ``folder``, one file a key (a hex digest)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, key: str) -> str | None:
        try:
            return (self.folder / f"{key}.json").read_text(encoding="utf-8")
        except (OSError, ValueError):  # absent, unreadable, not UTF-8
            return None

    def save(self, key: str, text: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(self.folder / f"{key}.json", text, durable=False)
        except OSError:
            pass
