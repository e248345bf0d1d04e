"""Numbers and lengths of time as words a voice can say ("seven and a half minutes").

Used for counting breaths aloud and for announcing a silence by its real, computed length.
"""

from __future__ import annotations

from fractions import Fraction

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ABOUT_TOLERANCE = Fraction(1)  # seconds a stated length may differ from the real one unmarked


def number_words(number: int) -> str:
    """0..999 in words: 7 -> seven, 45 -> forty-five, 120 -> one hundred and twenty."""
    if not 0 <= number <= 999:
        raise ValueError(f"{number} is outside 0..999")
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(number, 100)
    return f"{_ONES[hundreds]} hundred" + (f" and {number_words(rest)}" if rest else "")


def spoken_length(seconds: Fraction) -> str:
    """A length as a person would say it, prefixed with 'about' when it had to be rounded.

    Under a minute: seconds (to 5 s from ten up); under ten minutes: minutes to the half minute;
    beyond: whole minutes, and hours from an hour up.
    """
    if seconds < 60:
        step = 5 if seconds >= 10 else 1
        said = Fraction(max(1, round(seconds / step) * step))
        text = _unit(int(said), "second")
    elif seconds < 600 - 15:
        halves = round(seconds / 30)
        said = Fraction(halves * 30)
        whole, half = divmod(halves, 2)
        text = f"{number_words(whole)} and a half minutes" if half else _unit(whole, "minute")
    else:
        minutes = round(seconds / 60)
        said = Fraction(minutes * 60)
        hours, rest = divmod(minutes, 60)
        text = _unit(rest, "minute")
        if hours:
            text = _unit(hours, "hour") + (f" and {text}" if rest else "")
    return f"about {text}" if abs(said - seconds) > ABOUT_TOLERANCE else text


def _unit(count: int, unit: str) -> str:
    return f"{number_words(count)} {unit}{'' if count == 1 else 's'}"
