"""One normal form that every recognizer reads, with a map back to the text as written.

Redaction must not be beaten by how a value is written: a full-width ＠, a card split by
zero-width spaces, a phone joined by an en dash or a non-breaking hyphen, `%40` for `@`.
`normalise()` folds all of that once; recognizers find spans in the normal form and
`Normalised.original()` turns each span back into the same characters of the original, so
the rest of the text is shown exactly as it was written.

The folding, in order, per grapheme (a base character with its combining marks):
- invisible and format characters (zero-width spaces and joiners, word joiner, soft hyphen,
  BOM, bidirectional marks, tag characters, variation selectors) and C0/C1 controls other
  than tab and newline are dropped;
- NFKC (full-width letters and digits, ligatures, super- and subscripts);
- every dash and minus (Unicode's Pd, U+2212) becomes `-`, every space separator ` `, line and
  paragraph separators a newline;
- `%XX` of a printable ASCII character, and `&#64;`/`&#x40;`, are decoded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_DROPPED_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cs"})
_KEPT_CONTROLS = frozenset("\n\t")
_ESCAPE = re.compile(r"%([2-7][0-9A-Fa-f])|&#(?:(\d{2,3})|[xX]([0-9A-Fa-f]{2}));")


@dataclass(frozen=True)
class Normalised:
    """`text` in normal form; character i of it comes from `starts[i]:ends[i]` of the
    original."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` was made from."""
        if end <= start:
            at = self.starts[start] if start < len(self.starts) else (
                self.ends[-1] if self.ends else 0)
            return at, at
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> Normalised:
    """The normal form of `text` with its map back (see the module's docstring).

    >>> n = normalise("card 4111\\u200b1111 ＠home")
    >>> n.text
    'card 41111111 @home'
    >>> n.original(5, 13)
    (5, 14)
    """
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        m = _ESCAPE.match(text, i) if text[i] in "%&" else None
        if m:
            code = int(m.group(1), 16) if m.group(1) else int(m.group(2) or m.group(3),
                                                               10 if m.group(2) else 16)
            if 32 <= code < 127:
                out.append(chr(code))
                starts.append(i)
                ends.append(m.end())
                i = m.end()
                continue
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        folded = _fold(text[i:j])
        out.append(folded)
        starts.extend([i] * len(folded))
        ends.extend([j] * len(folded))
        i = j
    return Normalised("".join(out), tuple(starts), tuple(ends))


@lru_cache(maxsize=65536)
def _fold(grapheme: str) -> str:
    base = grapheme[0]
    if base not in _KEPT_CONTROLS and (unicodedata.category(base) in _DROPPED_CATEGORIES
                                       or _invisible(base)):
        return ""
    folded = unicodedata.normalize("NFKC", grapheme)
    return "".join(_fold_char(c) for c in folded if not _invisible(c))


def _invisible(c: str) -> bool:
    o = ord(c)
    return (0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF or o == 0x034F
            or 0x180B <= o <= 0x180F or o in (0x115F, 0x1160, 0x3164, 0xFFA0))


def _fold_char(c: str) -> str:
    if c in _KEPT_CONTROLS:
        return c
    category = unicodedata.category(c)
    if category == "Pd" or c == "\u2212":
        return "-"
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    if category in _DROPPED_CATEGORIES:
        return ""
    return c
