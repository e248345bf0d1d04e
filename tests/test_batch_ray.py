"""The batch on Ray (``--engine ray``): the same rows give the same bytes as the local pool.

One Ray of this machine (two CPUs) is started once for these tests and stopped after them
(starting one takes seconds); the rows are short eSpeak NG sessions. Ray is in the development
install (``make test``): without it these tests fail, they are not skipped.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.batch import ray_engine
from generator.batch.engines import LocalEngine, RowJob, missing_speech
from generator.batch.manifest import read_rows
from generator.batch.plan import plan_row
from generator.batch.ray_engine import RayEngine
from generator.batch.report import DONE_FOLDER, REPORT, Result
from generator.batch.run import Batch, Progress, run
from generator.errors import EnvironmentProblem
from generator.recipes.catalogue import Catalogue
from generator.speech.cache import ClipCache, SpeechRequest

pytestmark = pytest.mark.e2e

ESPEAK = "pyttsx3:gmw/en-us"
ROWS = f"""id,session,minutes,voice,listener
ann,pigeon,4,{ESPEAK},Ann
ben,pigeon,4,{ESPEAK},Ben
cleo,pigeon,4,{ESPEAK},Cleo
"""


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[float]:
    """A Ray of this machine, started once (only these tests use one) and stopped when they
    end, not at the end of the session: its processes would idle beside the other tests'; how
    long it took to start."""
    import ray

    started = time.monotonic()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield time.monotonic() - started
    ray.shutdown()


def batch_of(manifest: Path, folder: Path, cache: Path) -> Batch:
    return Batch(manifest, folder, Catalogue(()), ClipCache(cache), jobs=2)


def requests_of(manifest: Path, folder: Path) -> list[SpeechRequest]:
    """The speech every row of the manifest asks for."""
    rows = read_rows(manifest)
    return [r for row in rows for r in plan_row(row, Catalogue(()), folder).requests]


def quietly(progress: Progress, result: Result | None) -> None:
    pass


def files_in(folder: Path) -> dict[str, bytes]:
    """What a batch leaves for the user, but its report (times differ from run to run)."""
    return {
        path.name: path.read_bytes()
        for path in folder.iterdir()
        if path.is_file() and path.name != REPORT and not path.name.startswith(".")
    }


def statuses(folder: Path) -> dict[str, str]:
    lines = (folder / REPORT).read_text(encoding="utf-8").splitlines()
    return {row["id"]: row["status"] for row in map(json.loads, lines)}


def test_ray_and_the_local_pool_make_the_same_bytes(tmp_path: Path, ray_cluster: float) -> None:
    manifest = tmp_path / "rows.csv"
    manifest.write_text(ROWS, encoding="utf-8")
    cache = ClipCache(tmp_path / "cache")  # empty: Ray's speech stage makes every clip
    needed = missing_speech(requests_of(manifest, tmp_path / "ray"), cache)
    assert needed

    with RayEngine(workers=2) as engine:
        on_ray = run(batch_of(manifest, tmp_path / "ray", cache.root), quietly, engine=engine)
    assert on_ray.clips_needed == on_ray.clips_made == len(needed)
    assert all(cache.path(request).is_file() for request in needed)

    local = run(batch_of(manifest, tmp_path / "local", cache.root), quietly, LocalEngine(2))
    assert local.clips_needed == 0  # the same cache: Ray made them all

    assert (
        statuses(tmp_path / "ray")
        == statuses(tmp_path / "local")
        == dict.fromkeys(("ann", "ben", "cleo"), "done")
    )
    on_ray_files, local_files = files_in(tmp_path / "ray"), files_in(tmp_path / "local")
    assert {"ann.mp3", "ben.mp3", "cleo.mp3"} <= set(on_ray_files)
    assert on_ray_files.keys() == local_files.keys()
    for name, data in on_ray_files.items():
        assert data == local_files[name], f"{name} differs between Ray and the local pool"
    assert len({on_ray_files[f"{row}.mp3"] for row in ("ann", "ben", "cleo")}) == 3
    outputs = {result.id: result.output for result in on_ray.results}
    assert outputs == {row: str(tmp_path / "ray" / f"{row}.mp3") for row in ("ann", "ben", "cleo")}
    assert (tmp_path / "ray" / DONE_FOLDER / "ann.json").is_file()

    again = run(batch_of(manifest, tmp_path / "ray", cache.root), quietly, RayEngine(workers=2))
    assert [result.status for result in again.results] == ["skipped"] * 3


def test_a_failed_row_is_a_result_from_ray(
    tmp_path: Path, ray_cluster: float, speech_cache: Path
) -> None:
    manifest = tmp_path / "rows.csv"
    manifest.write_text(ROWS, encoding="utf-8")
    (tmp_path / "out" / "ben.mp3").mkdir(parents=True)  # in the way: ben fails as it renders
    progress = run(
        batch_of(manifest, tmp_path / "out", speech_cache), quietly, RayEngine(workers=2)
    )
    assert statuses(tmp_path / "out") == {"ann": "done", "ben": "failed", "cleo": "done"}
    failed = progress.results[1]
    assert (failed.id, failed.status, failed.exit_code) == ("ben", "failed", 2)
    assert "rows.csv:3: " in failed.message  # where, what and how to fix it, in one line
    assert failed.message.endswith(
        f"{tmp_path / 'out' / 'ben.mp3'} is a folder. Give a file name such as session.mp3."
    )


def test_fail_fast_on_ray_drops_the_rows_not_started(
    tmp_path: Path, ray_cluster: float, speech_cache: Path
) -> None:
    manifest = tmp_path / "rows.csv"
    manifest.write_text(ROWS, encoding="utf-8")
    (tmp_path / "out" / "ann.mp3").mkdir(parents=True)
    batch = dataclasses.replace(batch_of(manifest, tmp_path / "out", speech_cache), fail_fast=True)
    progress = run(batch, quietly, RayEngine(workers=1))  # one row at a time: ann, the first
    assert [(result.id, result.status) for result in progress.results] == [("ann", "failed")]
    assert statuses(tmp_path / "out") == {"ann": "failed"}


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *rest: None if name == "ray" else real(name)
    )
    with pytest.raises(EnvironmentProblem) as raised:
        RayEngine(workers=2)
    assert raised.value.exit_code == 1
    assert "pip install 'stillpoint-sessions[ray]'" in raised.value.message()


def test_the_engine_module_does_not_import_ray() -> None:
    """``stillpoint --help`` and the local engine never pay for Ray's import."""
    code = "import sys, generator.batch.ray_engine; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_row_whose_worker_dies_is_a_failed_row(tmp_path: Path, ray_cluster: float) -> None:
    """Ray retries a task only when its worker is lost; lost every time, the row has failed."""
    import ray

    @ray.remote(max_retries=0)
    def dies() -> Result:
        import os

        os._exit(1)

    reference = dies.remote()
    ray.wait([reference])
    job = RowJob("ann", "pigeon", "rows.csv:2", 3.0, (), folder=str(tmp_path))
    result = ray_engine._row_outcome(ray, reference, job)
    assert (result.id, result.status, result.exit_code) == ("ann", "failed", 1)
    assert result.message.startswith("its Ray worker was lost")
    assert "\n" not in result.message


def test_a_clip_made_on_another_node_comes_back_to_this_cache(
    tmp_path: Path, ray_cluster: float
) -> None:
    """The batch's cache (which a shared cache is filled from) gets every clip, wherever made."""
    import ray

    manifest = tmp_path / "rows.csv"
    manifest.write_text(ROWS.splitlines()[0] + "\n" + ROWS.splitlines()[1] + "\n", "utf-8")
    here = ClipCache(tmp_path / "here")
    request = missing_speech(requests_of(manifest, tmp_path), here)[0]
    speaker: Any = ray.remote(ray_engine.Speaker).remote("another node")  # Ray's types: no help
    made = ray.get(speaker.make.remote(request, str(tmp_path / "there")))
    ray.kill(speaker)
    assert made == ClipCache(tmp_path / "there").path(request).read_bytes()
    ray_engine._keep_clip(request, here, made)
    assert here.load(request) is not None
