"""Mastering alone: one linear gain meets the loudness target; peaks are limited only if needed."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import generator.sound.mastering as master_module
from generator.base.samples import SAMPLE_RATE, frozen
from generator.errors import Source
from generator.sound.loudness import TRUE_PEAK_CEILING_DB, LoudnessMeter, true_peak
from generator.sound.mastering import (
    ENCODER_LOSS_DB,
    ENCODER_MARGIN_DB,
    WORDLESS_GAIN_DB,
    PlanCache,
    Transformed,
    master,
    target_for,
)
from generator.sound.mix import mix_blocks
from generator.timeline.events import Event, Timeline
from tests.conftest import speechlike

HERE = Source("t", 1)
RNG = np.random.default_rng(7)


def session(clip: np.ndarray, channels: int = 1) -> Timeline:
    starts = [SAMPLE_RATE * 2 + k * SAMPLE_RATE * 8 for k in range(6)]
    events = tuple(Event("speech", s, s + clip.size, HERE, clip="c") for s in starts)
    return Timeline(
        "T", SAMPLE_RATE, starts[-1] + clip.size + SAMPLE_RATE * 2, events, (), channels=channels
    )


def measured(timeline: Timeline, audio: dict[str, np.ndarray], gain: float) -> tuple[float, float]:
    meter = LoudnessMeter(SAMPLE_RATE, timeline.channels)
    for block in mix_blocks(timeline, audio, gain):
        meter.feed(block)
    return meter.integrated(), meter.true_peak()


@pytest.mark.parametrize("channels", [1, 2])
def test_a_quiet_session_is_brought_to_the_target_with_one_gain(channels: int) -> None:
    quiet = speechlike(RNG, 4, 0.01)
    timeline = session(quiet, channels)
    result = master(timeline, {"c": quiet})
    loudness, peak = measured(timeline, dict(result.audio), result.gain)
    aim = target_for(channels) + ENCODER_LOSS_DB
    assert loudness == pytest.approx(aim, abs=0.1)
    assert result.loudness == pytest.approx(target_for(channels), abs=0.1)
    assert result.limited == 0  # plenty of headroom: nothing was limited
    assert peak <= TRUE_PEAK_CEILING_DB - ENCODER_MARGIN_DB + 0.05


def test_spikes_are_limited_so_the_target_is_met_under_the_ceiling() -> None:
    clip = speechlike(RNG, 4, 0.02, spikes=0.9)
    timeline = session(clip)
    assert true_peak(clip) > -1  # the spikes alone would clip after any boost
    result = master(timeline, {"c": clip})
    loudness, peak = measured(timeline, dict(result.audio), result.gain)
    assert result.limited == 1
    assert loudness == pytest.approx(target_for(1) + ENCODER_LOSS_DB, abs=0.3)
    assert peak <= TRUE_PEAK_CEILING_DB - ENCODER_MARGIN_DB + 0.05
    assert result.gain > 1


def test_silence_is_left_alone() -> None:
    timeline = Timeline("T", SAMPLE_RATE, SAMPLE_RATE * 5, (), ())
    result = master(timeline, {})
    assert result.gain == 1.0
    assert result.limited == 0


def test_bells_alone_get_a_guided_sessions_gain_not_the_spoken_word_target() -> None:
    bell = speechlike(RNG, 4, 0.01)
    events = tuple(Event("bell", s, s + bell.size, HERE, clip="b") for s in (44100, 441000))
    timeline = Timeline("Timer", SAMPLE_RATE, 441000 + bell.size + 44100, events, ())
    result = master(timeline, {"b": bell})
    assert result.gain == pytest.approx(10 ** (WORDLESS_GAIN_DB / 20))
    assert result.loudness < target_for(1) - 5  # quiet bells stay quiet


def bedded(clip: np.ndarray, channels: int = 1) -> tuple[Timeline, dict[str, np.ndarray]]:
    """The session of ``session`` with a noise bed under all of it and a bell over a word."""
    timeline = session(clip, channels)
    bed = frozen(RNG.normal(0, 0.003, SAMPLE_RATE * 3))
    bell = speechlike(RNG, 2, 0.05)
    events = (
        *timeline.events,
        Event("ambience", 0, timeline.length, HERE, clip="bed"),
        Event("bell", SAMPLE_RATE * 3, SAMPLE_RATE * 5, HERE, clip="bell"),
    )
    return replace(timeline, events=events), {"c": clip, "bed": bed, "bell": bell}


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("with_bed", [False, True])
def test_the_estimate_from_the_clips_is_what_the_meter_reads_on_the_mix(
    channels: int, with_bed: bool
) -> None:
    """Loudness from K-weighted clips placed and summed equals the meter's on the real voice
    (the target is the voice's: a bed and a bell keep their level against it); the true peak
    of the whole mix is a bound: never under the real one, and close to it."""
    clip = speechlike(RNG, 4, 0.05, spikes=0.4)
    timeline, audio = bedded(clip, channels) if with_bed else (session(clip, channels), {"c": clip})
    result = master(timeline, audio)
    _, peak = measured(timeline, dict(result.audio), result.gain)
    voice = replace(timeline, events=tuple(e for e in timeline.events if e.kind == "speech"))
    loudness, _ = measured(voice, dict(result.audio), result.gain)
    assert result.loudness + ENCODER_LOSS_DB == pytest.approx(loudness, abs=0.05)
    assert peak <= result.true_peak + 0.01
    assert peak >= result.true_peak - 0.5


def test_a_plan_is_found_once_and_taken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = speechlike(RNG, 4, 0.02, spikes=0.9)
    timeline, audio = session(clip), {"c": clip}
    plans = PlanCache(tmp_path)
    first = master(timeline, audio, plans)
    assert len(list(plans.memo.folder.iterdir())) == 1

    def no_search(*_: object) -> None:
        raise AssertionError("searched again")

    monkeypatch.setattr(master_module, "plan_for", no_search)
    again = master(timeline, audio, plans)
    assert (again.gain, again.limited, again.loudness) == (
        first.gain,
        first.limited,
        first.loudness,
    )
    assert np.array_equal(again.audio["c"], first.audio["c"])
    louder = frozen(clip * 1.01)  # other samples: another plan
    with pytest.raises(AssertionError, match="searched again"):
        master(timeline, {"c": louder}, plans)


def test_a_damaged_plan_is_found_again(tmp_path: Path) -> None:
    clip = speechlike(RNG, 4, 0.02, spikes=0.9)
    timeline, audio = session(clip), {"c": clip}
    plans = PlanCache(tmp_path)
    first = master(timeline, audio, plans)
    for path in plans.memo.folder.iterdir():
        path.write_text('{"limit_at": ', encoding="utf-8")
    assert master(timeline, audio, plans).gain == first.gain


def test_clips_are_transformed_when_asked_for_and_kept_within_the_budget() -> None:
    clips = {str(k): frozen(np.full(1000, k, dtype=np.float32)) for k in range(10)}
    made: list[str] = []

    def doubled(key: str, clip: np.ndarray) -> np.ndarray:
        made.append(key)
        return frozen(clip * 2)

    lazy = Transformed(clips, doubled, budget=3 * 4000)  # three clips' worth
    assert made == []
    assert lazy["4"][0] == 8
    assert lazy["4"][0] == 8
    assert made == ["4"]
    for key in "0123":
        lazy[key]
    assert sorted(lazy.kept()) == ["1", "2", "3"]  # the oldest went first
    assert len(lazy) == 10
    assert set(lazy) == set(clips)
