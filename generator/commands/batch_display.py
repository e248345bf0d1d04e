"""What `stillpoint batch` shows while it runs: one line kept up to date on a terminal (clips
made of those needed, rows done of the total, minutes of audio, failures, time left), else a
line a finished row, for a log."""

from __future__ import annotations

import sys
from typing import TextIO

from generator.base.durations import format_clock
from generator.base.text import counted, printable
from generator.batch.report import Result
from generator.batch.run import Progress


class BatchDisplay:
    """Told after each clip and each row (``run.Watch``)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.width = 0  # of the live line last written, to clear it

    def __call__(self, progress: Progress, result: Result | None) -> None:
        if self.live:
            self._status(progress)
        elif result is not None:
            self._line(progress, result)

    def close(self) -> None:
        """End the live line, so what follows starts on its own."""
        if self.live and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0

    def _status(self, progress: Progress) -> None:
        left = progress.left
        parts = [
            f"clips {progress.clips_made}/{progress.clips_needed}",
            f"rows {progress.finished}/{progress.rows}",
            f"{progress.audio_seconds / 60:.1f} min of audio",
            counted(progress.failed, "failed", "failed"),
        ]
        if left is not None:
            parts.append(f"about {format_clock(left)} left")
        line = " · ".join(parts)
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def _line(self, progress: Progress, result: Result) -> None:
        done = f"[{progress.finished}/{progress.rows}]"
        if result.status == "failed":
            said = f"{done} {result.id} failed: {result.message}"
        elif result.status == "skipped":
            said = f"{done} {result.id} skipped (done before, from the same inputs)"
        else:
            said = f"{done} {result.id} {format_clock(result.seconds)} in {result.wall:.1f} s"
        self.stream.write(printable(said) + "\n")
        self.stream.flush()
