"""Session-wide settings: their values, ranges and checks, made once where they are built.

Durations are exact seconds (``Fraction``); a value from a recipe, the config file or ``--set``
is checked here and its error names the setting, so the caller can say where it was written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any

from generator.base.durations import parse_seconds
from generator.base.text import CONTROL_CHARS
from generator.errors import SettingsError, Source, StillpointError, closest

RATE_RANGE = (60, 240)  # words a minute as heard: both engines speak these clearly
BREATH_RANGE = (Fraction(2), Fraction(60))
GAP_RANGE = (Fraction(0), Fraction(30))
WARMUP_RANGE = (Fraction(0), Fraction(600))
PAN_RANGE = (Fraction(0), Fraction(1))
VOLUME_RANGE = (Fraction(1, 20), Fraction(1))
LEVELS = {"gentle": Fraction(5, 8), "standard": Fraction(1), "deep": Fraction(3, 2)}
SENTENCE_PAUSE_RANGE = (Fraction(0), Fraction(5))
LEVEL_RANGE = (Fraction(-40), Fraction(6))  # dB against the voice
DURATION_SETTINGS = ("breath", "gap", "warmup", "sentence_pause")  # lengths of time
# Each sound's level against the voice's loudness, in dB (LU), kept through mastering. The
# defaults are where they sat before they could be set (the bowl measured 4.5 LU under the voice,
# a bed 18, music 8); a word is 6 dB either side of its default.
LEVEL_DEFAULTS = {"bell_level": -4, "ambience_level": -18, "music_level": -8}
LEVEL_WORDS = {"soft": -6, "medium": 0, "loud": 6}
# Names a user is likely to try for a setting, and the setting they mean.
SYNONYMS = {
    "bell_volume": "bell_level", "bells": "bell_level", "bell_loudness": "bell_level",
    "bells_volume": "bell_level", "chime_volume": "bell_level",
    "ambience_volume": "ambience_level", "bed_level": "ambience_level",
    "bed_volume": "ambience_level", "background": "ambience_level",
    "music_volume": "music_level", "speed": "rate", "pace": "rate", "wpm": "rate",
    "pause": "sentence_pause", "pauses": "sentence_pause",
}  # fmt: skip
MAX_LISTENER = 40  # characters: a name, not a speech
MAX_TITLE = 120  # characters: a title, as players show one

Locate = Callable[[str], Source | str]  # finds where a key was written, for error messages


class SettingValueError(ValueError):
    """A setting's value is wrong, and which setting it is (the message may not say)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


def _seconds(value: object, name: str) -> Fraction:
    if isinstance(value, bool):
        raise ValueError(f'{name} must be a duration such as "10s", not {value!r}')
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | float):
        return _finite(value, name)
    if isinstance(value, str):
        try:
            return parse_seconds(value)
        except ValueError as error:  # its message names the value, not the setting
            raise SettingValueError(name, str(error)) from None
    raise ValueError(f'{name} must be a duration such as "10s", not {value!r}')


def _level(value: object, name: str) -> Fraction:
    """A level in dB against the voice: a number (-6, "-6 dB") or a word (soft, medium, loud)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in LEVEL_WORDS:
            return Fraction(LEVEL_DEFAULTS[name] + LEVEL_WORDS[text])
        try:
            return Fraction(text.removesuffix("db").strip())
        except (ValueError, ZeroDivisionError):
            raise SettingValueError(
                name,
                f"{name} must be a level in dB such as -10 or a word "
                f"({', '.join(LEVEL_WORDS)}), not {value!r}",
            ) from None
    return _fraction(value, name)


def _fraction(value: object, name: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _finite(value, name)
    raise ValueError(f"{name} must be a number such as 0.6, not {value!r}")


def _finite(value: int | float, name: str) -> Fraction:
    if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf
        raise ValueError(f"{name} must be a number, not {value}")
    return Fraction(str(value))


@dataclass(frozen=True)
class Settings:
    """Session-wide settings, validated once here. Durations are exact seconds."""

    breath: Fraction = Fraction(10)  # one breath, for durations written in breaths
    # Words a minute as heard, pauses included. Guided practice is spoken at about 100-130
    # (audiobooks at 150-160); 120 is its middle: a ten-word sentence takes 5 s.
    rate: int = 120
    sentence_pause: Fraction = Fraction(1)  # s between sentences at 120 (longer when slower)
    voice: str = "auto"
    bell: str = "bowl"  # the sound a bare [bell] rings
    gap: Fraction = Fraction(3, 2)  # silence between two utterances that follow each other
    warmup: Fraction = Fraction(
        0
    )  # silence before the first cue: time to settle after pressing play
    side_pan: Fraction = Fraction(0)  # 0: mono; up to 1: a two-sided hold's cues come from its side
    volume: Fraction = Fraction(1)  # of the voice, on every engine alike (a gain on its clips)
    listener: str = ""  # the listener's name, for a greeting and a thank-you; empty: none
    level: str = "standard"  # gentle, standard or deep: scales every hold (LEVELS)
    ambience: str = "off"  # a bed under the whole session: brown, pink, ocean, drone or a file
    cover: str = ""  # the MP3's cover art: a PNG or JPEG file; empty: one made for the session
    bell_level: Fraction = Fraction(LEVEL_DEFAULTS["bell_level"])  # dB against the voice
    ambience_level: Fraction = Fraction(LEVEL_DEFAULTS["ambience_level"])
    music_level: Fraction = Fraction(LEVEL_DEFAULTS["music_level"])
    title: str = ""  # a personal copy's own title, in its tags, sidecars and the library page

    def __post_init__(self) -> None:
        for name in DURATION_SETTINGS:
            object.__setattr__(self, name, _seconds(getattr(self, name), name))
        for name in ("side_pan", "volume"):
            object.__setattr__(self, name, _fraction(getattr(self, name), name))
        if isinstance(self.rate, bool) or not isinstance(self.rate, int):
            raise ValueError(f"rate must be a whole number of words per minute, not {self.rate!r}")
        _check_range("rate", self.rate, RATE_RANGE, " words per minute")
        _check_range("breath", self.breath, BREATH_RANGE, "s")
        _check_range("gap", self.gap, GAP_RANGE, "s")
        _check_range("warmup", self.warmup, WARMUP_RANGE, "s")
        _check_range("sentence_pause", self.sentence_pause, SENTENCE_PAUSE_RANGE, "s")
        for name in LEVEL_DEFAULTS:
            object.__setattr__(self, name, _level(getattr(self, name), name))
            _check_range(name, getattr(self, name), LEVEL_RANGE, " dB")
        _check_range("side_pan", self.side_pan, PAN_RANGE, "")
        _check_range("volume", self.volume, VOLUME_RANGE, "")
        for name in ("voice", "bell", "ambience"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty name, not {value!r}")
        if not isinstance(self.title, str) or len(self.title) > MAX_TITLE:
            raise ValueError(f"title must be text of at most {MAX_TITLE} characters")
        if CONTROL_CHARS.search(self.title):
            raise ValueError("title holds a control character")
        if not isinstance(self.cover, str):
            raise ValueError(f"cover must be the path of a PNG or JPEG file, not {self.cover!r}")
        if not isinstance(self.level, str) or self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if not isinstance(self.listener, str) or len(self.listener) > MAX_LISTENER:
            raise ValueError(f"listener must be a name of at most {MAX_LISTENER} characters")
        if any(not (char.isalnum() or char in " -'.") for char in self.listener):
            raise ValueError(
                f"listener must be a name (letters, spaces, - ' .), not {self.listener!r}"
            )

    @property
    def hold_scale(self) -> Fraction:
        return LEVELS[self.level]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _check_range(name: str, value: Fraction | int, bounds: tuple[Any, Any], unit: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(
            f"{name} must be between {low}{unit} and {high}{unit}, not {_shown(value)}{unit}"
        )


def _shown(value: Fraction | int) -> str:
    """A number as a person reads it: 1e+300, not three hundred digits."""
    try:
        return f"{float(value):.6g}"
    except OverflowError:
        return "a number beyond any range"


def reject_unknown(
    keys: Iterable[str],
    known: Sequence[str],
    locate: Locate,
    error: type[StillpointError],
    label: str,
    hint: str = "",
) -> None:
    """Raise error for the first key that is not known, naming where it is and what is known."""
    for key in keys:
        if key not in known:
            fix = f"{suggested(key, known)} Known {label}s: {', '.join(known)}. {hint}".strip()
            raise error(f"unknown {label} {key!r}", where=locate(key), fix=fix)


def build_settings(
    values: Mapping[str, object], locate: Locate, extra: Sequence[str] = ()
) -> Settings:
    """Settings from values, each checked; ``extra`` keys are allowed and ignored here."""
    reject_unknown(values, (*Settings.names(), *extra), locate, SettingsError, "setting")
    values = {key: value for key, value in values.items() if key not in extra}
    try:
        return Settings(**values)  # type: ignore[arg-type]  # checked in __post_init__
    except (ValueError, ZeroDivisionError) as error:
        named = error.setting if isinstance(error, SettingValueError) else None
        bad = named or next((key for key in values if key in str(error)), "settings")
        raise SettingsError(str(error), where=locate(bad), fix="Change the value.") from None


def suggested(key: str, known: Iterable[str]) -> str:
    """' Did you mean X?' for a misspelt setting, or one named as users name it (bell_volume)."""
    names = list(known)
    meant = SYNONYMS.get(key.lower())
    return f" Did you mean {meant!r}?" if meant in names else closest(key, names)
