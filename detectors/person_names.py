"""People's names in any script and any case, told by a lexicon of names, not by capitals.

The lexicon (`data/person_names.tsv.gz`, built by `python -m training.name_lexicon`, its
provenance beside it) holds 400k first and last names from 105 countries in their own
scripts, with their rank, and marks the *ambiguous* ones: names that are also words or
places ("will", "rose", "mark", "paris"). Redaction reads text in normal form and masks:

- two or more names in a row with a first and a last name among them, at least one not
  ambiguous ("john smith", "PRIYA PATEL", "محمد العلي", "Ana de la Cruz");
- in lower case, a first and a last name even when one is also a word or a place, beside a
  common name that is no word ("angela kim", "madison johnson") or where only a person
  stands ("my colleague roberto little", "debra shelton is my manager", "call sean jackson");
- one name alone when it is a common first name (or a very common last name) that is not
  ambiguous, capitalised or written in another script than the text around it ("Priya
  called", "ask 王伟"), or in lower case when it is among the commonest first names;
- the words after a cue ("my name is", "Dear", "Mr", "je m'appelle", "меня зовут", "我叫",
  an honorific after a name: "さん", "先生", "씨");
- a phrase of up to six words in another script than the text's (Arabic, Hebrew, Devanagari,
  CJK) when one of its words is a name, or when it stands where a person does ("written by
  …", "forward this to …");
- Chinese and Korean names by their surname: a run of 2–4 Han characters, or a Hangul word,
  that opens with one of the commonest surnames, where it stands apart from text in its
  own script or beside a cue.

Product, library and place names are not names here: "Redis", "FastAPI", "Britain", "Next.js"
and "None" stay as written, whatever their case.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import cache

from .east_asian_names import east_asian
from .language import reads_as_other_than_english
from .name_lexicon import Entry, Lexicon, lexicon, places, verify
from .scripts import CASED, CJK, Token, script

__all__ = ["find_names", "lexicon", "verify"]

Found = tuple[str, int, int]

SINGLE_FIRST_RANK = 1000  # a first name alone is masked when this common somewhere
SINGLE_LAST_RANK = 300
LOWER_FIRST_RANK = 300  # ... and in lower case only when this common
COMMON_FIRST_RANK, COMMON_LAST_RANK = 100, 1000  # a common word as a first name: "adam williams"
_PARTICLES = frozenset("de da del della der den di du la le van von bin bint ibn al el y e "
                       "dos das ben abu".split())
_CUES = re.compile(
    r"(?i)(?:\bmy name(?:'s| is)|\bi am called|\bi'm|\bi am|\bthis is|\bcall me|\bnamed|"
    r"\bcalled|"
    r"\bdear|\bhi|\bhello|\bhey|\bthanks|\bthank you|\bregards|\bcheers|\bsincerely|"
    r"\bsigned|\bmr|\bmrs|\bms|\bmiss|\bdr|\bprof|\bcontact|\bask|\btell|\bcc|\bfrom|"
    r"\bje m'appelle|\bje suis|\bme llamo|\bmi nombre es|\bich heiße|\bich bin|\bmi chiamo|"
    r"\bmeu nome é|\bchamo-me|\bmijn naam is|\bменя зовут|\bмоё имя|\bя|اسمي|أنا|שמי|"
    r"मेरा नाम|मैं)\.?,?[ \t]+$")
# after these, any word is the name (up to three, until a common word)
_STRONG_CUES = re.compile(
    r"(?i)(?:my name(?:'s| is)|i am called|call me|dear|signed|mr|mrs|ms|miss|dr|prof|"
    r"m'appelle|me llamo|mi nombre es|heiße|mi chiamo|meu nome é|chamo-me|naam is|"
    r"меня зовут|моё имя|اسمي|שמי|मेरा नाम)\.?,?[ \t]+$")



def _marks() -> str:
    ranges, start = [], None
    for o in range(0x300, 0x10000):
        mark = unicodedata.category(chr(o))[0] == "M"
        if mark and start is None:
            start = o
        elif not mark and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{o - 1:04x}")
            start = None
    return "".join(ranges)


_WORD = re.compile(rf"(?:[^\W\d_]|[{_marks()}])+(?:['’](?:[^\W\d_]|[{_marks()}])+)*")


def find_names(text: str, keep: frozenset[str] = frozenset(),
               products: frozenset[str] = frozenset()) -> list[Found]:
    """Spans of people's names in `text` (in normal form). `keep` lists words never masked
    (the operator's); `products`, words that are names too ("Ruby", "Julia") and are not
    masked alone, only beside another name or after a cue."""
    tokens = [_token(m) for m in _WORD.finditer(text)]
    if not tokens:
        return []
    cased = [c for c in text if c.isupper() or c.islower()]
    if len(cased) >= 12 and sum(c.isupper() for c in cased) > 0.6 * len(cased):
        # shouted: read "PLEASE CALL BRANDY ROGERS" as "Please Call Brandy Rogers"
        tokens = _unshout(text, tokens, lexicon())
    scripts = Counter(t.script for t in tokens for _ in range(len(t.word)))
    home = scripts.most_common(1)[0][0]
    words = lexicon()
    # the lower-case rules read English: "vis antal", "ruta por", "keren naar" are words
    english = cache(lambda: not reads_as_other_than_english(text))
    found: list[Found] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.script != home and t.script not in CASED:
            # a name in another script stands out: with one name in it, the phrase goes
            k = _same_script_run(text, tokens, i)
            hits = [f for x in tokens[i:k + 1] for f in _foreign_name(text, x, home, words)]
            if not hits and _BEFORE_A_PERSON.search(text[max(0, t.start - 12):t.start]):
                hits = [("NAME", t.start, tokens[k].end)]
            found += [("NAME", t.start, tokens[k].end)] if hits and k > i else hits
            i = k + 1
            continue
        if t.script in CJK or t.script == "HANGUL":
            found += east_asian(text, t, home, _cued(text, t.start))
            i += 1
            continue
        run = _run(text, tokens, i, words, keep, home, products)
        j = i + len(run) - 1 if run else i
        cued = (_cued_end(text, tokens, i, words, keep, home, products)
                if _cued(text, t.start) else None)
        placed = _lower_pair_in_place(text, tokens, i, words, keep | products, english)
        end: int | None = None  # the name's last token, when tokens i.. are one
        if placed is not None and (cued is None or placed > cued):
            end = placed
        elif cued is not None and not _a_place(tokens, i, max(j, cued)):
            end = max(j, cued)
        elif run and not _a_place(tokens, i, j) and (
                _is_name(run, home, words, products, english)
                or _first_before_unknown(text, run, tokens, j, words, home, keep | products)
                or _where_a_person_stands(text, run, words, home, products)):
            end = j
        elif not run:
            end = _unknown_pair(text, tokens, i, words, keep | products)
        if end is not None:
            j = _surname_end(text, tokens, end, words, home, keep | products, i)
            found.append(("NAME", _hyphen_start(text, tokens, i, words, home), tokens[j].end))
        i = j + 1
    return found


def _hyphen_start(text: str, tokens: list[Token], i: int, words: Lexicon, home: str) -> int:
    """Where the name opening at token i starts, taking in the first half of a double first
    name before it ("Margaud-Catherine Pereira", "Jean-Pierre Dupont"), capitalised and no
    common word."""
    start = tokens[i].start
    if i == 0 or text[tokens[i - 1].end:start] != "-":
        return start
    t = tokens[i - 1]
    e = words.get(t.key)
    if _conspicuous(t, home) and (
            (e is not None and e.first > 0 and e.ambiguous < 2)
            or (e is None and not words.is_word(t.key))):
        return t.start
    return start


def _a_place(tokens: list[Token], i: int, j: int) -> bool:
    """Whether tokens i..j open with a place of several words ("ask Abu Dhabi's office")."""
    keys = [t.key for t in tokens[i:j + 1]]
    return any(" ".join(keys[:n]) in places() for n in range(2, min(len(keys), 4) + 1))


# where a phrase is someone: "written by …", "forward this to …", "schick das an …"
_BEFORE_A_PERSON = re.compile(r"(?i)\b(?:to|by|from|with|for|cc|contact|ask|tell|dear|hi|"
                              r"hello|thanks|named|called|is|and|mr|mrs|ms|dr|an|für|von|bei|"
                              r"mit|à|pour|chez|para|por|con|per|di)\.?,?[ \t]+$")


def _unknown_pair(text: str, tokens: list[Token], i: int, words: Lexicon,
                  keep: frozenset[str]) -> int | None:
    """Two capitalised words no lexicon knows as a name or a common word, where a person
    stands ("schick das an Hannchen Wagenknecht") or before a last name ("Hannchen
    Wagenknecht"): the index of the second, or None."""
    if i + 1 >= len(tokens):
        return None
    t, n = tokens[i], tokens[i + 1]
    if text[t.end:n.start] != " " or not (_title_case(t) and _title_case(n)):
        return None
    if t.key in words or any(x.word in keep or words.is_word(x.key) for x in (t, n)):
        return None
    last = words.get(n.key)
    if last is not None:
        return i + 1 if last.strong and last.last else None
    return i + 1 if _BEFORE_A_PERSON.search(text[max(0, t.start - 16):t.start]) else None


def _title_case(t: Token) -> bool:
    return (t.script in CASED and len(t.word) >= 2 and t.word[0].isupper()
            and t.word[1:].islower())


def _same_script_run(text: str, tokens: list[Token], i: int) -> int:
    """The last token of up to six in token i's script, one space apart."""
    k = i
    while (k + 1 < len(tokens) and k < i + 5 and tokens[k + 1].script == tokens[i].script
           and text[tokens[k].end:tokens[k + 1].start] == " "):
        k += 1
    return k


def _foreign_name(text: str, t: Token, home: str, words: Lexicon) -> list[Found]:
    if t.script in CJK or t.script == "HANGUL":
        return east_asian(text, t, home, _cued(text, t.start))
    e = words.get(t.key)
    return [("NAME", t.start, t.end)] if e and e.ambiguous < 2 and len(t.word) >= 2 else []


def _unshout(text: str, tokens: list[Token], words: Lexicon) -> list[Token]:
    """In text written in capitals, the names that are no common word (and the names beside
    one) read as capitalised; every other word as lower case."""
    entries = [words.get(t.key) for t in tokens]
    strong = [e is not None and e.strong for e in entries]
    out = []
    for k, (t, e) in enumerate(zip(tokens, entries, strict=True)):
        beside = (k > 0 and strong[k - 1]) or (k + 1 < len(tokens) and strong[k + 1])
        named = e is not None and (strong[k] or beside)
        out.append(replace(t, word=t.word.capitalize() if named else t.word.lower()))
    return out


def _token(m: re.Match[str]) -> Token:
    """A word, less a possessive 's (kept outside the mask: "[NAME]'s")."""
    word, end = m.group(), m.end()
    if len(word) > 3 and word[-2:] in ("'s", "’s"):
        word, end = word[:-2], end - 2
    return Token(m.start(), end, word, script(word))


def _entry(t: Token, words: Lexicon, products: frozenset[str]) -> Entry | None:
    """The token's entry; a product's name ("Ruby", "Kafka") counts as a name that is also
    a word."""
    e = words.get(t.key)
    if e and t.word in products:
        return Entry(e.first, e.last, max(e.ambiguous, 1), e.everyday)
    return e


def _run(text: str, tokens: list[Token], i: int, words: Lexicon,
         keep: frozenset[str], home: str, products: frozenset[str]) -> list[Token]:
    """Names (and particles between them) in a row from token i, joined by one space. A
    name that is also a word joins only when capitalised, or as the other half of a first
    and last name ("maria garcia", "john brown")."""
    run: list[Token] = []
    j = i
    while j < len(tokens):
        t = tokens[j]
        if t.word in keep or t.script in CJK:
            break
        if run and text[run[-1].end:t.start] not in (" ", "-"):
            break
        if run and t.key not in _PARTICLES and _case(t) != _case(run[0]):
            break  # a name is written in one case: not "Haha yeah"
        e = _entry(t, words, products)
        if not run and e and e.ambiguous > 1 and not 0 < e.first <= LOWER_FIRST_RANK:
            break  # "The", "van": a run of names does not open with a common word
        if e and (e.strong or _conspicuous(t, home) or _pairs(run, tokens, j, words, products)):
            run.append(t)
        elif (run and run[-1].key in _PARTICLES and t.key not in words and _title_case(t)
              and not words.is_word(t.key) and t.word not in keep):
            run.append(t)  # a surname no lexicon holds, after "van der", "de la"
            break
        elif run and t.key in _PARTICLES and j + 1 < len(tokens) and (
                tokens[j + 1].key in words or tokens[j + 1].key in _PARTICLES
                or (_title_case(tokens[j + 1]) and not words.is_word(tokens[j + 1].key))):
            run.append(t)
        else:
            break
        j += 1
    while run and run[-1].key in _PARTICLES:
        run.pop()
    return run


def _lower_case_name(run: list[Token], words: Lexicon, english: Callable[[], bool]) -> bool:
    """Names in lower case read like words ("oh yeah", "but hey"): a common first name
    before a common last name ("john smith", "adam williams"), two names that are no word
    or place ("haley anderson"), or a name that is no common word ("priya ramaswamy")."""
    first, last = words.get(run[0].key), words.get(run[-1].key)
    common = bool(first and last and 0 < first.first <= LOWER_FIRST_RANK
                  and 0 < last.last <= SINGLE_FIRST_RANK)
    only_names = bool(first and last and len(run) == 2 and first.strong and last.strong
                      and min(len(t.word) for t in run) >= 3
                      and 0 < first.first <= SINGLE_FIRST_RANK
                      and 0 < last.last <= PLACED_LAST_RANK and english())
    return common or only_names or any((e := words.get(t.key)) and e.strong and not e.everyday
                                       for t in run)


PLACED_LAST_RANK = 2500  # a last name in lower case where only a person stands
SURNAME_AFTER_RANK = 2000  # ... or after a common first name that is no word


def _lower_pair_in_place(text: str, tokens: list[Token], i: int, words: Lexicon,
                         keep: frozenset[str], english: Callable[[], bool]) -> int | None:
    """A first and a last name in lower case even when one is also a word or place: after a
    common first name that is no word ("angela kim", "david long"), before a common last
    name that is no word ("madison johnson"), or where only a person stands — after "my
    friend", "cc", "talked to", before "said", "is my manager" ("my colleague roberto
    little", "debra shelton is my manager"). The pair's last token, or None."""
    if i + 1 >= len(tokens):
        return None
    a, b = tokens[i], tokens[i + 1]
    if (_case(a) != "lower" or _case(b) != "lower" or text[a.end:b.start] != " "
            or a.word in keep or b.word in keep or min(len(a.word), len(b.word)) < 3
            or f"{a.key} {b.key}" in places()):
        return None
    first, last = words.get(a.key), words.get(b.key)
    if not (first and last and first.first > 0 and last.last > 0):
        return None
    if (first.strong and first.first <= LOWER_FIRST_RANK and last.last <= SURNAME_AFTER_RANK
            and b.key not in _NOT_PEOPLE) or (
            last.strong and last.last <= LOWER_FIRST_RANK and first.ambiguous < 2
            and first.first <= SURNAME_AFTER_RANK):  # "angela kim", "madison johnson"
        return i + 1 if english() else None
    if not (first.first <= SINGLE_FIRST_RANK and last.last <= PLACED_LAST_RANK
            and max(first.ambiguous, last.ambiguous) < 2):
        return None  # not "tell the story", "even light cannot"
    if not (_PERSON_SLOT.search(text[max(0, a.start - 30):a.start])
            or _PERSON_NEXT.match(text, b.end)):
        return None
    return i + 1


_RELATIONS = ("friend|colleague|coworker|co-worker|manager|boss|wife|husband|partner|son|"
              "daughter|brother|sister|mother|father|mom|mum|dad|uncle|aunt|cousin|"
              "neighbou?r|client|customer|teammate|supervisor|assistant|doctor|lawyer|"
              "landlord|tenant|roommate|flatmate|girlfriend|boyfriend|fiancée?|niece|nephew")
# where only a person stands before a lower-case name, and what only a person does after one
_PERSON_SLOT = re.compile(
    rf"(?i)(?:\b(?:my|our|your|his|her|their) (?:new |old |best )?(?:{_RELATIONS})s?|"
    r"\b(?:talked|talk|spoke|speak|spoken|chatted|met|meet|meeting|emailed|texted|messaged|"
    r"called|wrote|write|sent it|send it|send this|forward (?:it|this)|reply|replied)"
    r"(?: to| with)?|\b(?:cc|bcc|ask|tell|dear|hi|hello|hey|thanks|contact|assign(?:ed)? "
    r"(?:it |this )?to|call|ring|phone|ping|email|e-mail|text|message),?) $")
_PERSON_NEXT = re.compile(
    r"(?i) (?:said|says|asked|asks|told|tells|wrote|emailed|texted|replied|called|thinks|"
    r"wants|needs|can't|cannot|couldn't|won't|is my|was my|is our|was our|"
    rf"(?:is|was) (?:a|the) (?:{_RELATIONS}))\b")


def _case(t: Token) -> str:
    if t.script not in CASED:
        return "uncased"
    return "upper" if t.word.isupper() and len(t.word) > 1 else (
        "title" if t.word[:1].isupper() else "lower")


def _pairs(run: list[Token], tokens: list[Token], j: int, words: Lexicon,
           products: frozenset[str]) -> bool:
    """An ambiguous name beside a strong one, as a first name before a last or a last after
    a first."""
    e = words[tokens[j].key]
    nxt = _entry(tokens[j + 1], words, products) if j + 1 < len(tokens) else None
    if e.ambiguous > 1 and not tokens[j].word.isupper():
        # one of a language's commonest words ("adam", "will") is a first name only before
        # a common surname: "adam williams"
        return bool(not run and nxt and nxt.strong and 0 < nxt.last <= COMMON_LAST_RANK
                    and 0 < e.first <= COMMON_FIRST_RANK)
    if run:
        prev = _entry(run[-1], words, products)
        return len(run) == 1 and bool(prev and prev.strong and prev.first and e.last)
    return bool(nxt and nxt.strong and nxt.last and 0 < e.first <= LOWER_FIRST_RANK)


def _is_name(run: list[Token], home: str, words: Lexicon, products: frozenset[str],
             english: Callable[[], bool]) -> bool:
    keys = [t.key for t in run]
    if any(" ".join(keys[:n]) in places() for n in range(2, 5)):
        return False
    if len(run) > 2 and run[-1].key not in words and run[-2].key in _PARTICLES:
        first = _entry(run[0], words, products)  # "Elke van der Dussen"
        return bool(first and 0 < first.first <= LOWER_FIRST_RANK and _conspicuous(run[0], home))
    entries = [e for t in run if (e := _entry(t, words, products))]
    shown = [_conspicuous(t, home) for t in run if t.key in words]
    if len(entries) >= 2:
        has_first = any(e.first for e in entries)
        has_last = any(e.last for e in entries)
        # a product's name ("Julia") is a name beside a name that is no product
        others = [t for t in run if t.word not in products and (o := words.get(t.key))
                  and (o.strong or 0 < o.first <= SINGLE_FIRST_RANK
                       or 0 < o.last <= SINGLE_FIRST_RANK)]
        strong = [t for t in run if (e := words.get(t.key)) and e.strong and len(t.word) >= 3
                  and (t.word not in products or others)]
        if has_first and has_last and strong and all(_case(t) == "lower" for t in run):
            return _lower_case_name(run, words, english)
        return has_first and has_last and bool(strong)
    e, t = entries[0], run[0]
    if not e.strong or len(t.word) < 3 or t.word in products:
        return False
    common = (0 < e.first <= SINGLE_FIRST_RANK) or (0 < e.last <= SINGLE_LAST_RANK)
    if shown[0]:
        return common
    return (t.script in CASED and 0 < e.first <= LOWER_FIRST_RANK and len(t.word) >= 4
            and not e.everyday)


def _where_a_person_stands(text: str, run: list[Token], words: Lexicon, home: str,
                           products: frozenset[str]) -> bool:
    """Two or more capitalised names, a first and a last, that are also words ("Gilbert
    Moreno"), where a person stands ("schick das an …", "written by …")."""
    entries = [_entry(t, words, products) for t in run]
    if any(t.word in products for t in run):
        return False
    return (len(run) >= 2 and all(e is not None and e.ambiguous < 2 for e in entries)
            and all(_conspicuous(t, home) for t in run)
            and any(e.first for e in entries if e) and any(e.last for e in entries if e)
            and bool(_ADDRESSED.search(text[max(0, run[0].start - 16):run[0].start])))


# where only a person stands: "written by …", "schick das an …" (not "to", "from": places too)
_ADDRESSED = re.compile(r"(?i)\b(?:by|cc|contact|ask|tell|dear|hi|hello|thanks|named|called|"
                        r"mr|mrs|ms|dr|an|für|bei|pour|chez|para)\.?,?[ \t]+$")


def _first_before_unknown(text: str, run: list[Token], tokens: list[Token], j: int,
                          words: Lexicon, home: str, keep: frozenset[str]) -> bool:
    """A capitalised first name (one that is also a word, "Mark", among them) before a
    capitalised word no lexicon knows ("Waldtraut Täsche", "Mark Kitzmann") or before what
    people do ("Mark asked"): a person, not a word."""
    k = j + 1  # the token after the first name
    if len(run) == 2 and run[0].key in _PARTICLES and run[1].key not in words:
        run, k = run[:1], j  # "Ben Ruppersberger": a first name that is a particle too
    nxt = tokens[k] if k < len(tokens) else None
    after = tokens[k + 1] if k + 1 < len(tokens) else None
    if nxt is not None and f"{run[-1].key} {nxt.key}" in places():
        return False  # "Abu Dhabi"
    e = words.get(run[-1].key)
    if not (len(run) == 1 and e and e.first and nxt and _conspicuous(run[0], home)
            and text[run[0].end:nxt.start] == " "):
        return False
    if nxt.key in _CANNOT:  # "Alan can't log in" (not "Any cannot", "Hey didn't we")
        return (len(run[0].word) >= 3 and run[0].key not in _NOT_PEOPLE
                and (e.first <= COMMON_FIRST_RANK
                     or (e.strong and e.first <= SINGLE_FIRST_RANK)))
    if nxt.key in _PERSON_VERBS or (nxt.word == "and" and after is not None
                                    and after.word in ("I", "me")):  # not Polish "AND i OR"
        # "Madison asked", "Adam said", "Faith and I": a person ("She asked")
        return e.strong or (e.ambiguous < 2 and e.first <= SINGLE_FIRST_RANK) or (
            e.first <= LOWER_FIRST_RANK and len(run[0].word) >= 3
            and run[0].key not in _NOT_PEOPLE)
    # before a capitalised word no lexicon or language knows: a rare surname
    # ("Mark Kitzmann", "Ben Ruppersberger")
    return bool((e.strong or e.first <= LOWER_FIRST_RANK) and run[0].key not in _NOT_PEOPLE
                and len(run[0].word) >= 3 and nxt.key not in words
                and not words.is_word(nxt.key) and _title_case(nxt) and nxt.word not in keep)


# words that do what people do but name nobody ("She asked", "Everyone said")
_NOT_PEOPLE = frozenset("he she we they you it who one someone somebody everyone everybody "
                        "nobody anyone anybody this that which what people mom dad mum "
                        "the then there here also and but our your their his her a an of "
                        "to in on at for with is was are were be been".split())


_PERSON_VERBS = frozenset(
    "asked asks said says told tells called calls wrote writes wants wanted needs needed "
    "thinks thought sent sends emailed texted replied replies mentioned suggested reported "
    "complained explained noticed forgot forgets promised agreed decided signed approved "
    "booked ordered paid paying lives lived works worked".split())
_CANNOT = frozenset("can't cannot won't doesn't didn't couldn't wouldn't isn't wasn't hasn't "
                    "hadn't shouldn't".split())


def _surname_end(text: str, tokens: list[Token], j: int, words: Lexicon, home: str,
                 keep: frozenset[str], start: int) -> int:
    """Past a name, up to two more capitalised words that are not common words: the rare
    surname no lexicon holds ("Tilly Losekann", "Annegret Albers-Jopich"). Right after a
    name of one word (from token `start` to j), a capitalised word some language also uses is
    a surname too ("Edith Warmer", "Melania Einaudi"): a common word is written in lower case
    mid-sentence."""
    end = j
    while end + 1 < len(tokens) and end < j + 2:
        t = tokens[end + 1]
        e = words.get(t.key)
        word_ok = end == j == start and _title_case(t) and t.start > 0 and not _TITLE_RUN.match(
            text, t.end)
        gap = text[tokens[end].end:t.start]
        if (gap == "-" and _case(t) == _case(tokens[end]) == "lower" and t.word not in keep
                and ((e is not None and e.last > 0 and e.ambiguous < 2)
                     or (e is None and not words.is_word(t.key)))):
            end += 1  # a double surname in lower case: "karl ward-ahmed"
            continue
        if (gap not in (" ", "-") or t.word in keep
                or not _conspicuous(t, home) or (e is not None and e.ambiguous > 1)
                or t.key in _PARTICLES or (words.is_word(t.key) and not word_ok)):
            break
        end += 1
    return end


# the next word capitalised too: a heading or a name of a thing ("Sarah Connor Chronicles")
_TITLE_RUN = re.compile(r"[ \t]+[A-Z][a-z]")


def _conspicuous(t: Token, home: str) -> bool:
    """Capitalised in a cased script (not all in capitals), or written in another script
    than the text's."""
    if t.script != home:
        return True
    return t.script in CASED and t.word[:1].isupper() and not (
        len(t.word) > 1 and t.word.isupper())


def _cued(text: str, start: int) -> bool:
    return bool(_CUES.search(text[max(0, start - 40):start]))


def _cued_end(text: str, tokens: list[Token], i: int, words: Lexicon,
              keep: frozenset[str], home: str, products: frozenset[str]) -> int | None:
    """The last token of the name after a cue, None if token i is not one. After a strong
    cue ("my name is", "Dear", "Mr") up to three capitalised words or names that are not
    a language's commonest words; after a weak one ("hi", "from", "ask") only names that
    are not ambiguous or are capitalised."""
    strong = bool(_STRONG_CUES.search(text[max(0, tokens[i].start - 40):tokens[i].start]))
    j = i
    while j < len(tokens) and j < i + 3:
        t = tokens[j]
        if j > i and text[tokens[j - 1].end:t.start] not in (" ", "-"):
            break
        e = words.get(t.key)
        nxt = tokens[j + 1] if j + 1 < len(tokens) else None
        paired = bool(nxt and nxt.key in words and _conspicuous(nxt, home))
        if t.word in keep or (not strong and t.word in products) or (
                e and e.ambiguous > 1 and not (_conspicuous(t, home) and (strong or paired))):
            break
        shown = _conspicuous(t, home)
        if strong:
            ok = shown or (e is not None) or (j == i and _NAME_IS.search(
                text[max(0, t.start - 20):t.start]) is not None)
        else:
            ok = e is not None and (shown or (e.strong and 0 < e.first <= LOWER_FIRST_RANK))
        if not ok:
            break
        j += 1
    return j - 1 if j > i else None


_NAME_IS = re.compile(r"(?i)my name(?:'s| is)\s+$")


