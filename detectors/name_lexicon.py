"""The lexicon of people's names that redaction reads (`data/person_names.tsv.gz`, built by
`python -m training.name_lexicon`, its provenance beside it and its digest checked when it
loads): 730k one-word names in their own scripts with their ranks, whether each is also a word
or a place, and the commonest words that are no name; places of several words apart.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from array import array
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from itertools import accumulate


@dataclass(frozen=True)
class Entry:
    first: int  # best rank as a first name in some country, 0 if none
    last: int
    ambiguous: int  # 0 a name only, 1 also a word or place, 2 one of a language's commonest words
    everyday: bool = False  # among the 20,000 commonest words of a Latin-script language

    @property
    def strong(self) -> bool:
        return self.ambiguous == 0


@cache
def lexicon() -> Lexicon:
    """Names (one word each) by their case-folded form."""
    return _read_lexicon()[0]


@cache
def places() -> frozenset[str]:
    """Places of several words ("new york"), case-folded."""
    return _read_lexicon()[1]


VOCABULARY = 3  # the lexicon's mark of a common word that is no name


class Lexicon:
    """name → Entry, kept as one sorted byte string with offsets and packed values and
    searched by bisection: ~12 MB for 730k names where a dict takes ~90 MB."""

    def __init__(self, names: list[bytes], packed: list[int]) -> None:
        self._blob = b"".join(names)
        self._offsets = array("Q", accumulate((len(n) for n in names), initial=0))
        self._packed = array("L", packed)
        self._find = lru_cache(maxsize=65_536)(self._search)  # type: ignore[method-assign]

    def __len__(self) -> int:
        return len(self._packed)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def get(self, key: str) -> Entry | None:
        """The name's entry; None for a word that is no name (and one never seen)."""
        i = self._find(key)
        v = self._packed[i] if i >= 0 else VOCABULARY
        if v & 3 == VOCABULARY:
            return None
        return Entry(v >> 19, (v >> 3) & 0xFFFF, v & 3, bool(v & 4))

    def is_word(self, key: str) -> bool:
        """A common word of some language that is no name."""
        i = self._find(key)
        return i >= 0 and self._packed[i] & 3 == VOCABULARY

    def __getitem__(self, key: str) -> Entry:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def _search(self, key: str) -> int:
        target, blob, offsets = key.encode(), self._blob, self._offsets
        lo, hi = 0, len(self._packed)
        while lo < hi:
            mid = (lo + hi) // 2
            name = blob[offsets[mid]:offsets[mid + 1]]
            if name < target:
                lo = mid + 1
            elif name > target:
                hi = mid
            else:
                return mid
        return -1


def verify(raw: bytes, provenance: dict[str, object]) -> None:
    """Refuse a lexicon that is not the one its provenance file describes."""
    if hashlib.sha256(raw).hexdigest() != provenance.get("sha256"):
        raise RuntimeError("detectors/data/person_names.tsv.gz is not the lexicon its provenance "
                           "file describes: rebuild both with `make train`")


@cache
def _read_lexicon() -> tuple[Lexicon, frozenset[str]]:
    data = resources.files(__package__) / "data"
    raw = (data / "person_names.tsv.gz").read_bytes()
    verify(raw, json.loads((data / "person_names.provenance.json").read_text()))
    names: list[bytes] = []
    packed: list[int] = []
    multi: set[str] = set()
    for line in gzip.decompress(raw).split(b"\n"):
        if not line:
            continue
        name, first, last, ambiguous, everyday = line.split(b"\t")
        if b" " in name:
            multi.add(name.decode())
            continue
        names.append(name)
        packed.append((int(first) << 19) | (int(last) << 3) | (int(everyday) << 2)
                      | int(ambiguous))
    order = sorted(range(len(names)), key=names.__getitem__)
    return (Lexicon([names[i] for i in order], [packed[i] for i in order]),
            frozenset(multi))
