"""Personalised sessions in a batch against the command line, one at a time: `make bench-batch`.

Rows of `pigeon` (its default length) in the default voice, each with its own listener's name,
so that each row has speech of its own (the greeting and the thank-you) and shares the rest.
Measured in one run, every `stillpoint` in its own process (wall time, CPU time and the peak
resident memory of its largest process, children included, from os.wait4):

(a) the shared clips made once (a batch of one row), so that what follows is what a nightly
    batch does: the shared speech cached, the names not;
(b) `stillpoint render pigeon --set listener=NAME`: one personalised file through the CLI, the
    way a shell loop makes them (CPU per file, with its interpreter start and speech workers);
(c) `stillpoint batch` of ROWS rows and of 2 x ROWS other rows with --jobs 2: the CPU a row
    is the difference over ROWS (what a row more costs; the batch's fixed costs, interpreter
    and workers starting, apart), and (d) 2 x ROWS rows with --jobs 1: rows a second with two
    workers against one; peak memory;
(e) the batch of 2 x ROWS rows run again in this process: every row skipped; its whole time
    over its rows (the time of a batch that skips them all, a row);
(f) the orchestration: the parent's own CPU a row in an in-process batch (reading, checking
    and scheduling the rows, collecting the results), the rows' own work apart.

It prints the machine and a markdown table README's "Rendering many sessions" can take as it is.
This machine is shared: absolute seconds vary from run to run; the ratios are the result.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench_render import Run, run  # tools/: one way to measure a process

ROWS = 8
SESSION = "pigeon"
# Targets (issue 19), printed beside the measurements.
CPU_PER_ROW = 5.5  # CPU-s a personalised row, shared clips cached
CPU_PER_ROW_ROUND_2 = 3.5  # issue 20: with mastering and limiting at most a quarter of a render
SPEED_UP = 1.8  # rows a second, 2 workers against 1
ORCHESTRATION_MS = 50.0  # the parent's own CPU a row
SKIP_MS = 5.0  # a finished row skipped when the batch runs again
WORKER_MB = 400.0
FLAT = 1.1  # the largest process after ROWS rows against after one: within 10 %


def stillpoint(arguments: Sequence[str], env: Mapping[str, str]) -> Run:
    """One `stillpoint` command in its own process; stops the bench if it fails."""
    return run([str(Path(sys.executable).parent / "stillpoint"), *arguments], env)


def manifest(folder: Path, names: Sequence[str]) -> Path:
    path = folder / f"rows-{names[0]}.csv"
    lines = ["id,session,listener", *(f"{name.lower()},{SESSION},{name}" for name in names)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def names(prefix: str, count: int) -> list[str]:
    """Distinct listener names (each speaks a greeting of its own)."""
    return [f"{prefix}{chr(ord('a') + index)}" for index in range(count)]


def batch(rows: Path, out: Path, jobs: int, env: Mapping[str, str]) -> Run:
    return stillpoint(["batch", str(rows), "-o", str(out), "--jobs", str(jobs)], env)


def report_lines(out: Path) -> list[dict[str, object]]:
    text = (out / "report.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def in_process(rows: Path, out: Path) -> tuple[float, float, int]:
    """A batch run in this process: its wall seconds, the parent's own CPU seconds (the
    workers, its children, apart) and its rows."""
    from generator.batch.run import Batch, run
    from generator.recipes.catalogue import Catalogue
    from generator.speech.cache import ClipCache, default_cache_dir

    work = Batch(rows, out, Catalogue(()), ClipCache(default_cache_dir()), jobs=2)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    progress = run(work, lambda progress, result: None)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, progress.rows


def main() -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stillpoint-bench-batch-") as folder:
        work = Path(folder)
        os.environ["STILLPOINT_CACHE"] = str(work / "cache")  # in-process runs read it too
        env = dict(os.environ)
        runs = {"warm": batch(manifest(work, ["Warm"]), work / "warm", 1, env)}  # (a)
        alone = ["render", SESSION, "--set", "listener=Cli", "-o", str(work / "cli.mp3")]
        runs["cli"] = stillpoint(alone, env)  # (b)
        half, full = manifest(work, names("Ha", ROWS)), manifest(work, names("Fu", 2 * ROWS))
        runs["half"] = batch(half, work / "half", 2, env)  # (c)
        runs["two"] = batch(full, work / "two", 2, env)
        runs["one"] = batch(manifest(work, names("On", 2 * ROWS)), work / "one", 1, env)  # (d)
        for name, done in runs.items():
            print(f"{name}: {done.seconds:.1f} s, {done.cpu:.1f} CPU-s", file=sys.stderr)
        in_process(half, work / "half")  # the engines' versions read once, as in any batch
        skip = in_process(full, work / "two")[0]  # (e)
        _, parent_cpu, count = in_process(manifest(work, names("Or", ROWS)), work / "orc")  # (f)
        if {str(line["status"]) for line in report_lines(work / "two")} != {"skipped"}:
            raise SystemExit("the batch run again did not skip every row")
        print(table(runs, skip, parent_cpu / count * 1000))
    print(f"\nThe bench took {time.perf_counter() - began:.0f} s.")


def table(runs: Mapping[str, Run], skip: float, orchestration: float) -> str:
    """The measurements against their targets, as a markdown table."""
    cli, half, two, one = runs["cli"], runs["half"], runs["two"], runs["one"]
    per_row = (two.cpu - half.cpu) / ROWS  # a row more: the fixed costs of a batch apart
    speed_up = one.seconds / two.seconds
    skip_ms = skip / (2 * ROWS) * 1000  # the whole run again: its fixed costs counted too
    lines = [
        f"Machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; personalised "
        f"`{SESSION}` rows (its default length, default voice), the shared clips cached",
        "",
        "| measurement | measured | target | met |",
        "| --- | ---: | ---: | :---: |",
        row("CPU of one personalised file, one CLI render", f"{cli.cpu:.1f} CPU-s", "", None),
        row(f"CPU a row in a batch ({2 * ROWS} rows against {ROWS})", f"{per_row:.1f} CPU-s",
            f"≤ {CPU_PER_ROW}", per_row <= CPU_PER_ROW),
        row("the same, against the second performance round's target", f"{per_row:.1f} CPU-s",
            f"≤ {CPU_PER_ROW_ROUND_2}", per_row <= CPU_PER_ROW_ROUND_2),
        row(f"CPU a row, the whole batch of {2 * ROWS} / {2 * ROWS}",
            f"{two.cpu / (2 * ROWS):.1f} CPU-s", "", None),
        row(f"rows a second, 2 jobs against 1 ({2 * ROWS} rows)", f"{speed_up:.2f}x",
            f"≥ {SPEED_UP}x", speed_up >= SPEED_UP),
        row("orchestration: the parent's CPU a row", f"{orchestration:.0f} ms",
            f"≤ {ORCHESTRATION_MS:.0f} ms", orchestration <= ORCHESTRATION_MS),
        row(f"a finished row skipped: {2 * ROWS} rows run again, in-process, a row",
            f"{skip_ms:.2f} ms", f"≤ {SKIP_MS:.0f} ms", skip_ms <= SKIP_MS),
        row(f"peak memory of the largest process, {2 * ROWS} rows, 2 jobs",
            f"{two.peak_mb:.0f} MB", f"≤ {WORKER_MB:.0f} MB", two.peak_mb <= WORKER_MB),
        row(f"the same, 1 job: 1 row, then {2 * ROWS} rows in one worker",
            f"{runs['warm'].peak_mb:.0f}, {one.peak_mb:.0f} MB", "flat",
            one.peak_mb <= runs["warm"].peak_mb * FLAT),
    ]  # fmt: skip
    return "\n".join(lines)


def row(label: str, measured: str, target: str, met: bool | None) -> str:
    verdict = "" if met is None else ("met" if met else "not met")
    return f"| {label} | {measured} | {target} | {verdict} |"


if __name__ == "__main__":
    main()
