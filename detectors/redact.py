"""Redact personal data from text that leaves the service (alert examples, reports)."""

from __future__ import annotations

import re

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("PRIVATE_KEY", re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)),
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("API_KEY", re.compile(r"\b(?:sk-[A-Za-z0-9_-]{16,}|xox[abprs]-[A-Za-z0-9-]{10,}"
                           r"|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,})\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")),
    ("CARD", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
    ("IP", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")),
    ("PHONE", re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d\b")),
]


def redact(text: str) -> str:
    """Replace e-mails, keys, IBANs, card and phone numbers and IPs with [KIND].

    >>> redact("mail bob@example.com or call +1 (555) 010-9999")
    'mail [EMAIL] or call [PHONE]'
    """
    for kind, pattern in _PATTERNS:
        text = pattern.sub(f"[{kind}]", text)
    return text
