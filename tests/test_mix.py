"""The mixing stage alone: clips land at their sample offsets, blocks tile the session."""

import numpy as np
import pytest

from generator.base.samples import db_to_gain, frozen
from generator.errors import Source
from generator.sound.mix import BLOCK_SECONDS, LOOPS, SESSION_FADE, mix_blocks
from generator.timeline.events import Event, Timeline

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


def test_overlapping_sounds_add_up_and_a_gain_scales_the_mix() -> None:
    loud = frozen(np.full(50, 0.4))
    timeline = timeline_of(  # away from the file's faded ends
        500, Event("bell", 110, 160, HERE, clip="x"), Event("speech", 140, 190, HERE, clip="x")
    )
    mixed = np.concatenate(list(mix_blocks(timeline, {"x": loud}, 0.5)))
    assert mixed[120] == pytest.approx(0.2)
    assert mixed[150] == pytest.approx(0.4)  # both at once: they add
    assert mixed[180] == pytest.approx(0.2)


def test_the_file_fades_in_and_out_at_its_very_ends() -> None:
    length = 10 * RATE
    timeline = timeline_of(length, Event("music", 0, length, HERE, clip="m"))
    mixed = np.concatenate(list(mix_blocks(timeline, {"m": frozen(np.full(10, 0.1))})))
    assert mixed[0] == 0.0
    assert mixed[-1] < 0.001
    assert 0 < mixed[int(SESSION_FADE[0] * RATE) // 2] < mixed[int(SESSION_FADE[0] * RATE) + 300]


def test_blocks_are_read_only_and_silence_needs_no_clip() -> None:
    timeline = timeline_of(2500, Event("pause", 0, 2500, HERE))
    blocks = list(mix_blocks(timeline, {}))
    assert [b.size for b in blocks] == [1000, 1000, 500]
    with pytest.raises(ValueError, match="read-only"):
        blocks[0][0] = 1.0


def test_a_stereo_timeline_pans_each_sound_by_its_side() -> None:
    clip = frozen(np.full(50, 0.5))
    events = (
        Event("speech", 100, 150, HERE, clip="a", pan=-0.8),
        Event("speech", 200, 250, HERE, clip="a"),
        Event("speech", 300, 350, HERE, clip="a", pan=0.8),
    )
    timeline = Timeline("T", RATE, 600, events, (), channels=2)
    (block,) = list(mix_blocks(timeline, {"a": clip}))
    assert block.shape == (600, 2)
    left, centre, right = block[100:150], block[200:250], block[300:350]
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
    assert mixed[1600] == pytest.approx(0.1 * db_to_gain(-LOOPS["music"].duck_db), rel=1e-4)
    assert np.max(np.abs(np.diff(mixed[150:3050]))) < 0.01  # ramps, never a 0.06 step
