"""`stillpoint batch`: the manifest checked before any work, the speech of all rows made once,
the rows rendered in a pool, a report, resumption, and nothing half-written when stopped."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.batch.engines import LocalEngine, RowJob, missing_speech
from generator.batch.manifest import ManifestError, read_rows
from generator.batch.plan import Refusal, RowPlan, plan_row
from generator.batch.report import REPORT, Result
from generator.batch.run import Batch, Progress, batch_exit_code, run
from generator.cli import app
from generator.commands.batch_display import BatchDisplay
from generator.recipes.catalogue import Catalogue, builtin_root
from generator.speech.cache import ClipCache
from tests.conftest import write

VOICE = "pyttsx3:gmw/en-us"  # eSpeak NG: quick
HEADER = "id,session,minutes,listener,voice\n"


def rows_file(folder: Path, *rows: str, name: str = "rows.csv") -> Path:
    return write(folder / name, HEADER + "".join(f"{row},{VOICE}\n" for row in rows))


def quiet(progress: Progress, result: Result | None) -> None:
    """A watch that shows nothing."""


def report(folder: Path) -> list[dict[str, object]]:
    text = (folder / REPORT).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def hidden_parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


# --- the manifest ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("id,session,listner\na,pigeon,Al\n",
         "rows.csv:1: unknown column 'listner'. Did you mean 'listener'?"),
        ("id,session\na,pigeon\nb,pigeon\na,pigeon\n",
         "rows.csv:4: the id 'a' is used twice. Give every row its own id (the first is at rows"),
        ("id,session,minutes\na,pigeon,abc\n", "rows.csv:2: minutes 'abc' is not a number"),
        ("id,session\n../x,pigeon\n", "rows.csv:2: the id '../x' cannot name a file"),
        ("id,session\na,\n", "rows.csv:2: this row has no session"),
        ("id,minutes\na,5\n", "rows.csv:1: no 'session' column"),
        ("id,session\na,pigeon,extra\n", "rows.csv:2: 3 cells for 2 columns"),
        ("id,session\n", "rows.csv: the manifest has no rows"),
    ],
)  # fmt: skip
def test_a_bad_csv_manifest_is_refused_at_its_line(in_tmp: Path, text: str, said: str) -> None:
    with pytest.raises(ManifestError) as error:
        read_rows(write(in_tmp / "rows.csv", text))
    assert said in str(error.value)


def test_a_jsonl_manifest_reads_nested_settings_and_tells_its_line(in_tmp: Path) -> None:
    manifest = write(
        in_tmp / "rows.jsonl",
        '{"id": "a", "session": "pigeon", "minutes": 6, "set": {"breath": "6s"}}\n\n'
        '{"id": "b", "session": "pigeon", "skip": ["closing"], "listener": ""}\n',
    )
    first, second = read_rows(manifest)
    assert (first.minutes, dict(first.values)) == (6.0, {"breath": "6s"})
    assert (second.skip, dict(second.values), second.source.line) == (("closing",), {}, 3)
    write(manifest, '{"id": "a", "session": "pigeon", "ambeince": "ocean"}\n')
    with pytest.raises(ManifestError, match=r"rows.jsonl:1: unknown column 'ambeince'. Did you"):
        read_rows(manifest)


def test_csv_cells_are_read_as_set_reads_values_and_empty_is_the_default(in_tmp: Path) -> None:
    manifest = write(
        in_tmp / "rows.csv", "id,session,rate,skip,set.side_count\na,pigeon,110,closing;arrival,2\n"
        "b,pigeon,,,\n",
    )  # fmt: skip
    first, second = read_rows(manifest)
    assert dict(first.values) == {"rate": 110, "side_count": 2}
    assert first.skip == ("closing", "arrival")
    assert (dict(second.values), second.skip) == ({}, ())


def test_a_bad_value_stops_the_batch_before_any_work(in_tmp: Path) -> None:
    manifest = write(in_tmp / "rows.csv", "id,session,breath\na,pigeon,6s\nb,pigeon,banana\n")
    result = CliRunner().invoke(app, ["batch", str(manifest), "-o", "out"])
    assert result.exit_code == 2
    assert "rows.csv:3 (breath): 'banana' is not a duration" in result.output
    assert not (in_tmp / "out").exists()  # nothing made, not even the folder


def test_the_exit_status_says_whether_every_row_succeeded() -> None:
    done, input_failed = Result("a", "done"), Result("b", "failed", exit_code=2)
    assert batch_exit_code(Progress(results=[done, input_failed])) == 2
    machine = Result("c", "failed", exit_code=1)
    assert batch_exit_code(Progress(results=[done, input_failed, machine])) == 1


# --- a batch rendered: clips made once, the report, resumption ------------------------------


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Batch, Progress, int]:
    """Three personal rows of one session, on an empty speech cache: (batch, progress, the
    distinct utterances the rows ask for, fewer than the rows' own lists together)."""
    root = tmp_path_factory.mktemp("batch")
    manifest = rows_file(root, "ana,pigeon,4,Ana", "ben,pigeon,4.5,Ben", "cy,pigeon,4,Cy")
    work = Batch(manifest, root / "out", Catalogue(()), ClipCache(root / "cache"), jobs=2)
    planned = [plan_row(row, work.catalogue, Path(work.output)) for row in read_rows(manifest)]
    distinct = len({request for row in planned for request in row.requests})
    wanted = [request for row in planned for request in row.requests]
    assert len(missing_speech(wanted, work.cache)) == distinct  # the cache starts empty
    each = [len(row.requests) for row in planned]  # 11 each, 15 in all (measured)
    assert max(each) < distinct < sum(each)  # the rows share most of their speech, not all
    return work, run(work, quiet, LocalEngine(2)), distinct


@pytest.mark.e2e
def test_each_distinct_utterance_is_synthesised_once(batch: tuple[Batch, Progress, int]) -> None:
    work, progress, distinct = batch
    assert progress.clips_needed == progress.clips_made == distinct
    assert len(list(work.cache.root.rglob("*.clip"))) == distinct
    assert [result.clips_made for result in progress.results] == [0, 0, 0]  # none in the rows


@pytest.mark.e2e
def test_the_report_has_a_line_a_row_with_its_file(batch: tuple[Batch, Progress, int]) -> None:
    work, _, _ = batch
    lines = report(Path(work.output))
    assert [line["id"] for line in lines] == ["ana", "ben", "cy"]
    for line in lines:
        output = Path(str(line["output"]))
        assert line["status"] == "done"
        assert line["message"] == ""
        assert line["checksum"] == hashlib.sha256(output.read_bytes()).hexdigest()
        assert abs(probe_seconds(output) - float(str(line["seconds"]))) < 0.1
        assert float(str(line["cpu"])) > 0
        assert float(str(line["wall"])) > 0
    assert [line["seconds"] for line in lines] == pytest.approx([240, 270, 240], abs=0.5)
    assert not hidden_parts(Path(work.output))


@pytest.mark.e2e
def test_a_finished_batch_run_again_is_skipped_without_planning(
    batch: tuple[Batch, Progress, int],
) -> None:
    work, _, _ = batch
    times = {path: path.stat().st_mtime_ns for path in Path(work.output).glob("*.mp3")}

    class Planless(LocalEngine):
        def plan(self, jobs: Sequence[RowJob]) -> list[RowPlan | Refusal]:
            assert not jobs, "a finished row was planned again"
            return []

    again = run(work, quiet, Planless(2))
    assert [result.status for result in again.results] == ["skipped"] * 3
    assert {path: path.stat().st_mtime_ns for path in Path(work.output).glob("*.mp3")} == times
    assert [line["status"] for line in report(Path(work.output))] == ["skipped"] * 3


def probe_seconds(path: Path) -> float:
    command = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
    return float(subprocess.run([*command, str(path)], capture_output=True, text=True).stdout)


@pytest.mark.e2e
def test_a_changed_template_renders_its_rows_again(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    closing = scripts / "templates" / "closing.j2"
    closing.parent.mkdir(parents=True)
    shutil.copy(builtin_root() / "scripts" / "templates" / "closing.j2", closing)
    manifest = rows_file(tmp_path, "a,pigeon,4,Al", "b,bound-angle,5,Bo")
    work = Batch(manifest, tmp_path / "out", Catalogue((scripts,)), ClipCache(tmp_path / "c"), 2)
    assert [r.status for r in run(work, quiet).results] == ["done", "done"]
    os.utime(closing, ns=(time.time_ns(), time.time_ns() + 10**9))  # saved again, unchanged
    assert [r.status for r in run(work, quiet).results] == ["skipped", "skipped"]
    closing.write_text(closing.read_text() + "\nRest a moment longer.\n")
    assert [r.status for r in run(work, quiet).results] == ["done", "done"]
    transcript = (Path(work.output) / "a.vtt").read_text()
    assert "Rest a moment" in transcript


@pytest.mark.e2e
def test_a_failing_row_is_reported_and_the_others_are_made(in_tmp: Path) -> None:
    broken = in_tmp / "broken.wav"
    broken.write_bytes(b"RIFF not really a sound" * 100)
    manifest = write(
        in_tmp / "rows.csv",
        f"id,session,minutes,ambience,voice\ng1,pigeon,4,,{VOICE}\n"
        f"bad,pigeon,4,{broken},{VOICE}\ng2,pigeon,4,,{VOICE}\n",
    )
    result = CliRunner().invoke(app, ["batch", str(manifest), "-o", "out", "--jobs", "2"])
    assert result.exit_code == 2, result.output
    lines = {str(line["id"]): line for line in report(in_tmp / "out")}
    assert [lines[name]["status"] for name in ("g1", "bad", "g2")] == ["done", "failed", "done"]
    assert "cannot decode" in str(lines["bad"]["message"])
    assert "\n" not in str(lines["bad"])
    assert "bad failed: " in result.output
    assert "1 failed" in result.output
    assert not (in_tmp / "out" / "bad.mp3").exists()
    assert not hidden_parts(in_tmp / "out")


# --- stopped mid-batch ----------------------------------------------------------------------


def start_batch(manifest: Path, out: Path) -> subprocess.Popen[bytes]:
    """``stillpoint batch`` in a process group of its own, one row at a time."""
    command = [sys.executable, "-m", "generator", "batch", str(manifest), "-o", str(out), "-j", "1"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def wait_for_rows(out: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while len(list((out / ".stillpoint-batch").glob("*.json"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no row finished in 2 minutes"
        time.sleep(0.05)


@pytest.mark.e2e
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGKILL, -9), (signal.SIGINT, 130)])
def test_a_batch_stopped_mid_row_leaves_nothing_half_written_and_resumes(
    tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    manifest = rows_file(tmp_path, "r1,pigeon,4,Ann", "r2,pigeon,4,Bea", "r3,pigeon,4,Col")
    out = tmp_path / "out"
    process = start_batch(manifest, out)
    wait_for_rows(out, 1, process)
    time.sleep(0.5)  # into the next row's render
    os.killpg(process.pid, stop)
    process.communicate(timeout=60)
    assert process.returncode == code
    finished = {path.stem for path in out.glob("*.mp3")}
    assert finished
    assert finished < {"r1", "r2", "r3"}
    if stop == signal.SIGINT:  # the report of what finished; no temporary files
        assert {line["id"] for line in report(out)} == finished
        assert not hidden_parts(out)
    again = CliRunner().invoke(app, ["batch", str(manifest), "-o", str(out), "-j", "2"])
    assert again.exit_code == 0, again.output
    statuses = {str(line["id"]): line["status"] for line in report(out)}
    assert {name for name, status in statuses.items() if status == "skipped"} == finished
    assert set(statuses.values()) == {"skipped", "done"}
    assert not hidden_parts(out)
    for path in out.glob("*.mp3"):
        assert abs(probe_seconds(path) - 240) < 0.5


@pytest.mark.e2e
def test_outputs_and_the_speech_cache_through_filesystem_urls(tmp_path: Path) -> None:
    """Two machines sharing a cache and an output folder by URL: the second pulls the clips
    the first made, and skips the rows the first finished."""
    out, shared = tmp_path / "remote-out", tmp_path / "shared-cache"
    first = rows_file(tmp_path, "u1,pigeon,4,Uma", "u2,pigeon,4,Ugo")

    def machine(rows: Path, name: str) -> Progress:
        local = ClipCache(tmp_path / name)
        work = Batch(rows, out.as_uri(), Catalogue(()), local, 2, shared_cache=shared.as_uri())
        return run(work, quiet)

    made = machine(first, "one")
    assert [result.status for result in made.results] == ["done", "done"]
    assert [result.output for result in made.results] == [
        f"{out.as_uri()}/u1.mp3",
        f"{out.as_uri()}/u2.mp3",
    ]
    assert {path.name for path in out.glob("u1.*")} == {"u1.mp3", "u1.json", "u1.vtt", "u1.lrc"}
    assert abs(probe_seconds(out / "u2.mp3") - 240) < 0.5
    shared_clips = {path.name for path in shared.rglob("*.clip")}
    assert shared_clips >= {path.name for path in (tmp_path / "one").rglob("*.clip")}
    assert not list(out.glob(".*.part"))
    second = rows_file(
        tmp_path, "u1,pigeon,4,Uma", "u2,pigeon,4,Ugo", "u3,pigeon,4,Uli", name="more.csv"
    )
    again = machine(second, "two")
    assert [result.status for result in again.results] == ["skipped", "skipped", "done"]
    assert 0 < again.clips_made < 5  # only Uli's own words: the rest came from the shared cache
    assert [line["id"] for line in report(out)] == ["u1", "u2", "u3"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_one_line_kept_up_to_date_and_a_log_a_line_a_row() -> None:
    progress = Progress(rows=3, clips_needed=26, clips_made=12, finished=1, audio_seconds=600.0)
    done = Result("ana", "done", output="out/ana.mp3", seconds=600.0, wall=4.25)
    progress.results.append(done)
    screen = Terminal()
    shown = BatchDisplay(screen)
    shown(progress, None)
    shown(progress, done)
    shown.close()
    lines = screen.getvalue().split("\r")
    assert lines[1].startswith("clips 12/26 · rows 1/3 · 10.0 min of audio · 0 failed · about ")
    assert screen.getvalue().endswith("\n")
    assert screen.getvalue().count("\n") == 1
    log = io.StringIO()
    logged = BatchDisplay(log)
    logged(progress, None)  # a clip made: nothing in a log
    logged(progress, done)
    logged(progress, Result("ben", "failed", message="rows.csv:3: no such voice. Fix it."))
    assert log.getvalue().splitlines() == [
        "[1/3] ana 10:00 in 4.2 s",
        "[1/3] ben failed: rows.csv:3: no such voice. Fix it.",
    ]
