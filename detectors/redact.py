"""Fail-closed redaction: the one function every piece of user text goes through on its way out.

Prompts and answers reach Slack, PagerDuty, trackers, reports, datasets, logs and the CLI only
through `redact()` (or `shown()`, which also applies the operator's `privacy.examples` policy).
Four layers, each masking what the previous missed, spans merged:

1. `detectors.pii` — the checked kinds the quality detector counts (Luhn cards, mod-97 IBANs,
   e-mails, SSN/NINO, IPs, API keys, private keys);
2. Microsoft Presidio's pattern recognizers (phone numbers through Google's libphonenumber,
   cards, IBANs, crypto wallets, IPs, MAC addresses, SSN, NINO);
3. detect-secrets' regex plugins (AWS, Stripe, GitHub, GitLab, Slack, JWT, Twilio, SendGrid,
   npm, PyPI, Azure, Discord, Telegram, …);
4. the fail-closed rules, which need no knowledge of the kind: any run of 5+ digits
   (separators allowed), a number followed by capitalised words (addresses), two or more
   capitalised words in a row or one after a name cue ("my name is", "Dear", "Mr"), a single
   capitalised word inside a sentence, values after credential words (`password is …`,
   `Bearer …`), URLs, and long high-entropy tokens.

No NER model is used: spaCy's English models are published on GitHub, not on a package
registry this service can install from (PyPI holds only third-party re-uploads). The rules of
layer 4 over-mask ("Python" inside a sentence becomes [NAME]) rather than let a name through;
`privacy.keep_words` lists words the operator wants shown anyway.

Each masked span becomes `[KIND]`; redaction is idempotent (`redact(redact(t)) == redact(t)`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from .pii import find_pii

ExamplesPolicy = Literal["redacted", "none", "raw"]

_DIGIT_RUN = re.compile(r"\+?\(?\d[\d \t().\-/]*\d\)?|\d")
_URL = re.compile(r"\b(?:https?|ftp|file)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.~:]{16,}")
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’\-][^\W\d_])*")
_CREDENTIAL = re.compile(
    r"(?i)\b(?:pass(?:word|wd|phrase|code)?|pwd|pin|secret|token|api[ _-]?key|access[ _-]?key"
    r"|private[ _-]?key|client[ _-]?secret|credentials?|otp)\b"
    r"(?P<sep>\s*(?:is|was|:|=|->|=>)\s*|\s+)[\"']?(?P<value>[^\s\"',;]+)")
_BEARER = re.compile(r"(?i)\b(?:bearer|basic|token)\s+(?P<value>[A-Za-z0-9._~+/=\-]{8,})")
_OWN_KEYS = re.compile(
    r"\b(?:[rs]k_(?:live|test)_[0-9A-Za-z]{10,}|github_pat_[0-9A-Za-z_]{20,}"
    r"|gh[pousr]_[0-9A-Za-z]{20,}|gl[a-z]{2,4}-[0-9A-Za-z_\-]{20,}|xox[a-z]-[0-9A-Za-z-]{10,}"
    r"|AKIA[0-9A-Z]{16}|npm_[0-9A-Za-z]{30,}|hf_[0-9A-Za-z]{30,})")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b"  # UK
                       r"|\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b")  # Canada
_IBAN_LOOSE = re.compile(
    r"\b[a-zA-Z]{2}\d{2}(?:[ ]?[a-zA-Z0-9]{4}){2,7}(?:[ ]?[a-zA-Z0-9]{1,4})?\b")
_NAME_CUE = re.compile(
    r"(?i)\b(?:my name is|name:|i am|i'm|this is|call me|dear|hi|hello|hey|thanks|regards"
    r"|sincerely|signed|mr|mrs|ms|miss|dr|prof|sir|madam|contact|ask|from|to|with|by|for)\.?,?\s+$")
_NAME_AFTER = re.compile(r"(?i)\b(?:my name is|my name's|i am called|signed,?)\s+")
_NAME_STOP = frozenset("and i i'm from but or my the a an who is am was at in on with here"
                       " speaking".split())
_UNIT = re.compile(r"(?i)\b(?:apt|apartment|suite|ste|unit|flat|room|no|nr|po box|box)\.?\s*#?"
                   r"\d+\w*|#\d+\w*")
_STREET = re.compile(
    r"(?i)(?:\b\d+\w?,?\s+)?\b(?:rue|avenue|allée|boulevard|bd|chemin|impasse|place|quai"
    r"|route|calle|carrera|via|viale|piazza|rua|strasse|straße|str|weg|gasse|platz|allee)\b\.?"
    r"(?:\s+(?:d[eu']|la|le|des|del|della|di)?\s*[^\W\d_][\w'’.-]*){1,4}(?:\s+\d+\w?)?")
_PARTICLES = frozenset("de da del della der den di du la le van von bin al y e of".split())
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n]\s*|[\"'(\[]\s*)$")
_KEEP = frozenset("""
I I'm I've I'll I'd OK Okay AI API Monday Tuesday Wednesday Thursday Friday Saturday Sunday
January February March April May June July August September October November December
English French German Spanish Italian Portuguese Chinese Japanese Korean Russian Arabic Hindi
Dutch Polish Turkish Swedish Python Java JavaScript TypeScript Rust Go SQL Excel Linux
Windows Mac macOS iOS Android Docker Kubernetes Kafka PostgreSQL Slack GitHub Google
""".split())
PLACEHOLDER = re.compile(r"\[[A-Z_]{2,20}\]")


@dataclass(frozen=True)
class Privacy:
    """What the operator allows outputs to show of users' text (`privacy.*` settings)."""

    examples: ExamplesPolicy = "redacted"
    keep_words: frozenset[str] = frozenset()

    def show(self, text: str | None) -> str | None:
        """An example as outputs may carry it: None under `examples = none`."""
        return shown(text, self.examples, self.keep_words)

    def redact(self, text: str) -> str:
        """Always redacted, whatever `examples` says (labels, terms, logs, errors)."""
        return redact(text, keep_words=self.keep_words)


DEFAULT_PRIVACY = Privacy()


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int


def redact(text: str, *, keep_words: Iterable[str] = (), thorough: bool = True) -> str:
    """Mask everything that could identify a person or open a door.

    >>> redact("Hi, I'm Maria Gonzalez, card 4111.1111.1111.1111, call 555-0199")
    "Hi, I'm [NAME], card [CARD], call [NUMBER]"
    >>> redact("my password is hunter2 and the key sk_live_4eC39HqLyjWDarjtT1zdp7dc")
    'my password is [SECRET] and the key [SECRET]'
    >>> redact("How do I sort a list in place?")
    'How do I sort a list in place?'

    `thorough=False` skips the Presidio and detect-secrets layers (3 ms a text): for
    deriving terms, where layer 4 masks every digit run, name and token anyway.
    """
    if not text:
        return text
    spans = find_sensitive(text, keep_words=keep_words, thorough=thorough)
    out, last = [], 0
    for s in spans:
        out += [text[last:s.start], f"[{s.kind}]"]
        last = s.end
    return "".join(out) + text[last:]


def shown(text: str | None, policy: ExamplesPolicy = "redacted",
          keep_words: Iterable[str] = ()) -> str | None:
    """The form of a user's text an output may carry under the operator's policy
    (`none` → nothing, `raw` → as sent, `redacted` → `redact(text)`)."""
    if text is None or policy == "none":
        return None
    return text if policy == "raw" else redact(text, keep_words=keep_words)


def find_sensitive(text: str, *, keep_words: Iterable[str] = (),
                   thorough: bool = True) -> list[Span]:
    """Merged, sorted, non-overlapping spans of every layer."""
    found: list[Span] = [Span(p.kind, p.start, p.end) for p in find_pii(text, broad=True)]
    if thorough:
        found += _presidio(text) + _secrets(text)
    found += _fail_closed(text, frozenset(keep_words) | _KEEP)
    kept = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)]
    found = [s for s in found if not any(a <= s.start and s.end <= b for a, b in kept)]
    return _merge(found)


# -- layer 2 and 3: maintained detectors -----------------------------------------------------

@cache
def _presidio_recognizers() -> tuple[object, ...]:
    from presidio_analyzer.predefined_recognizers import (  # type: ignore[import-untyped]
        CreditCardRecognizer,
        CryptoRecognizer,
        IbanRecognizer,
        IpRecognizer,
        MacAddressRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )
    # No e-mail or URL recognizer: they call tldextract, which fetches the public suffix list
    # from the internet on first use. Layers 1 and 4 cover both.
    return tuple(c() for c in (
        CreditCardRecognizer, CryptoRecognizer, IbanRecognizer, IpRecognizer,
        MacAddressRecognizer, PhoneRecognizer, UkNinoRecognizer, UsSsnRecognizer))


_PRESIDIO_KINDS = {"CREDIT_CARD": "CARD", "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP",
                   "PHONE_NUMBER": "PHONE", "US_SSN": "NATIONAL_ID", "UK_NINO": "NATIONAL_ID",
                   "CRYPTO": "SECRET", "MAC_ADDRESS": "NUMBER"}


def _presidio(text: str) -> list[Span]:
    spans = []
    for r in _presidio_recognizers():
        for res in r.analyze(text, entities=r.supported_entities,  # type: ignore[attr-defined]
                             nlp_artifacts=None):
            spans.append(Span(_PRESIDIO_KINDS.get(res.entity_type, "PII"), res.start, res.end))
    return spans


@cache
def _secret_patterns() -> tuple[re.Pattern[str], ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class  # type: ignore[import-untyped]
    from detect_secrets.plugins.base import RegexBasedDetector  # type: ignore[import-untyped]
    patterns = []
    for cls in get_mapping_from_secret_type_to_class().values():
        plugin = cls()
        if isinstance(plugin, RegexBasedDetector):
            patterns += list(plugin.denylist)
    return tuple(patterns)


def _secrets(text: str) -> list[Span]:
    spans = []
    for pattern in _secret_patterns():
        for m in pattern.finditer(text):
            start, end = m.span(1) if m.lastindex else m.span()
            if end > start:
                spans.append(Span("SECRET", start, end))
    return spans


# -- layer 4: fail closed --------------------------------------------------------------------

def _fail_closed(text: str, keep: frozenset[str]) -> list[Span]:
    spans: list[Span] = []
    spans += [Span("SECRET", m.start(), m.end()) for m in _OWN_KEYS.finditer(text)]
    spans += [Span("URL", m.start(), m.end()) for m in _URL.finditer(text)]
    for m in _CREDENTIAL.finditer(text):
        value = m.group("value")
        spaced = not m.group("sep").strip()
        if PLACEHOLDER.fullmatch(value) or (spaced and not _looks_secret(value)):
            continue
        spans.append(Span("SECRET", m.start("value"), m.end("value")))
    spans += [Span("SECRET", m.start("value"), m.end("value")) for m in _BEARER.finditer(text)]
    for pattern in (_POSTCODE, _UNIT, _STREET):
        spans += [Span("ADDRESS", m.start(), m.end()) for m in pattern.finditer(text)]
    for m in _IBAN_LOOSE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 8:
            spans.append(Span("IBAN", m.start(), m.end()))
    for m in _TOKEN.finditer(text):
        if _high_entropy(m.group()):
            spans.append(Span("SECRET", m.start(), m.end()))
    for m in _DIGIT_RUN.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 5:
            spans.append(Span("NUMBER", m.start(), m.end()))
    spans += _names(text, keep)
    return spans


def _names(text: str, keep: frozenset[str]) -> list[Span]:
    """Capitalised words in a row, a number before capitalised words (an address), a
    capitalised word inside a sentence or after a cue, and any word after `my name is`."""
    spans = [span for m in _NAME_AFTER.finditer(text) if (span := _name_after(text, m.end()))]
    words = list(_WORD.finditer(text))
    i = 0
    while i < len(words):
        if not _capitalised(words[i].group(), keep):
            i += 1
            continue
        j = i  # extend the run over capitalised words and particles separated by one space
        while j + 1 < len(words) and _gap_ok(text, words[j].end(), words[j + 1].start()) and (
                _capitalised(words[j + 1].group(), keep)
                or (words[j + 1].group().lower() in _PARTICLES and j + 2 < len(words)
                    and _capitalised(words[j + 2].group(), keep))):
            j += 1
        start, end = words[i].start(), words[j].end()
        before = text[:start]
        number = re.search(r"\d+[A-Za-z]?\s+$", before)
        sentence_start = bool(_SENTENCE_END.search(before))
        after = re.match(r"\s\d+\w?\b", text[end:])
        if number or after:
            spans.append(Span("ADDRESS", number.start() if number else start,
                              end + (after.end() if after else 0)))
        elif j > i or not sentence_start or _NAME_CUE.search(before):
            spans.append(Span("NAME", start, end))
        i = j + 1
    return spans


def _name_after(text: str, start: int) -> Span | None:
    """The words after `my name is`, up to six, until a function word or punctuation."""
    end = start
    for m in re.finditer(r"[^\W\d_][\w'’.-]*", text[start:start + 120]):
        if text[end:start + m.start()].strip() or m.group().lower() in _NAME_STOP:
            break
        end = start + m.end()
        if len(text[start:end].split()) >= 6:
            break
    return Span("NAME", start, end) if end > start else None


def _capitalised(word: str, keep: frozenset[str]) -> bool:
    return (word[0].isupper() and not word.isupper() and word not in keep) or (
        word.isupper() and len(word) > 1 and word not in keep and len(word) >= 6)


def _gap_ok(text: str, end: int, start: int) -> bool:
    return text[end:start] in (" ", "\u00a0", ", ")


def _looks_secret(value: str) -> bool:
    classes = sum((any(c.islower() for c in value), any(c.isupper() for c in value),
                   any(c.isdigit() for c in value), any(not c.isalnum() for c in value)))
    return len(value) >= 6 and classes >= 2


def _high_entropy(token: str) -> bool:
    """A token of 16+ characters with letters and digits mixed, and at least 3 bits per
    character (hex ids and keys; `state-of-the-art` and `internationalization` pass)."""
    core = token.strip(".:-_~")
    if len(core) < 16 or not any(c.isdigit() for c in core) or not any(c.isalpha() for c in core):
        return False
    counts = Counter(core)
    entropy = -sum(n / len(core) * math.log2(n / len(core)) for n in counts.values())
    return entropy >= 3.0


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and s.start < merged[-1].end:
            last = merged[-1]
            if s.end > last.end:
                merged[-1] = Span(last.kind, last.start, s.end)
            continue
        merged.append(s)
    return merged

