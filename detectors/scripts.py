"""Which script a word is written in (Unicode's name of its first letter's script)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

CJK = frozenset({"CJK", "HIRAGANA", "KATAKANA"})
CASED = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "GEORGIAN"})


def script(word: str) -> str:
    for c in word:
        if c.isalpha():
            return char_script(c)
    return "OTHER"


@lru_cache(maxsize=4096)
def char_script(c: str) -> str:
    name = unicodedata.name(c, "OTHER")
    if name.startswith("CJK"):
        return "CJK"
    return name.split(" ", 1)[0]


@dataclass(frozen=True)
class Token:
    """A word of a text, where it stands and its script."""

    start: int
    end: int
    word: str
    script: str

    @property
    def key(self) -> str:
        return self.word.casefold()
