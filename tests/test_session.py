"""The pipeline's glue and the clip sources: bells levelled and looked up, cues prepared."""

from pathlib import Path

import numpy as np
import pytest

from generator.base.samples import SAMPLE_RATE, db_to_gain, frozen
from generator.errors import MarkupError
from generator.files.wav import write_wav
from generator.recipes.catalogue import Catalogue
from generator.recipes.overrides import Overrides
from generator.session import estimate, prepare
from generator.sound.balance import BELL_PEAK_LIMIT_DB, against_voice
from generator.sound.loudness import LoudnessMeter
from generator.sound.sources import bells_used
from tests.conftest import write


def loudness(sound: np.ndarray) -> float:
    meter = LoudnessMeter()
    meter.feed(sound)
    return meter.integrated()


def test_bells_are_levelled_by_loudness_and_never_peak_high(tmp_path: Path) -> None:
    click = np.zeros(SAMPLE_RATE)
    click[100] = 0.9  # all attack, no body: levelling by energy alone would clip it
    (tmp_path / "sounds").mkdir()
    write_wav(tmp_path / "sounds" / "click.wav", frozen(click), SAMPLE_RATE)
    write(tmp_path / "s.txt", "[bell bowl]\n[bell chime]\n[bell click]\n[bell]\n")
    library = Catalogue((tmp_path,))
    prepared = prepare(str(tmp_path / "s.txt"), library)
    bells = bells_used(prepared.cues, prepared.settings.bell, library)
    assert set(bells) == {"bowl", "chime", "click"}  # a bare [bell] is the default, the bowl
    level = against_voice(prepared.settings.bell_level)  # the bowl and the chime equally loud
    assert loudness(bells["bowl"]) == pytest.approx(level, abs=0.1)
    assert loudness(bells["chime"]) == pytest.approx(level, abs=0.1)
    softer = bells_used(prepared.cues, "bowl", library, prepared.settings.bell_level - 10)
    assert loudness(softer["bowl"]) == pytest.approx(level - 10, abs=0.1)
    for sound in bells.values():
        assert float(np.max(np.abs(sound))) <= db_to_gain(BELL_PEAK_LIMIT_DB) + 1e-6


def test_the_default_bell_follows_the_setting(tmp_path: Path) -> None:
    path = write(tmp_path / "s.j2", "[bell]\n[pause 1m every 20s]\n")
    library = Catalogue()

    def rung(session: Path, **overrides: str) -> list[str]:
        chosen = Overrides.from_pairs(overrides)
        timeline = estimate(prepare(str(session), library, chosen), library)
        return [event.sound for event in timeline.events if event.kind == "bell"]

    assert rung(path) == ["bowl"] * 3  # the bare bell and both interval bells
    recipe = write(tmp_path / "r.toml", '[settings]\nbell = "chime"\n[[part]]\ntemplate = "s.j2"\n')
    assert rung(recipe) == ["chime"] * 3
    assert rung(recipe, bell="none") == []


def test_an_unknown_bell_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.txt", "Hello.\n[bell gong]\n")
    library = Catalogue()
    prepared = prepare(str(path), library)
    with pytest.raises(MarkupError, match="unknown bell 'gong'") as caught:
        bells_used(prepared.cues, prepared.settings.bell, library)
    assert str(caught.value.where).endswith("s.txt:2")
