"""How an utterance is spoken: its phrases, the pauses between them, and the pace as heard.

A guide speaks in phrases and leaves room between them: about a second between sentences at
120 words a minute, a shorter breath at a comma, semicolon, colon or dash. So an utterance is
split into phrases here, each phrase is spoken by the engine on its own (and trimmed), and the
pieces are joined with silences of our own; the engines' own pauses (0.35 s at most) are not
what a listener following with the body needs.

``rate`` is words a minute as heard: an utterance of W words lasts W x 60 / rate seconds, its
inner pauses included. The engine is asked for the speed that leaves the pauses their nominal
length (``Pace.seconds_per_word``); what it really took is then measured, and the pauses take up
the difference (within PAUSE_GIVE), so the utterance lands on its length whatever the engine's
own timing did. Only an utterance of one phrase has no pause to give, and relies on the
engine's calibration (``voices.py``).

Since the pauses are ours, where each phrase is heard in the clip is known exactly: ``deliver``
returns a ``PhraseMark`` for each (its first and one-past-last sample), which the transcripts time
their captions by. ``estimated_marks`` gives the same from the pace alone, for plans without
audio; ``written_marks`` puts the words as written back on marks of a respelled text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import accumulate
from typing import Literal

import numpy as np

from generator.base.samples import Samples, frozen, trim_silence

Break = Literal["sentence", "comma", "end"]

BASE_RATE = 120  # words a minute at which the sentence pause setting holds as written
COMMA_SHARE = Fraction(7, 20)  # a comma's, semicolon's or dash's pause, of a sentence's
PAUSE_GIVE = (Fraction(1, 2), Fraction(2))  # the pauses may shrink or grow this much to fit
FASTEST = Fraction(3, 2)  # the engine never speaks faster than this times the rate asked for
PACE_TOLERANCE = 0.03  # an utterance further than this from its length is spoken once more
MISS_LIMIT = 0.04  # an utterance still further off is divided where a guide would breathe
ATTEMPTS = 3  # readings at most: the second lands within 3 % but for a few short sentences
SLOWEST = Fraction(60, 105)  # s a word: slower words drawl; slower speech is longer pauses
MIN_PART_WORDS = 3  # each part of a divided phrase keeps at least this many words
# Words a phrase may be divided before, where a guide would take a breath.
BREATH_BEFORE = frozenset({
    "and", "but", "or", "as", "then", "while", "until", "so", "because", "into", "onto",
    "towards", "toward", "through", "with", "without", "in", "on", "at", "to", "from", "over",
    "under", "around",
})  # fmt: skip
SENTENCE_MARKS = (".", "!", "?", "…")
CLAUSE_MARKS = (",", ";", ":")
DASHES = ("\u2014", "\u2013", "-", "--")  # em dash, en dash, hyphens standing alone
CLOSERS = "\"')]\u201d\u2019"  # closing quotes and brackets after a phrase's last word
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")  # don't, don\u2019t: one word


@dataclass(frozen=True)
class Phrase:
    text: str
    after: Break  # the pause that follows it


@dataclass(frozen=True)
class PhraseMark:
    """Where one phrase is heard: sample offsets in its clip (or, on a timeline's event, in the
    file), from its first audible sample to one past its last, and its words."""

    start: int
    end: int
    text: str

    def shifted(self, by: int) -> PhraseMark:
        return replace(self, start=self.start + by, end=self.end + by)


def phrases(text: str) -> tuple[Phrase, ...]:
    """The utterance in phrases, each with the kind of pause after it (the last: none).

    A phrase ends at a word that ends a sentence (. ! ? …) or a clause (, ; :), closing quotes
    and brackets after it included, or before a dash standing between words.
    """
    found: list[Phrase] = []
    words: list[str] = []
    for word in text.split():
        if word in DASHES:
            found += _closed(words, "comma")
            continue
        words.append(word)
        end = word.rstrip(CLOSERS)
        if end.endswith(SENTENCE_MARKS):
            found += _closed(words, "sentence")
        elif end.endswith(CLAUSE_MARKS):
            found += _closed(words, "comma")
    found += _closed(words, "end")
    if not found:
        return (Phrase(text, "end"),)
    return (*found[:-1], Phrase(found[-1].text, "end"))


def _closed(words: list[str], after: Break) -> list[Phrase]:
    """The phrase of the words gathered so far (and the list emptied), if it has a word."""
    text = " ".join(words)
    words.clear()
    return [Phrase(text, after)] if _WORD.search(text) else []


def word_count(text: str) -> int:
    """Words as a listener counts them: runs of letters and digits (don't is one word)."""
    return len(_WORD.findall(text))


@dataclass(frozen=True)
class Pace:
    """The timing asked for one utterance: its phrases, its length, and its pauses at their
    nominal lengths."""

    phrases: tuple[Phrase, ...]
    seconds: Fraction  # the whole utterance, pauses included
    pauses: tuple[Fraction, ...]  # after each phrase but the last
    words: int
    sentence_pause: Fraction  # at this pace (a comma's is COMMA_SHARE of it)

    def pause_after(self, phrase: Phrase) -> Fraction:
        share = Fraction(1) if phrase.after == "sentence" else COMMA_SHARE
        return self.sentence_pause * share

    def divided(self) -> Pace | None:
        """The same with its longest phrase divided where a guide would breathe, if it can be."""
        parts = _divided(self.phrases)
        if parts is None:
            return None
        pauses = tuple(self.pause_after(part) for part in parts[:-1])
        return replace(self, phrases=parts, pauses=pauses)

    @property
    def seconds_per_word(self) -> float:
        """The engine's speed that leaves the pauses their nominal length: never faster than
        FASTEST times the rate (a run of commas shortens its pauses instead), never slower than
        SLOWEST (slower speech is more and longer pauses, not drawled words)."""
        words = max(self.words, 1)
        speech = (self.seconds - sum(self.pauses, Fraction(0))) / words
        return float(min(max(speech, self.seconds / FASTEST / words), SLOWEST))


def pace(text: str, rate: int, sentence_pause: Fraction) -> Pace:
    """The utterance's length at ``rate`` words a minute as heard, and its nominal pauses: the
    sentence pause setting at BASE_RATE, longer at a slower rate and shorter at a faster one.

    At a pace slower than its words can be spoken (SLOWEST) with its pauses at their longest,
    the longest phrase is divided where a guide would breathe, until the pauses can fill it.
    """
    scale = Fraction(BASE_RATE, rate)
    pause = {"sentence": sentence_pause * scale, "comma": sentence_pause * scale * COMMA_SHARE}
    words = word_count(text)
    seconds = Fraction(words * 60, rate)
    parts = phrases(text)

    def pauses_of(parts: tuple[Phrase, ...]) -> tuple[Fraction, ...]:
        return tuple(pause[part.after] for part in parts[:-1])

    def too_slow(parts: tuple[Phrase, ...]) -> bool:
        longest_pauses = sum(pauses_of(parts), Fraction(0)) * PAUSE_GIVE[1]
        return seconds - words * SLOWEST - longest_pauses > 0 and pause["comma"] > 0

    while too_slow(parts) and (divided := _divided(parts)) is not None:
        parts = divided
    return Pace(parts, seconds, pauses_of(parts), words, pause["sentence"])


def _divided(parts: tuple[Phrase, ...]) -> tuple[Phrase, ...] | None:
    """The phrases with the longest divided in two, before a word in BREATH_BEFORE nearest its
    middle (else at its middle); None when no phrase is long enough to divide."""
    longest = max(range(len(parts)), key=lambda index: word_count(parts[index].text))
    words = parts[longest].text.split()
    places = range(MIN_PART_WORDS, len(words) - MIN_PART_WORDS + 1)
    if not places:
        return None
    middle = len(words) / 2
    natural = [at for at in places if words[at].lower().strip(",.;:") in BREATH_BEFORE]
    at = min(natural or places, key=lambda place: abs(place - middle))
    first = Phrase(" ".join(words[:at]), "comma")
    second = Phrase(" ".join(words[at:]), parts[longest].after)
    return (*parts[:longest], first, second, *parts[longest + 1 :])


Speak = Callable[[Sequence[str], float], tuple[list[Samples], int]]  # phrases, s/word


@dataclass(frozen=True)
class Delivered:
    """An utterance as spoken: its samples, their rate, and where each phrase is in them."""

    samples: Samples
    sample_rate: int
    phrases: tuple[PhraseMark, ...]  # as the engine was given them, at sample_rate


def deliver(text: str, rate: int, sentence_pause: Fraction, speak: Speak) -> Delivered:
    """The utterance spoken phrase by phrase by ``speak`` and joined with its pauses, so that
    it lasts its words x 60 / rate seconds, with the samples where each phrase is heard.

    The engine's speed for the words is its calibration's; a text whose words run faster or
    slower than the calibration's phrases (by 30 % for some sentences) misses by more than the
    pauses can give, and is spoken again at the speed its readings show it needs (a secant
    through the last two), at most ATTEMPTS times; the reading that lands nearest is kept.
    """
    wanted = pace(text, rate, sentence_pause)
    best = _read(wanted, speak)
    divided = wanted.divided() if best.miss > MISS_LIMIT else None
    if divided is not None:  # a sentence the engine will not time: a breath in it gives room
        best = min((best, _read(divided, speak)), key=lambda reading: reading.miss)
    samples, marks = _joined(best.pieces, best.texts, best.pauses, best.give, best.sample_rate)
    return Delivered(samples, best.sample_rate, marks)


def _read(wanted: Pace, speak: Speak) -> _Reading:
    """The phrases read at the speed that fits, again at a corrected speed while they miss (at
    most ATTEMPTS readings); the reading nearest the length asked for."""
    texts = [part.text for part in wanted.phrases]
    nominal = sum(wanted.pauses, Fraction(0))
    budget = max(wanted.seconds - nominal, wanted.seconds / FASTEST)  # the words' share
    readings: list[_Reading] = []
    seconds_per_word = wanted.seconds_per_word
    for _attempt in range(ATTEMPTS):
        pieces, sample_rate = speak(texts, seconds_per_word)
        reading = _Reading.of(seconds_per_word, pieces, sample_rate, wanted, nominal)
        readings.append(reading)
        if reading.miss <= PACE_TOLERANCE or not reading.spoken:
            break
        seconds_per_word = _next_speed(readings, budget)
    return min(readings, key=lambda reading: reading.miss)


@dataclass(frozen=True)
class _Reading:
    """One reading of the phrases: at what speed, how long the words took, how far it missed."""

    seconds_per_word: float
    pieces: tuple[Samples, ...]  # trimmed
    texts: tuple[str, ...]  # the phrase each piece says
    pauses: tuple[Fraction, ...]  # nominal, after each piece but the last
    sample_rate: int
    spoken: Fraction  # seconds of the words alone
    give: Fraction  # what the pauses stretch by to fill the rest
    miss: float  # the utterance's length against the one asked for, as a share

    @classmethod
    def of(
        cls, speed: float, pieces: Sequence[Samples], rate: int, wanted: Pace, nominal: Fraction
    ) -> _Reading:
        trimmed = tuple(trim_silence(piece) for piece in pieces)
        spoken = Fraction(sum(piece.size for piece in trimmed), rate)
        give = _give(wanted.seconds - spoken, nominal)
        miss = abs(float((spoken + give * nominal) / wanted.seconds) - 1)
        texts = tuple(part.text for part in wanted.phrases)
        return cls(speed, trimmed, texts, wanted.pauses, rate, spoken, give, miss)


def _next_speed(readings: Sequence[_Reading], budget: Fraction) -> float:
    """The speed to read at next: on the line through the last two readings (an engine's
    timing is not proportional to its setting near its slowest), else scaled by the miss."""
    last = readings[-1]
    scaled = last.seconds_per_word * float(budget / last.spoken)
    if len(readings) < 2:
        return scaled
    before = readings[-2]
    if last.spoken == before.spoken:
        return scaled
    slope = (last.seconds_per_word - before.seconds_per_word) / float(last.spoken - before.spoken)
    secant = last.seconds_per_word + slope * float(budget - last.spoken)
    return secant if secant > 0 else scaled


def _give(room: Fraction, nominal: Fraction) -> Fraction:
    """How much the pauses stretch or shrink (within PAUSE_GIVE) to fill the room left by the
    speech; 1 for an utterance without pauses."""
    if not nominal:
        return Fraction(1)
    low, high = PAUSE_GIVE
    return min(max(room / nominal, low), high)


def _joined(
    pieces: Sequence[Samples],
    texts: Sequence[str],
    pauses: Sequence[Fraction],
    give: Fraction,
    sample_rate: int,
) -> tuple[Samples, tuple[PhraseMark, ...]]:
    """The phrases one after another, each pause between them ``give`` times its length, and
    where each phrase lies in the result."""
    silences = [round(pause * give * sample_rate) for pause in pauses]
    joined: list[Samples] = []
    marks: list[PhraseMark] = []
    at = 0
    for piece, text, silence in zip(pieces, texts, (*silences, 0), strict=True):
        joined.append(piece)
        marks.append(PhraseMark(at, at + piece.size, text))
        at += piece.size + silence
        if silence:
            joined.append(np.zeros(silence, dtype=np.float32))
    samples = frozen(np.concatenate(joined) if joined else np.zeros(0))
    return samples, tuple(marks)


def estimated_marks(
    text: str, rate: int, sentence_pause: Fraction, sample_rate: int
) -> tuple[PhraseMark, ...]:
    """Where each phrase would be heard, from the pace alone (no audio): the words take their
    share of the length (as ``_read`` asks the engine for), the pauses their nominal length (as
    ``_give`` would stretch them when the words may not go faster). Offsets never pass the
    utterance's length (words x 60 / rate), which is the estimated clip's."""
    wanted = pace(text, rate, sentence_pause)
    nominal = sum(wanted.pauses, Fraction(0))
    budget = max(wanted.seconds - nominal, wanted.seconds / FASTEST)  # the words' share
    give = _give(wanted.seconds - budget, nominal)
    length = round(wanted.seconds * sample_rate)
    words = max(wanted.words, 1)
    marks: list[PhraseMark] = []
    at = Fraction(0)
    for part, pause in zip(wanted.phrases, (*wanted.pauses, Fraction(0)), strict=True):
        start = min(round(at * sample_rate), length)
        at += budget * word_count(part.text) / words
        marks.append(PhraseMark(start, min(round(at * sample_rate), length), part.text))
        at += pause * give
    return written_marks(marks, text)


def written_marks(marks: Sequence[PhraseMark], written: str) -> tuple[PhraseMark, ...]:
    """The marks of a clip with the phrases as written, where the engine was given ``written``
    respelled by a lexicon (or as it is: then only the dashes standing alone come back).

    A respelling is word for word in practice: each mark takes as many written words as it
    spoke, when that puts every phrase break where the spoken text had it. Else phrase i of
    the spoken text is phrase i of the written one, when both have as many; else one mark
    covers the whole utterance.
    """
    if not marks:
        return ()
    tokens = written.split()
    by_words = _by_words(marks, tokens)
    if by_words is not None:
        return by_words
    found = phrases(written)
    if len(found) == len(marks):
        return tuple(replace(mark, text=part.text) for mark, part in zip(marks, found, strict=True))
    return (PhraseMark(marks[0].start, marks[-1].end, " ".join(tokens)),)


def _by_words(marks: Sequence[PhraseMark], tokens: Sequence[str]) -> tuple[PhraseMark, ...] | None:
    """Each mark with as many written words as it has spoken ones, a dash standing alone kept
    with the words before it; None when the counts or the phrase breaks do not agree."""
    words = [at for at, token in enumerate(tokens) if token not in DASHES]
    counts = [len(mark.text.split()) for mark in marks]
    if sum(counts) != len(words) or 0 in counts:
        return None
    found: list[PhraseMark] = []
    first = 0
    for mark, total in zip(marks, accumulate(counts), strict=True):
        last = total - 1  # the mark's last word, counted over the marks
        through = words[last] + 1
        while through < len(tokens) and tokens[through] in DASHES:
            through += 1
        text = " ".join(tokens[first:through])
        if _break(text) != _break(mark.text):
            return None
        found.append(replace(mark, text=text))
        first = through
    return tuple(found)


def _break(text: str) -> str:
    """What a phrase ends with: a sentence mark, a clause mark, or neither (dashes aside)."""
    words = [word for word in text.split() if word not in DASHES]
    end = words[-1].rstrip(CLOSERS) if words else ""
    if end.endswith(SENTENCE_MARKS):
        return "sentence"
    return "clause" if end.endswith(CLAUSE_MARKS) else ""
