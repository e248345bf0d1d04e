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
from generator.errors import SettingsError, Source, StillpointError, closest

RATE_RANGE = (60, 400)  # words per minute eSpeak NG handles without garbling
BREATH_RANGE = (Fraction(2), Fraction(60))
GAP_RANGE = (Fraction(0), Fraction(30))
WARMUP_RANGE = (Fraction(0), Fraction(600))
PAN_RANGE = (Fraction(0), Fraction(1))
VOLUME_RANGE = (Fraction(1, 20), Fraction(1))
LEVELS = {"gentle": Fraction(5, 8), "standard": Fraction(1), "deep": Fraction(3, 2)}
DURATION_SETTINGS = ("breath", "gap", "warmup")  # the settings that are lengths of time
MAX_LISTENER = 40  # characters: a name, not a speech

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
    rate: int = 145  # words per minute: unhurried, as guided practice wants
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
        _check_range("side_pan", self.side_pan, PAN_RANGE, "")
        _check_range("volume", self.volume, VOLUME_RANGE, "")
        for name in ("voice", "bell", "ambience"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty name, not {value!r}")
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
            fix = f"{closest(key, known)} Known {label}s: {', '.join(known)}. {hint}".strip()
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
