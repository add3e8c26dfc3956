"""Personal data and secrets in text, with their spans (so the rest can redact them).

Kinds: EMAIL, PHONE, CARD (Luhn-checked), IBAN (mod-97-checked), NATIONAL_ID (US SSN,
UK NINO), IP (v4 and v6), API_KEY (cloud keys, `sk-…`, `xox…`, GitHub tokens, JWTs) and
PRIVATE_KEY blocks. Checksums keep order numbers and timestamps from passing as cards.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PiiSpan:
    kind: str
    start: int
    end: int


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and _luhn(digits) and len(set(digits)) > 1


def _iban(match: str) -> bool:
    s = match.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _ip(match: str) -> bool:
    if ":" in match and sum(ch.isalnum() for ch in match) < 4:
        return False  # "::" and the like: punctuation, not an address
    try:
        ip = ipaddress.ip_address(match)
    except ValueError:
        return False
    return not (ip.version == 4 and match.count(".") != 3)


def _phone(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 9 <= len(digits) <= 15 and len(set(digits)) > 2


_RULES: list[tuple[str, re.Pattern[str], object]] = [
    ("PRIVATE_KEY", re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
     None),
    ("API_KEY", re.compile(
        r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
        r"|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|AIza[0-9A-Za-z_-]{35}"
        r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"), None),
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"), None),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", re.I),
     _iban),
    ("CARD", re.compile(r"(?<![\d.-])(?:\d{4}([./])\d{4}\1\d{4}\1\d{1,7}|(?:\d[ -]?){12,18}\d)"
                        r"(?![\d-])"), _card),
    ("NATIONAL_ID", re.compile(
        r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"  # US SSN
        r"|\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"), None),  # UK NINO
    ("IP", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
                      r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ip),
    ("PHONE", re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{7,18}\d(?!\w)"), _phone),
]


_DIGIT = re.compile(r"\d")

# What a rule cannot match without (text, its count of \d): a rule whose gate is shut is
# skipped, which changes no result and saves most of the cost on long plain text.
_GATES = {
    "PRIVATE_KEY": lambda text, _: "-----BEGIN" in text,
    "EMAIL": lambda text, _: "@" in text,
    "IBAN": lambda _, digits: digits >= 2,
    "CARD": lambda _, digits: digits >= 13,
    "NATIONAL_ID": lambda _, digits: digits >= 6,
    "IP": lambda text, digits: (digits >= 4 and "." in text) or text.count(":") >= 2,
    "PHONE": lambda _, digits: digits >= 9,
}


def find_pii(text: str) -> list[PiiSpan]:
    """Non-overlapping spans, earlier rules first (a card number is not also a phone).

    >>> text = "card 4111 1111 1111 1111, thanks"
    >>> [(s.kind, text[s.start:s.end]) for s in find_pii(text)]
    [('CARD', '4111 1111 1111 1111')]
    >>> find_pii("order 1234 5678 9012 3456 shipped")  # fails the Luhn check
    []
    """
    spans: list[PiiSpan] = []
    taken: list[tuple[int, int]] = []
    digits = len(_DIGIT.findall(text))
    for kind, pattern, check in _RULES:
        gate = _GATES.get(kind)
        if gate is not None and not gate(text, digits):
            continue
        for m in pattern.finditer(text):
            start, end = m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            if check is not None and not check(m.group()):  # type: ignore[operator]
                continue
            spans.append(PiiSpan(kind, start, end))
            taken.append((start, end))
    return sorted(spans, key=lambda s: s.start)


def redact(text: str, spans: list[PiiSpan] | None = None) -> str:
    """Replace each span with [KIND].

    >>> redact("mail bob@example.com or call +1 (555) 010-9999")
    'mail [EMAIL] or call [PHONE]'
    """
    out, last = [], 0
    for span in spans if spans is not None else find_pii(text):
        out += [text[last:span.start], f"[{span.kind}]"]
        last = span.end
    return "".join(out) + text[last:]
