"""Fail-closed redaction: the one function every piece of user text goes through on its way out.

Prompts and answers reach Slack, PagerDuty, trackers, reports, datasets, logs and the CLI only
through `redact()` (or `shown()`, which also applies the operator's `privacy.examples` policy),
and always on the final text a destination shows: after joining, shortening and labelling.

Every recognizer reads one normal form of the text (detectors.normal_form: NFKC, invisible
characters gone, every dash a `-`, `%40` decoded) and its spans are mapped back, so the rest
of the text is shown as written. Five layers, each masking what the others missed, spans
merged:

1. `detectors.pii` — the checked kinds the quality detector counts (Luhn cards, mod-97 IBANs,
   e-mails, SSN/NINO, IPs, API keys, private keys);
2. Microsoft Presidio's pattern recognizers (phone numbers through Google's libphonenumber,
   cards, IBANs, crypto wallets, IPs, MAC addresses, SSN, NINO);
3. detect-secrets' regex plugins (AWS, Stripe, GitHub, GitLab, Slack, JWT, Twilio, SendGrid,
   npm, PyPI, Azure, Discord, Telegram, …);
4. what wording tells: numbers split by any separator or spelled as words
   (detectors.digit_groups), a value after a key that says password, secret, token or key,
   passphrases, "name at host dot com", ids after their word, dates of birth
   (detectors.identifiers), and people's names in any script and case from a lexicon of
   400k names (detectors.person_names);
5. the fail-closed rules, which need no knowledge of the kind: values after credential words
   (`password is …`, `Bearer …`), URLs, street addresses, postcodes and long high-entropy
   tokens.

Capital letters alone mask nothing: "Redis", "FastAPI", "TypeError", "None" and "Britain" stay.
`privacy.keep_words` lists words the operator wants shown even when they are names.

Each masked span becomes `[KIND]`; redaction is idempotent (`redact(redact(t)) == redact(t)`).
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from .digit_groups import find_digit_chains
from .identifiers import find_identifiers
from .normal_form import normalise
from .person_names import find_names
from .pii import find_pii

ExamplesPolicy = Literal["redacted", "none", "raw"]

_URL = re.compile(r"\b(?:https?|ftp|file)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.~:]{16,}")
_IDENTIFIER_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[.:/-][A-Za-z_][A-Za-z0-9_]*)+[.:]*")
_CREDENTIAL = re.compile(
    r"(?i)\b(?:pass(?:word|wd|phrase|code)?|pwd|pin|secret|token|api[ _-]?key|access[ _-]?key"
    r"|private[ _-]?key|client[ _-]?secret|credentials?|otp)\b"
    r"(?P<sep>[ \t]*(?:is|was|:|=|->|=>)[ \t]*|[ \t]+)[\"']?(?P<value>[^\s\"',;]+)")
_BEARER = re.compile(r"(?i)\b(?:bearer|basic|token)\s+(?P<value>[A-Za-z0-9._~+/=\-]{8,})")
_OWN_KEYS = re.compile(
    r"\b(?:[rs]k_(?:live|test)_[0-9A-Za-z]{10,}|github_pat_[0-9A-Za-z_]{20,}"
    r"|gh[pousr]_[0-9A-Za-z]{20,}|gl[a-z]{2,4}-[0-9A-Za-z_\-]{20,}|xox[a-z]-[0-9A-Za-z-]{10,}"
    r"|AKIA[0-9A-Z]{16}|npm_[0-9A-Za-z]{30,}|hf_[0-9A-Za-z]{30,})")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b"  # UK
                       r"|\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b")  # Canada
_IBAN_LOOSE = re.compile(
    r"\b[a-zA-Z]{2}\d{2}(?:[ ]?[a-zA-Z0-9]{4}){2,7}(?:[ ]?[a-zA-Z0-9]{1,4})?\b")
_UNIT = re.compile(r"(?i)\b(?:apt|apartment|suite|ste|unit|flat|room|po box|box)\.?\s*#?\d+\w*")
_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_SUFFIX = (r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|"
           r"Place|Pl|Terrace|Ter|Close|Crescent|Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir|"
           r"Trail|Trl|Row|Walk|Gardens|Green|Hill|Hills|Park|Mews|Loop|Alley|Plaza|Port|Path|"
           r"Pike|Ridge|Run|Crossing|Heights|Point|Station|Via|Vista|View|Village|Villages|"
           r"Well|Wells|Mill|Mills|Manor|Junction|Harbor|Harbour|Grove|Falls|Estate|Estates|"
           r"Center|Centre|Brook|Bridge|Branch|Fork|Ford|Stream|Lake|Lakes|Meadow|Meadows|"
           r"Mountain|Mount|Spring|Springs|Valley|Shore|Shores|Island|Isle|Field|Fields|Forest|"
           r"Glen|Oval|Pass|Port|Rapids|Rest|Route|Spur|Summit|Tunnel|Turnpike|Union|Wall|"
           r"Expressway|Freeway|Motorway|Gate|Parade|Quay|Rise|Wharf|Yard)\b\.?")
_TAIL = (r"(?:,?\s+(?i:apt|apartment|suite|ste|unit|flat|room)\.?\s*#?\d+\w*)?"
         rf"(?:(?:,\s*|\n\s*)(?:{_CAP}(?:[ -]{_CAP}){{0,2}}))?"
         r"(?:,?\s+[A-Z]{2})?(?:,?\s+\d{4,5}(?:-\d{4})?)?")
# a US-style address anchored by its state and ZIP: "87921 Turner Course, New Tinamouth, SD 97352"
_US_ADDRESS = re.compile(
    rf"\b\d{{1,6}}\s+(?:{_CAP}\s+){{0,4}}{_CAP}\.?"
    r"(?:,?\s+(?i:apt|apartment|suite|ste|unit|flat|room)\.?\s*#?\d+\w*)?"
    rf"(?:,\s*|\n\s*|\s+)(?:{_CAP}[ -]?){{1,3}},?\s+[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?\b")
_MILITARY = re.compile(r"\b(?:PSC|Unit|USNS|USNV|USS|USCGC|CMR)\s+[\w ]{1,30}?,?\s+"
                       r"(?:Box\s+\d+,?\s+)?(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}\b")
_HOUSE = re.compile(rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:{_CAP}\s+){{0,3}}{_SUFFIX}{_TAIL}")
_STREET = re.compile(
    r"(?:\b\d+\w?,?\s+)?\b(?:[Rr]ue|[Aa]venue|[Aa]llée|[Bb]oulevard|[Cc]hemin|[Ii]mpasse|"
    r"Place|[Qq]uai|Route|[Cc]alle|[Cc]arrera|Via|Viale|[Pp]iazza|Rua|[Ss]tra(?:ss|ß)e|Weg|"
    r"Gasse|Platz|Allee|Avenida|Travessa|Largo)\b\.?"
    r"(?:\s+(?:d[eu']|la|le|des|del|della|di|da|do|dos)?\s*[^\W\d_][\w'’.-]*){1,4}"
    r"(?:\s+\d+\w?)?(?:,?\s*\d{4,5}\s+" + _CAP + r"(?:[ -]" + _CAP + r")*)?")
_COMPOUND_STREET = re.compile(
    r"\b[A-ZÄÖÜ][\w-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|laan|"
    r"straat|gracht|plein|vej|gade|gatan|vägen|veien|gata)\s+\d+\w?"
    r"(?:,?\s*\d{4,5}\s+" + _CAP + r"(?:[ -]" + _CAP + r")*)?")
_PRODUCTS = frozenset("""
I I'm I've I'll I'd OK Okay AI API Monday Tuesday Wednesday Thursday Friday Saturday Sunday
January February March April May June July August September October November December
English French German Spanish Italian Portuguese Chinese Japanese Korean Russian Arabic Hindi
Dutch Polish Turkish Swedish Python Java JavaScript TypeScript Rust Go SQL Excel Linux
Windows Mac macOS iOS Android Docker Kubernetes Kafka PostgreSQL Slack GitHub Google
Ruby Julia Ada Pascal Dart Elm Crystal Nim Haskell Erlang Elixir Scala Kotlin Swift Perl
Lua Django Flask Rails Apache Nginx Loki Tempo Mimir Neovim Vim Emacs
Laravel Spring Angular Vue Svelte Jenkins Ansible Terraform Grafana
Redis Jupyter Pandas Keras Gatsby Astro Remix Nuxt Ember Meteor Jasmine Mocha Jest
Sentry Heroku Vercel Netlify Siri Alexa Cortana Claude Gemini Llama Mistral Falcon
Cassandra Hugo Jarvis Travis Watson Bazel
Azure Aurora Hadoop Hive Pig Presto Trino Druid Flink Beam Storm Samza Kibana Logstash
Copilot Ollama Jenkins Travis Circle Drone Argo Flux Helm Istio Envoy
Consul Vault Nomad Packer Vagrant Chef Puppet Salt Sphinx Celery Tornado Bottle Pyramid Dash
Streamlit Gradio Polars Dask Ray Numba Cython Mypy Ruff Black Flake Isort Poetry Hatch Conda
Deno Bun Node Express Nest Koa Hapi Sails Adonis Laminas Yii Phoenix Ecto Oban Tiger Lynx
""".split())
_PYTHON_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))
PLACEHOLDER = re.compile(r"\[[A-Z_]{2,20}\]")


@dataclass(frozen=True)
class Privacy:
    """What the operator allows outputs to show of users' text (`privacy.*` settings)."""

    examples: ExamplesPolicy = "redacted"
    keep_words: frozenset[str] = frozenset()

    def show(self, text: str | None, limit: int | None = None) -> str | None:
        """An example as outputs may carry it: None under `examples = none`; with `limit`,
        on one line and shortened to about that many characters *before* it is redacted."""
        return shown(text, self.examples, self.keep_words, limit)

    def redact(self, text: str) -> str:
        """Always redacted, whatever `examples` says (labels, terms, logs, errors)."""
        return redact(text, keep_words=self.keep_words)

    def at_rest(self, text: str) -> str:
        """As stored under `store_text = redacted`: the fail-closed rules alone (0.2 ms, not
        the 4–11 ms of the thorough pass), since every call is stored."""
        return redact(text, thorough=False)


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
          keep_words: Iterable[str] = (), limit: int | None = None) -> str | None:
    """The form of a user's text an output may carry under the operator's policy
    (`none` → nothing, `raw` → as sent, `redacted` → `redact(text)`), without terminal
    escapes or control characters. One order for every destination: fold and shorten, then
    redact the text as it will be shown — a card split over lines is joined first, then
    masked."""
    if text is None or policy == "none":
        return None
    text = without_controls(text)
    if limit is not None:
        text = shorten(text, limit)
    return text if policy == "raw" else redact(text, keep_words=keep_words)


def shorten(text: str, limit: int) -> str:
    """On one line, at most `limit` characters (an ellipsis marks the cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])"
                      r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    """`text` without terminal escape sequences (colours, clear screen, OSC 8 links) and C0
    or C1 control characters other than tab and newline."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def find_sensitive(text: str, *, keep_words: Iterable[str] = (),
                   thorough: bool = True) -> list[Span]:
    """Merged, sorted, non-overlapping spans of every layer, in `text` as written."""
    norm = normalise(text)
    t = norm.text
    keep = frozenset(keep_words) | _PYTHON_NAMES
    found: list[Span] = [Span(p.kind, p.start, p.end) for p in find_pii(t, broad=True)]
    if thorough:
        found += _presidio(t) + _secrets(t)
    found += [Span(c.kind, c.start, c.end) for c in find_digit_chains(t)]
    found += [Span(*f) for f in find_identifiers(t)]
    found += [Span(*f) for f in find_names(t, keep, _PRODUCTS)]
    found += _fail_closed(t)
    kept = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(t)]
    found = [s for s in found if s.end > s.start
             and not any(a <= s.start and s.end <= b for a, b in kept)]
    return _merge([Span(s.kind, *norm.original(s.start, s.end)) for s in _merge(found)])


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


# -- layer 5: fail closed --------------------------------------------------------------------

def _fail_closed(text: str) -> list[Span]:
    spans: list[Span] = []
    spans += [Span("SECRET", m.start(), m.end()) for m in _OWN_KEYS.finditer(text)]
    spans += [Span("URL", m.start(), m.end()) for m in _URL.finditer(text)]
    for m in _CREDENTIAL.finditer(text):
        value = m.group("value")
        spaced = not m.group("sep").strip()
        if PLACEHOLDER.fullmatch(value) or (spaced and not _looks_secret(value)) or (
                spaced and m.group().lower().startswith("pass")
                and not m.group().lower().startswith(("password", "passwd", "passphrase",
                                                      "passcode"))):
            continue  # Python's `pass`, not a credential
        spans.append(Span("SECRET", m.start("value"), m.end("value")))
    spans += [Span("SECRET", m.start("value"), m.end("value")) for m in _BEARER.finditer(text)]
    for pattern in (_POSTCODE, _UNIT, _US_ADDRESS, _MILITARY, _HOUSE, _STREET, _COMPOUND_STREET):
        spans += [Span("ADDRESS", m.start(), m.end()) for m in pattern.finditer(text)]
    for m in _IBAN_LOOSE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 8:
            spans.append(Span("IBAN", m.start(), m.end()))
    for m in _TOKEN.finditer(text):
        if _high_entropy(m.group()):
            spans.append(Span("SECRET", m.start(), m.end()))
    return spans


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
    if _IDENTIFIER_PATH.fullmatch(core) and sum(c.isdigit() for c in core) <= 2:
        return False  # ipaddress.IPv6Network, os.path.join, utf-8: code, not a key
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

