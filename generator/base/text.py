"""Text that reaches a person: a terminal, a tag, a transcript line.

A value a user wrote (a title, a file name, a line of a script) may hold control characters; an
ESC reaching a terminal is obeyed, not shown. Counts are said with their nouns ("1 chapter").
"""

from __future__ import annotations

import re

CONTROL_CHARS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # Unicode's Cc, but the tab
SURROGATES = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """The text on one line, control characters shown as escapes (``\\x1b``), never obeyed; a
    byte of a file name that was not UTF-8 (``os.walk`` gives it back as a lone surrogate, which
    no terminal or UTF-8 file can take) as the byte it was (``\\xe9``)."""

    def shown(match: re.Match[str]) -> str:
        return " " if match[0] in "\n\r" else f"\\x{ord(match[0]):02x}"

    def byte(match: re.Match[str]) -> str:
        code = ord(match[0])
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return CONTROL_CHARS.sub(shown, SURROGATES.sub(byte, text.replace("\t", " ")))


def one_line(text: str) -> str:
    """Text on one line, its runs of whitespace single spaces (playlists, transcripts)."""
    return " ".join(text.split())


def counted(count: int, noun: str, plural: str = "") -> str:
    """``1 chapter``, ``2 chapters``, ``0 new speech clips``."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
