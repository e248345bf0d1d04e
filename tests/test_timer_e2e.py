"""`stillpoint timer` keeps time, measured in the decoded MP3: the opening bell is struck at 0:00 of
the meditation, every interval bell an exact multiple of --interval after that strike, and the
closing bell exactly --minutes after it (a meditation timer counts from the strike, not from the
end of the opening bell's ring).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from generator.base.samples import SAMPLE_RATE
from generator.cli import app
from generator.timeline.placement import LAST_INTERVAL_BELL, LEAD_IN, TAIL
from tests.conftest import ONSET_TOLERANCE, decode, heard_at

pytestmark = pytest.mark.e2e

runner = CliRunner()
RING = {"bowl": 8.0, "chime": 3.5}  # seconds each bell in sounds/ rings
CLOSING_STRIKES = 3  # timer.j2's end_strikes
STRIKE_SPACING = 2.5  # seconds between the closing bell's strikes


def render_timer(folder: Path, *options: str) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
    mp3 = folder / "timer.mp3"
    result = runner.invoke(app, ["timer", *options, "-o", str(mp3)])
    assert result.exit_code == 0, result.output
    return decode(mp3), dict(json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8")))


def onset(audio: npt.NDArray[np.float32], near: float) -> float:
    """The first audible sample within a second before ``near`` (silence there) to 0.3 s after."""
    heard = heard_at(audio, near, near - 1)
    assert heard is not None, f"no bell heard near {near:.3f}s"
    return heard


@pytest.mark.parametrize(
    ("minutes", "interval", "every", "bell", "warmup"),
    [("3", "1m", 60, "bowl", 2), ("2.5", "45 seconds", 45, "chime", 3)],
)
def test_interval_and_closing_bells_count_from_the_opening_strike(
    tmp_path: Path, minutes: str, interval: str, every: int, bell: str, warmup: int
) -> None:
    audio, timeline = render_timer(
        tmp_path, "--minutes", minutes, "--interval", interval, "--warmup", f"{warmup}s",
        "--bell", bell,
    )  # fmt: skip
    length = float(minutes) * 60  # seconds from the opening strike to the closing strike
    opening = float(LEAD_IN) + warmup
    intervals = [k * every for k in range(1, 100) if k * every < length - LAST_INTERVAL_BELL]
    struck = onset(audio, opening)
    heard = [onset(audio, opening + offset) - struck for offset in (*intervals, length)]
    assert struck == pytest.approx(opening, abs=ONSET_TOLERANCE)
    assert heard == pytest.approx([*intervals, length], abs=ONSET_TOLERANCE), heard
    # the timeline says the same, to the sample: exact multiples, no drift
    bells = [event for event in timeline["events"] if event["kind"] == "bell"]
    starts = [Fraction(round(event["start"] * SAMPLE_RATE), SAMPLE_RATE) for event in bells]
    closing = [length + strike * STRIKE_SPACING for strike in range(CLOSING_STRIKES)]
    assert [float(start - starts[0]) for start in starts[1:]] == [*intervals, *closing]
    assert {event["sound"] for event in bells} == {bell}
    ring = (CLOSING_STRIKES - 1) * STRIKE_SPACING + RING[bell]
    assert timeline["duration"] == pytest.approx(opening + length + ring + float(TAIL), abs=1e-6)
    assert audio.size / SAMPLE_RATE == pytest.approx(timeline["duration"], abs=0.05)


def test_render_timer_minutes_is_still_the_files_length(tmp_path: Path) -> None:
    """`render timer --minutes` fits the whole file, as for every session; its interval bells
    still count from the opening strike."""
    mp3 = tmp_path / "fitted.mp3"
    args = ["render", "timer", "--minutes", "2", "--set", "interval=30s", "-o", str(mp3)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    timeline = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))
    assert timeline["duration"] == pytest.approx(120, abs=0.5)
    bells = [event["start"] for event in timeline["events"] if event["kind"] == "bell"]
    assert [round(start - bells[0], 3) for start in bells[1:4]] == [30, 60, 90]
