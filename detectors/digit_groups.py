"""Numbers however they are split: digit groups across any separator, and digits as words.

Reads text in normal form (detectors.normal_form): dashes are `-`, invisible characters gone.
A *chain* is a run of digit groups and digit words ("four", "oh", "double", "neun", "cinq")
joined by short separators — spaces, newlines, `-`, `.`, `,`, `_`, `/`, brackets — or by the
words "dot", "dash" and "hyphen". What a chain is decides whether it is masked:

- a Luhn-valid run of 13–19 digits is a card, however it is split;
- a chain joined only by the tight separators a number is written with (space, `-`, `.`,
  `/`, brackets, `+`) and holding 5+ digits is masked (fail closed), unless it reads as a
  year range (`1939-1945`), a date, an amount with thousands separators or a decimal
  fraction;
- a chain that needs a loose separator (newline, `,`, `_`, a word) is masked when it holds
  7–19 digits in groups of 2–4 after the first that are not all years (a split phone or
  card) and not an amount with thousands separators, or 5+ digits spelled as words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .pii import luhn

_DIGIT_WORDS = {
    # English, German, French, Spanish, Italian, Portuguese
    **dict.fromkeys(("zero", "oh", "null", "zéro", "cero", "zero"), "0"),
    **dict.fromkeys(("one", "eins", "un", "une", "uno", "um"), "1"),
    **dict.fromkeys(("two", "zwei", "deux", "dos", "due", "dois"), "2"),
    **dict.fromkeys(("three", "drei", "trois", "tres", "tre", "três"), "3"),
    **dict.fromkeys(("four", "vier", "quatre", "cuatro", "quattro", "quatro"), "4"),
    **dict.fromkeys(("five", "fünf", "cinq", "cinco", "cinque"), "5"),
    **dict.fromkeys(("six", "sechs", "seis", "sei"), "6"),
    **dict.fromkeys(("seven", "sieben", "sept", "siete", "sette", "sete"), "7"),
    **dict.fromkeys(("eight", "acht", "huit", "ocho", "otto", "oito"), "8"),
    **dict.fromkeys(("nine", "neun", "neuf", "nueve", "nove"), "9"),
}
_REPEAT = {"double": 2, "triple": 3}
_WORD_JOINERS = frozenset(("dot", "dash", "hyphen", "point"))
_ITEM = re.compile(r"\d+|[^\W\d_]+", re.UNICODE)
_TIGHT = re.compile(r"[ \-./()+]{1,3}")
_LOOSE = re.compile(r"[\s\-./()+,_:;*#]{1,4}")
_LABEL = re.compile(r"[A-Za-z][-_]?\Z")  # iso-8859-1, utf-8, sha256, RFC-2616: part of a name
_YEAR = re.compile(r"(?:1[5-9]|20)\d\d")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"\d+\.\d+")
_DATE = re.compile(r"\d{4}-\d\d-\d\d|\d\d?[./-]\d\d?[./-]\d{4}|\d\d?:\d\d(?::\d\d)?")


@dataclass(frozen=True)
class DigitChain:
    kind: str  # CARD or NUMBER
    start: int
    end: int


def find_digit_chains(text: str) -> list[DigitChain]:
    """Spans (in `text`, already in normal form) of the chains to mask."""
    found: list[DigitChain] = []
    items = list(_ITEM.finditer(text))
    i = 0
    while i < len(items):
        if _digits(items[i].group()) is None:
            i += 1
            continue
        j, loose = i, False
        while j + 1 < len(items):
            gap = text[items[j].end():items[j + 1].start()]
            nxt = items[j + 1].group()
            if nxt.lower() in _WORD_JOINERS and j + 2 < len(items) and _digits(
                    items[j + 2].group()) is not None:
                j, loose = j + 2, True
                continue
            if _digits(nxt) is None or not _LOOSE.fullmatch(gap):
                break
            loose = loose or not _TIGHT.fullmatch(gap)
            j += 1
        kind = None if _LABEL.search(text, 0, items[i].start()) else _judge(
            text, items[i:j + 1], loose)
        if kind:
            found.append(DigitChain(kind, items[i].start(), items[j].end()))
        i = j + 1
    return found


def _digits(item: str) -> str | None:
    if item.isdigit():
        return item if item.isascii() else "".join(str(unicodedata.digit(c, 0)) for c in item)
    word = item.lower()
    if word in _REPEAT:
        return ""
    return _DIGIT_WORDS.get(word)


def _judge(text: str, items: list[re.Match[str]], loose: bool) -> str | None:
    groups, repeat, spelled = [], 1, 0
    for m in items:
        word = m.group().lower()
        if word in _WORD_JOINERS:
            continue
        if word in _REPEAT:
            repeat = _REPEAT[word]
            continue
        digits = _digits(m.group()) or ""
        spelled += not m.group().isdigit()
        groups.append(digits * repeat if len(digits) == 1 else digits)
        repeat = 1
    joined = "".join(groups)
    if 13 <= len(joined) <= 19 and luhn(joined) and len(set(joined)) > 1:
        return "CARD"
    if spelled:
        if spelled >= 5 or (len(joined) >= 7 and spelled >= 3):
            return "NUMBER"
        if not any(g for m, g in zip(items, groups, strict=False) if m.group().isdigit()):
            return None
    if not loose and not spelled:
        written = text[items[0].start():items[-1].end()]
        if len(joined) < 5 or _plain_quantity(written, groups):
            return None
        return "NUMBER"
    written = text[items[0].start():items[-1].end()]
    if _THOUSANDS.fullmatch(written):
        return None
    if len(groups) >= 7 and all(len(g) == 1 for g in groups):
        return "NUMBER"  # one digit at a time, each on its own line or after a `_`
    if 7 <= len(joined) <= 19 and all(2 <= len(g) <= 4 for g in groups[1:]) and not all(
            _YEAR.fullmatch(g) for g in groups):
        return "NUMBER"
    return None


def _plain_quantity(written: str, groups: list[str]) -> bool:
    """A year range, a date, an amount with thousands separators or a decimal fraction (a
    date of birth is found by its cue: detectors.identity)."""
    if _DATE.fullmatch(written):
        return True
    if len(groups) == 2 and all(_YEAR.fullmatch(g) for g in groups) and "-" in written:
        return True
    return bool(_THOUSANDS.fullmatch(written) or (
        _DECIMAL.fullmatch(written) and len(groups[0]) <= 3 and len(groups[1]) != 4))
