"""Pronunciation lexicons: matching, per-engine tables, user files winning, and bad files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from generator.errors import LexiconError, Source
from generator.recipes.catalogue import Catalogue
from generator.sound.sources import speech_request
from generator.speech.lexicon import Lexicon, load_lexicons
from tests.conftest import write


def test_whole_phrases_match_regardless_of_case_longest_first() -> None:
    lexicon = Lexicon({"Baddha Konasana": "Bahdah Konahsana", "Konasana": "KO", "Epsom": "Epsum"})
    said = lexicon.respell("Now baddha  KONASANA, then Konasana. Epsom salts, not Epsoms.")
    assert said == "Now Bahdah Konahsana, then KO. Epsum salts, not Epsoms."
    assert Lexicon().respell("Epsom") == "Epsom"


def test_engine_tables_and_later_files_win(tmp_path: Path) -> None:
    builtin = write(
        tmp_path / "a.toml",
        '[all]\n"Epsom" = "Epsum"\n"hip" = "hip"\n[piper]\n"hip" = "hipp"\n',
    )
    user = write(tmp_path / "b.toml", '[all]\n"Epsom" = "Ep som"\n')
    lexicons = load_lexicons([builtin, user], ["pyttsx3", "piper"])
    assert lexicons["pyttsx3"].respell("Epsom hip") == "Ep som hip"
    assert lexicons["piper"].respell("Epsom hip") == "Ep som hipp"


def test_the_request_carries_the_respelling_for_its_engine() -> None:
    lexicons = {"piper": Lexicon({"Epsom": "Epsum"})}
    assert (
        speech_request("An Epsom bath.", "piper:joe", 145, lexicons, Fraction(1)).text
        == "An Epsum bath."
    )
    assert (
        speech_request("An Epsom bath.", "pyttsx3:x", 145, lexicons, Fraction(1)).text
        == "An Epsom bath."
    )


def test_the_builtin_lexicon_reads_and_a_users_is_found(tmp_path: Path) -> None:
    library = Catalogue((tmp_path,))
    assert [path.name for path in library.lexicon_files] == ["lexicon.toml"]
    lexicons = load_lexicons(library.lexicon_files, ["pyttsx3", "piper"])
    assert "Bahdah" in lexicons["piper"].respell("Baddha Konasana")
    write(tmp_path / "lexicon.toml", '[all]\n"Baddha Konasana" = "butterfly"\n')
    lexicons = load_lexicons(library.lexicon_files, ["pyttsx3"])
    assert lexicons["pyttsx3"].respell("Baddha Konasana") == "butterfly"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('[all]\n"Epsom" = Epsum\n', "TOML syntax error", 2),
        ('[all]\n"Epsom" = 3\n', r"\[all\] must be a table", 0),
        ('[all]\n"Epsom" = ""\n', "not empty", 0),
        ('"Epsom" = "Epsum"\n', r"\[Epsom\] must be a table", 0),
    ],
)
def test_a_bad_lexicon_is_one_clear_error(
    tmp_path: Path, text: str, message: str, line: int
) -> None:
    path = write(tmp_path / "lexicon.toml", text)
    with pytest.raises(LexiconError, match=message) as caught:
        load_lexicons([path], ["pyttsx3"])
    expected: Source | str = Source(str(path), line) if line else str(path)
    assert caught.value.where == expected
