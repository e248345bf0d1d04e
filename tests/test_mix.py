"""The mixing stage alone: clips land at their sample offsets, blocks tile the session."""

import numpy as np
import pytest

from generator.audio import db_to_gain, frozen
from generator.errors import Source
from generator.mix import BLOCK_SECONDS, MUSIC_DUCK_DB, PEAK_CEILING_DB, mix_blocks, mix_gain
from generator.timeline import Event, Timeline

RATE = 100
HERE = Source("t", 1)


def timeline_of(length: int, *events: Event) -> Timeline:
    return Timeline("T", RATE, length, events, ())


def test_clips_land_at_their_offsets_across_block_edges() -> None:
    block = BLOCK_SECONDS * RATE
    clip = frozen(np.arange(1, 301) / 1000)
    start = block - 150  # straddles the first block edge
    timeline = timeline_of(3 * block, Event("speech", start, start + 300, HERE, clip="a"))
    mixed = np.concatenate(list(mix_blocks(timeline, {"a": clip})))
    assert mixed.size == timeline.length
    assert np.array_equal(mixed[start : start + 300], clip)
    assert not mixed[:start].any()
    assert not mixed[start + 300 :].any()


def test_overlapping_sounds_add_up_and_the_gain_keeps_the_peak_under_the_ceiling() -> None:
    loud = frozen(np.full(50, 0.7))
    timeline = timeline_of(
        200, Event("bell", 10, 60, HERE, clip="x"), Event("speech", 40, 90, HERE, clip="x")
    )
    gain = mix_gain(timeline, {"x": loud})
    assert gain == pytest.approx(db_to_gain(PEAK_CEILING_DB) / 1.4)
    mixed = np.concatenate(list(mix_blocks(timeline, {"x": loud}, gain)))
    assert float(mixed.max()) == pytest.approx(db_to_gain(PEAK_CEILING_DB), rel=1e-5)
    assert mixed[20] == pytest.approx(0.7 * gain)


def test_quiet_mixes_are_not_boosted() -> None:
    timeline = timeline_of(100, Event("speech", 0, 10, HERE, clip="q"))
    assert mix_gain(timeline, {"q": frozen(np.full(10, 0.1))}) == 1.0
    assert mix_gain(timeline_of(100), {}) == 1.0


def test_blocks_are_read_only_and_silence_needs_no_clip() -> None:
    timeline = timeline_of(2500, Event("pause", 0, 2500, HERE))
    blocks = list(mix_blocks(timeline, {}))
    assert [b.size for b in blocks] == [1000, 1000, 500]
    with pytest.raises(ValueError, match="read-only"):
        blocks[0][0] = 1.0


def test_a_stereo_timeline_pans_each_sound_by_its_side() -> None:
    clip = frozen(np.full(50, 0.5))
    events = (
        Event("speech", 0, 50, HERE, clip="a", pan=-0.8),
        Event("speech", 100, 150, HERE, clip="a"),
        Event("speech", 200, 250, HERE, clip="a", pan=0.8),
    )
    timeline = Timeline("T", RATE, 300, events, (), channels=2)
    (block,) = list(mix_blocks(timeline, {"a": clip}))
    assert block.shape == (300, 2)
    left, centre, right = block[0:50], block[100:150], block[200:250]
    assert np.allclose(left, [0.5, 0.1])  # the far side fades; the near side keeps its level
    assert np.allclose(centre, [0.5, 0.5])  # centred: exactly as loud as in mono
    assert np.allclose(right, [0.1, 0.5])


def test_music_loops_for_its_window_fades_at_its_edges_and_dips_under_words() -> None:
    loop = frozen(np.full(70, 0.1))  # shorter than the window: it repeats
    events = (
        Event("music", 100, 3100, HERE, clip="m"),
        Event("speech", 1500, 1700, HERE, clip="z"),
    )
    timeline = timeline_of(3500, *events)
    mixed = np.concatenate(list(mix_blocks(timeline, {"m": loop, "z": frozen(np.zeros(200))})))
    assert not mixed[:100].any()
    assert not mixed[3100:].any()
    assert mixed[101] < 0.01  # fading in from nothing at the window's start
    assert mixed[3099] < 0.01  # and out to nothing at its end
    assert mixed[800] == pytest.approx(0.1)  # full level between
    assert mixed[2500] == pytest.approx(0.1)
    assert mixed[1600] == pytest.approx(0.1 * db_to_gain(-MUSIC_DUCK_DB), rel=1e-4)
    assert np.max(np.abs(np.diff(mixed[150:3050]))) < 0.01  # ramps, never a 0.06 step
