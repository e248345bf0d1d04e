"""Render time and peak memory against session length: `make bench`.

For sessions of 15, 30 and 60 minutes (speech, pauses, breath windows and bells), it measures in
one run: a warm-cache render (`stillpoint render` in its own process: wall time and peak RSS)
and, as the floor, ffmpeg alone encoding the same audio with Stillpoint's encoder settings.
Ratios are the result; this machine is shared, so absolute seconds vary from run to run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generator.export import MP3_BITRATE

SENTENCES = [
    "Let the breath slow down.",
    "Soften the jaw and the shoulders.",
    "Feel the weight of the hips on the floor.",
    "Notice any holding, and let it be there.",
    "With each exhale, let go a little more.",
    "Stay with the sensations, without judging them.",
]
BLOCK_SECONDS = 60  # one block of the script below lasts this long


def script(minutes: int) -> str:
    """A session of the given length: each minute speaks, breathes in windows, rests, rings."""
    blocks = []
    for minute in range(minutes):
        said = SENTENCES[minute % len(SENTENCES)]
        blocks.append(
            f"[chapter Minute {minute + 1}]\n{said}\n\n"
            "[for 4s] Breathe in.\n[for 4s] Hold.\n[for 4s] Breathe out.\n[for 4s] Rest.\n"
            "[pause 20s]\n[bell chime]\n"
        )
    return "".join(blocks)


def run(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident memory (MB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return time.perf_counter() - started, usage.ru_maxrss // 1024


def main() -> None:
    stillpoint = str(Path(sys.executable).parent / "stillpoint")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for minutes in (15, 30, 60):
            source = work / f"bench-{minutes}.txt"
            source.write_text(script(minutes), encoding="utf-8")
            mp3 = work / f"bench-{minutes}.mp3"
            subprocess.run(
                [stillpoint, "render", str(source), "-o", str(mp3)], check=True, capture_output=True
            )
            render_s, render_mb = run([stillpoint, "render", str(source), "-o", str(mp3)])
            pcm = work / f"bench-{minutes}.s16"
            subprocess.run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-i",
                    str(mp3),
                    "-f",
                    "s16le",
                    "-ac",
                    "1",
                    "-ar",
                    "44100",
                    "-y",
                    str(pcm),
                ],
                check=True,
            )
            encode = [
                "ffmpeg", "-v", "error", "-f", "s16le", "-ar", "44100", "-ac", "1", "-i", str(pcm),
                "-codec:a", "libmp3lame", "-b:a", MP3_BITRATE, "-y", str(work / "baseline.mp3"),
            ]  # fmt: skip
            baseline_s, _ = run(encode)
            rows.append((minutes, baseline_s, render_s, render_mb))
    first_minutes, _, first_render, _ = rows[0]
    print(f"{'minutes':>7} {'ffmpeg alone':>12} {'warm render':>11} {'render/ffmpeg':>13} "
          f"{'time per minute vs 15-min':>25} {'peak RSS':>9}")  # fmt: skip
    for minutes, baseline_s, render_s, render_mb in rows:
        per_minute = (render_s / minutes) / (first_render / first_minutes)
        ratio = render_s / baseline_s
        print(f"{minutes:>7} {baseline_s:>11.2f}s {render_s:>10.2f}s {ratio:>13.2f} "
              f"{per_minute:>25.2f} {render_mb:>6} MB")  # fmt: skip


if __name__ == "__main__":
    main()
