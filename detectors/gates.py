"""What a regular expression cannot match without: to skip it, cheaply, on text without it.

Python's engine tries every branch of a pattern at every position of a text; a refusal or
jailbreak pattern that opens with `\\b(i|we)` or `\\b(ignore|forget)` is tried at every word
of every answer. `gate(pattern)` reads the parsed pattern and returns the strings a match must
contain — groups of alternatives, one of each group — so that `Gated.search` runs the pattern
only on texts that hold them (a few substring tests, in C). It never changes a result: a
group is kept only where the parse proves it is required, and case-insensitive patterns are
gated on text folded the way `re.IGNORECASE` folds it (`fold`).

>>> g = Gated(re.compile(r"\\b(i|we) (can ?not|won't) (help|assist)\\b", re.I))
>>> g.gate
(('assist', 'help'),)
>>> g.search("Sorry, I CANNOT help with that") is not None, g.search("A plain answer.")
(True, None)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from re import _casefix  # type: ignore[attr-defined]
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

from ahocorasick_rs import AhoCorasick, MatchKind

from .language import ENGLISH_STOPWORDS

Gate = tuple[tuple[str, ...], ...]  # every group: one of its strings is in the text
MIN_LENGTH = 3  # shorter strings ("i", "we") are in almost every text: no gate (`_selective`)
MAX_GROUPS = 1  # the most selective group: more cost more substring tests than they save
MAX_STRINGS = 32  # a group of more alternatives costs more to test than it saves
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_CLASSES = {k: min(k, *equal) for k, equal in _casefix._EXTRA_CASES.items()}
_FOLD = {k: chr(v) for k, v in _CLASSES.items() if k != v} | {0x307: None}


def fold(text: str) -> str:
    """Lower-cased text in which what re.IGNORECASE equates is equal: the engine's extra case
    equivalences (ı and i, ſ and s, ς and σ, …) map to one character, and the combining dot
    that 'İ'.lower() adds is dropped. Gate strings are folded the same way."""
    lower = text.lower()
    return lower if lower.isascii() else lower.translate(_FOLD)


def gate(pattern: re.Pattern[str]) -> Gate:
    """The required strings of `pattern` (lower-cased when it ignores case), the most
    selective `MAX_GROUPS` groups; () when nothing long enough is required."""
    ignore_case = bool(pattern.flags & re.I)
    groups = _required(list(sre_parse.parse(pattern.pattern, pattern.flags)), ignore_case)
    usable = []
    for group in groups:
        strings = {fold(s) if ignore_case else s for s in group}
        if len(strings) <= MAX_STRINGS and all(map(_selective, strings)):
            usable.append(tuple(sorted(strings)))
    usable.sort(key=lambda g: (-min(map(len, g)), len(g)))  # longest shortest string first
    return tuple(usable[:MAX_GROUPS])


@dataclass(frozen=True)
class Gated:
    """A compiled pattern and its gate; `search` is `pattern.search` where the gate opens."""

    pattern: re.Pattern[str]
    gate: Gate = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gate", gate(self.pattern))

    def opens(self, text: str) -> bool:
        """Whether the pattern could match `text`."""
        seen = fold(text) if self.pattern.flags & re.I else text
        return all(any(s in seen for s in group) for group in self.gate)

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(text) if self.opens(text) else None


def _required(items: list[tuple[object, object]], ignore_case: bool) -> list[frozenset[str]]:
    """Groups required by a sequence of parsed items: runs of literals, and what required
    sub-patterns, branches and repeats (at least once) require. A case-sensitive pattern's
    `(?i:…)` part is not read: its literals would be tested on text as written."""
    groups: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            groups.append(frozenset(["".join(run)]))
            run.clear()

    for op, av in items:
        if op is sre.LITERAL:
            run.append(chr(av))  # type: ignore[arg-type]
            continue
        flush()
        if op is sre.SUBPATTERN:
            if ignore_case or not av[1] & re.I:  # type: ignore[index]
                groups.extend(_required(list(av[-1]), ignore_case))  # type: ignore[index]
        elif op is sre.BRANCH:
            per_alternative = [_best(_required(list(alt), ignore_case))
                               for alt in av[1]]  # type: ignore[index]
            if all(per_alternative):
                groups.append(frozenset().union(*per_alternative))  # type: ignore[arg-type]
        elif op in _REPEATS and av[0] >= 1:  # type: ignore[index]
            groups.extend(_required(list(av[2]), ignore_case))  # type: ignore[index]
        # anything else (classes, anchors, lookarounds, optional parts) requires nothing
    flush()
    return groups


def _selective(s: str) -> bool:
    """Rare enough to gate on: 3 characters (2 outside ASCII: a pair of Han characters is a
    word), and not one of the words in almost every English text ("your", "will")."""
    long_enough = len(s) >= MIN_LENGTH or (len(s) == 2 and not s.isascii())
    return long_enough and s.strip().lower() not in ENGLISH_STOPWORDS


def _best(groups: list[frozenset[str]]) -> frozenset[str] | None:
    """The most selective group of an alternative: rare words first, then the longest
    shortest string."""
    return max(groups, key=lambda g: (all(map(_selective, g)), min(map(len, g))),
               default=None)


class Substrings:
    """Which of a fixed set of strings occur in a text, in one Aho–Corasick pass (10× a
    substring test per string, for a hundred strings)."""

    def __init__(self, strings: Iterable[str]) -> None:
        self.strings = tuple(sorted(set(strings)))
        self._automaton = (AhoCorasick(list(self.strings), matchkind=MatchKind.Standard)
                           if self.strings else None)

    def found(self, text: str) -> set[str]:
        if self._automaton is None:
            return set()
        return set(self._automaton.find_matches_as_strings(text, overlapping=True))


class FirstMatch:
    """Patterns tried in order, each only where its gate opens; the strings of all the gates
    are looked for in one pass over the text (`Substrings`), then each gate is a few set
    lookups."""

    def __init__(self, patterns: tuple[re.Pattern[str], ...]) -> None:
        self.items = tuple(Gated(p) for p in patterns)
        self._sets = tuple(tuple(frozenset(group) for group in g.gate) for g in self.items)
        self._folded = Substrings(s for g in self.items if g.pattern.flags & re.I
                                  for group in g.gate for s in group)
        self._raw = Substrings(s for g in self.items if not g.pattern.flags & re.I
                               for group in g.gate for s in group)

    def search(self, text: str) -> re.Match[str] | None:
        """The match of the first pattern that matches `text` (its `.re`), or None."""
        found = self._folded.found(fold(text)) if self._folded.strings else set()
        found |= self._raw.found(text)
        for g, groups in zip(self.items, self._sets, strict=True):
            if all(not found.isdisjoint(group) for group in groups):
                m = g.pattern.search(text)
                if m is not None:
                    return m
        return None
