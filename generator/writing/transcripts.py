"""The transcripts beside the MP3: WebVTT and LRC (timed to the speech), and the prompt sheet.

Both are made of captions shaped as subtitles are: at most two lines of about 42 characters,
each shown from the sample its first word is heard. A speech event knows where each of its
phrases is heard (``Event.phrases``: Stillpoint joins the phrases with pauses of its own, so the
times are exact). A caption is one phrase, or phrases that follow each other merged while they
fit; a phrase too long for one caption is divided between words, its times shared by words.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from generator.base.durations import format_clock_ms
from generator.base.text import one_line
from generator.speech.delivery import CLAUSE_MARKS, CLOSERS, DASHES, SENTENCE_MARKS, PhraseMark
from generator.timeline.events import Event, Timeline

# Characters a caption line holds: the broadcasters' limit for subtitles on a 16:9 screen
# (Netflix and the BBC: 42; 447-character lines were what one cue an utterance gave).
LINE_CHARACTERS = 42
CAPTION_LINES = 2
# Seconds a caption of merged phrases may last at most, and a longer phrase is divided to: the
# longest a subtitle stays up in Netflix's and the BBC's guidelines (7 s). At 120 words a
# minute that is 14 words, about two full lines.
LONGEST_CAPTION = 7.0
# A caption stays up through a silence shorter than this (s), until the next one appears: a
# comma's pause is 0.35 s at 120 words a minute, a sentence's 1 s; between utterances the gap
# is 1.5 s by default, and there the screen clears. Shorter flickers.
CHAIN_GAP = 1.0
# Characters a line break between two phrases may cost in balance: "Rest here." / "Let the hips
# soften." reads better than a break mid-phrase with lines a few characters more even.
PHRASE_BREAK_BONUS = 8


@dataclass(frozen=True)
class Caption:
    """What is on screen from ``start`` to ``end`` (samples of the file): one or two lines."""

    start: int  # where its first word is heard
    end: int  # where its last word ends, or the next caption begins after a short silence
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@dataclass(frozen=True)
class _Words:
    """Words heard from start to end (samples), in the order written."""

    start: int
    end: int
    words: tuple[str, ...]


def captions(timeline: Timeline) -> tuple[Caption, ...]:
    """Every utterance as captions, in order of time."""
    rate = timeline.sample_rate
    found: list[Caption] = []
    for event in timeline.events:
        if event.kind != "speech":
            continue
        pieces = [part for mark in _marks(event) for part in _divided(_words(mark), rate)]
        said = [
            Caption(group.start, group.end, _lines(group.words)) for group in _merged(pieces, rate)
        ]
        found += _chained(said, _samples(CHAIN_GAP, rate))
    return tuple(sorted(found, key=lambda caption: caption.start))


def _samples(seconds: float, rate: int) -> int:
    return round(seconds * rate)


def _marks(event: Event) -> tuple[PhraseMark, ...]:
    """The event's phrases inside it, or the whole utterance as one when they are not known."""
    marks = event.phrases or (PhraseMark(event.start, event.end, event.text),)

    def inside(sample: int) -> int:
        return min(max(sample, event.start), event.end)

    return tuple(replace(m, start=inside(m.start), end=inside(m.end)) for m in marks)


def _words(mark: PhraseMark) -> _Words:
    return _Words(mark.start, max(mark.start, mark.end), tuple(mark.text.split()))


def _divided(phrase: _Words, rate: int) -> list[_Words]:
    """The phrase as one piece, or in as few as fit a caption each (in lines and in seconds),
    divided between words into pieces of even length, each timed by its share of the words."""
    count = len(phrase.words)
    for parts in range(1, count + 1):
        pieces = [_share(phrase, first, last) for first, last in _balanced(phrase.words, parts)]
        if all(_fits(piece, rate) or len(piece.words) == 1 for piece in pieces):
            return pieces
    return []  # no words: nothing to show


def _share(phrase: _Words, first: int, last: int) -> _Words:
    """Words first..last-1 of the phrase, timed as if each word took an equal part of it."""
    count, length = len(phrase.words), phrase.end - phrase.start
    start = phrase.start + length * first // count
    end = phrase.start + length * last // count
    return _Words(start, end, phrase.words[first:last])


def _balanced(words: Sequence[str], parts: int) -> list[tuple[int, int]]:
    """Word ranges of ``parts`` consecutive pieces whose longest is as short as can be."""
    width = [len(word) for word in words]

    @functools.cache
    def best(first: int, parts: int) -> tuple[int, tuple[int, ...]]:
        """(the longest piece's characters, where the pieces after the first begin)"""
        if parts == 1:
            return _width(width[first:]), ()
        options = []
        for cut in range(first + 1, len(words) - parts + 2):
            longest, cuts = best(cut, parts - 1)
            options.append((max(_width(width[first:cut]), longest), (cut, *cuts)))
        return min(options)

    bounds = [0, *best(0, parts)[1], len(words)]
    return list(pairwise(bounds))


def _width(widths: Sequence[int]) -> int:
    """Characters of words written with a space between them."""
    return sum(widths) + max(len(widths) - 1, 0)


def _fits(piece: _Words, rate: int) -> bool:
    """Whether the words fit one caption: two lines, and not longer than a caption may last."""
    lines = _lines(piece.words)
    short = all(len(line) <= LINE_CHARACTERS for line in lines)
    return short and piece.end - piece.start <= LONGEST_CAPTION * rate


def _merged(pieces: Sequence[_Words], rate: int) -> list[_Words]:
    """Pieces that follow each other merged into one caption while the caption fits."""
    groups: list[_Words] = []
    for piece in pieces:
        if groups:
            joined = _Words(groups[-1].start, piece.end, groups[-1].words + piece.words)
            if _fits(joined, rate):
                groups[-1] = joined
                continue
        groups.append(piece)
    return groups


@functools.lru_cache(maxsize=4096)
def _lines(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words on one line, or on two split where they balance best (a break between phrases
    preferred by PHRASE_BREAK_BONUS characters); the longer line is as short as can be."""
    text = " ".join(words)
    if len(text) <= LINE_CHARACTERS or len(words) < CAPTION_LINES:
        return (text,)

    def cost(at: int) -> tuple[bool, int, bool]:
        top, bottom = " ".join(words[:at]), " ".join(words[at:])
        longest = max(len(top), len(bottom))
        overlong = longest > LINE_CHARACTERS  # only when no split fits
        between = _ends_phrase(words, at)
        return overlong, longest - (PHRASE_BREAK_BONUS if between else 0), not between

    at = min(range(1, len(words)), key=cost)
    return " ".join(words[:at]), " ".join(words[at:])


def _ends_phrase(words: Sequence[str], at: int) -> bool:
    """Whether words[at - 1] ends a phrase: a sentence or clause mark, or a dash standing alone
    (``written_marks`` keeps one with the words before it)."""
    last = words[at - 1]
    return last in DASHES or last.rstrip(CLOSERS).endswith(SENTENCE_MARKS + CLAUSE_MARKS)


def _with_next(found: Sequence[Caption]) -> Iterator[tuple[Caption, Caption | None]]:
    """Each caption with the one after it (None after the last); none for a silent session."""
    return zip(found, (*found[1:], None), strict=False)


def _chained(found: Sequence[Caption], gap: int) -> list[Caption]:
    """Each caption of an utterance kept up until the next begins, when the silence between is
    under ``gap`` samples: captions that flicker off for a comma's pause are harder to follow.
    (The last ends with the utterance's words: the WebVTT keeps to the utterance.)"""
    chained = []
    for caption, following in _with_next(found):
        if following is not None and caption.end < following.start < caption.end + gap:
            caption = replace(caption, end=following.start)
        chained.append(caption)
    return chained


def webvtt(timeline: Timeline) -> str:
    """A WebVTT transcript: captions of at most two lines, timed to where their words are heard."""
    lines = ["WEBVTT", ""]
    for number, caption in enumerate(captions(timeline), 1):
        start, end = (_vtt_time(timeline, caption.start), _vtt_time(timeline, caption.end))
        text = [_vtt_text(line) for line in caption.lines]
        lines += [str(number), f"{start} --> {end}", *text, ""]
    return "\n".join(lines)


def _vtt_time(timeline: Timeline, sample: int) -> str:
    return format_clock_ms(timeline.seconds(sample), always_hours=True)


def _vtt_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def lrc(timeline: Timeline) -> str:
    """An LRC transcript (lyrics format many players show line by line): a line a caption, and
    an empty timed line where the speech stops for a while, so that words are not left on
    screen through a silence."""
    lines = [f"[ti:{_lrc_text(timeline.title)}]", "[ar:Stillpoint]"]
    lines.append(f"[length:{_lrc_time(timeline.duration).split('.')[0]}]")
    lines += _lrc_lines(timeline, captions(timeline))
    return "\n".join(lines) + "\n"


def _lrc_lines(timeline: Timeline, found: Sequence[Caption]) -> Iterator[str]:
    """A line a caption, and an empty one where its words end unless the next caption follows
    within CHAIN_GAP (an LRC line stays up until the next: it has no end of its own)."""
    gap = _samples(CHAIN_GAP, timeline.sample_rate)
    for caption, following in _with_next(found):
        yield f"[{_lrc_time(timeline.seconds(caption.start))}]{_lrc_text(caption.text)}"
        if following is None or following.start - caption.end >= gap:  # a silence: clear
            yield f"[{_lrc_time(timeline.seconds(caption.end))}]"


def _lrc_time(seconds: float) -> str:
    """mm:ss.xx (minutes may pass 59: LRC has no hours), rounded down to the centisecond."""
    hundredths = int(seconds * 100)
    return f"{hundredths // 6000:02d}:{hundredths // 100 % 60:02d}.{hundredths % 100:02d}"


def _lrc_text(text: str) -> str:
    return one_line(text.replace("[", "(").replace("]", ")"))  # [..] would read as a time tag


def prompt_sheet(timeline: Timeline, description: str = "") -> str | None:
    """A printable sheet of the session's writing prompts, with room to write; None if none."""
    prompts = list(dict.fromkeys(e.text for e in timeline.events if e.prompt))
    if not prompts:
        return None
    lines = [timeline.title, "=" * len(timeline.title), ""]
    if description:
        lines += [description, ""]
    for number, prompt in enumerate(prompts, 1):
        lines += [f"{number}. {prompt}", "", *(["_" * 72, ""] * 6)]
    return "\n".join(lines)
