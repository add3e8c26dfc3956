"""Personal data and secrets in text, with their spans (so the rest can redact them).

Kinds: EMAIL, PHONE, CARD (Luhn-checked), IBAN (mod-97-checked), NATIONAL_ID (US SSN,
UK NINO), IP (v4 and v6), API_KEY (cloud keys, `sk-…`, `xox…`, GitHub tokens, JWTs) and
PRIVATE_KEY blocks. Checksums keep order numbers and timestamps from passing as cards.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PiiSpan:
    kind: str
    start: int
    end: int


def luhn(digits: str) -> bool:
    """The Luhn checksum of a card number's digits holds."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and luhn(digits) and len(set(digits)) > 1


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


def _global_ip(match: str) -> bool:
    """An address that can point at someone: not private, loopback, link-local or one of
    the documentation ranges (192.0.2.0/24, 2001:db8::/32 …) that examples use."""
    if not _ip(match) or match.lower().startswith(("255.255.", "ffff:ffff:")):  # netmasks
        return False
    return ipaddress.ip_address(match).is_global


def _phone_broad(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 9 <= len(digits) <= 15 and len(set(digits)) > 2


# A phone number is told from other numbers by its context or its format, as a reader does:
# "call 0161 496 0066", "+44 115 496 0777", "(591) 341-7776", "954.794.0545x561". A bare run
# of digits, a score line or an ISBN is not one.
_PHONE_CONTEXT = re.compile(
    r"(?:\b(?:phone|phones|tel|telephone|call|ring|mobile|cell|cellphone|reach|text|sms|"
    r"whatsapp|signal|fax|contact|hotline|helpline|dial|telefon|telefonnummer|handy|"
    r"t[ée]l[ée]phone|portable|appel(?:ez|er)?|tel[ée]fono|m[óo]vil|llam[ae]|cellulare|"
    r"chiama|telefoonnummer|bel|ligue|tlf|n[úu]mero|num[ée]ro|nummer)\b|[☎📞])", re.I)
_NOT_PHONE = re.compile(
    r"\b(?:order|orders|invoice|inv|tracking|track|customer|account|acct|isbn(?:-1[03])?|ean|"
    r"upc|barcode|sku|serial|part|model|version|ver|build|release|score|final|course|id|ref|"
    r"reference|ticket|case|no|nr|timestamp|iteration|iterations|balance|pi|ssn)"
    r"(?:\s+(?:number|no|nr|id))?\b[\W_]*$",
    re.I)
_EXTENSION = re.compile(r"(?:x|ext\.?|extension|#)\s*\d{1,6}$", re.I)


def _phone(match: str, text: str, start: int) -> bool:
    number = _EXTENSION.sub("", match).strip()
    digits = re.sub(r"\D", "", number)
    if not 8 <= len(digits) <= 15 or len(set(digits)) <= 2:
        return False
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", number):  # an IPv4 address or netmask
        return False
    before = text[max(0, start - 40):start]
    if _NOT_PHONE.search(before[-25:]):
        return False
    if _PHONE_CONTEXT.search(before):
        return True
    groups = re.findall(r"\d+", number)
    formatted = (
        number.startswith(("+", "00")) or _EXTENSION.search(match) is not None
        or re.match(r"\(\d{2,5}\)", number) is not None
        or (len(groups) >= 3 and all(len(g) >= 2 for g in groups) and len(groups[0]) <= 5
            and len({ch for ch in number if not ch.isdigit()} - {" "}) <= 1))
    return formatted and len(digits) >= 9


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6)")


def _card_in_context(match: str, text: str, start: int) -> bool:
    """A Luhn-valid number (one in ten random ones is) that starts as card numbers do, is not
    part of a longer number and is not called an ISBN, barcode, order or tracking number."""
    digits = re.sub(r"\D", "", match)
    end = start + len(match)
    return (_card(match) and _CARD_PREFIX.match(digits) is not None
            and re.match(r"[ -]?\d", text[end:end + 2]) is None
            and (re.search(r"\b(?:card|visa|mastercard|amex|kreditkarte|carte|tarjeta)\b",
                           text[max(0, start - 25):start], re.I) is not None
                 or not _NOT_PHONE.search(text[max(0, start - 25):start])))


_SSN_CONTEXT = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?|sozialversicherungs"
                          r"nummer)\b[\W_]*(?:is|:|#)?[\W_]*$", re.I)


def _ssn(match: str, text: str, start: int) -> bool:
    return _SSN_CONTEXT.search(text[max(0, start - 40):start]) is not None


Check = Callable[[str, str, int], bool]  # (match, text, start) → is it one


def _plain(check: Callable[[str], bool]) -> Check:
    return lambda match, _text, _start: check(match)


_IP4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IP6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_CARD = re.compile(r"(?<![\d.-])(?:\d{4}([./])\d{4}\1\d{4}\1\d{1,7}|(?:\d[ -]?){12,18}\d)"
                   r"(?![\d-])")
_NATIONAL_ID = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"  # US SSN
                          r"|\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")  # UK NINO
_COMMON: list[tuple[str, re.Pattern[str], Check | None]] = [
    ("PRIVATE_KEY", re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
     None),
    ("API_KEY", re.compile(
        r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
        r"|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|AIza[0-9A-Za-z_-]{35}"
        r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"), None),
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"), None),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", re.I),
     _plain(_iban)),
]
# The check (`find_pii`): a finding is a claim that personal data is there; it must hold.
_RULES: list[tuple[str, re.Pattern[str], Check | None]] = [
    *_COMMON,
    ("CARD", _CARD, _card_in_context),
    ("NATIONAL_ID", _NATIONAL_ID, None),
    ("IP", _IP4, _plain(_global_ip)),
    ("IP", _IP6, _plain(_global_ip)),
    # an SSN written with spaces, dots or none, where the text says it is one
    ("NATIONAL_ID", re.compile(r"(?<![\w-])\d{3}[ .]?\d{2}[ .]?\d{4}(?![\w-])"), _ssn),
    ("PHONE", re.compile(r"(?<![\w+#.-])(?:\+|00)?\(?\d[\d ().-]{5,20}\d"
                         r"(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?(?!\w|-\d)", re.I), _phone),
]
# Redaction (`find_pii(broad=True)`) fails closed: any Luhn-valid number is masked as a card,
# any address as an IP, any run of 9–15 digits as a phone, context or not.
_BROAD_RULES: list[tuple[str, re.Pattern[str], Check | None]] = [
    *_COMMON,
    ("CARD", _CARD, _plain(_card)),  # any Luhn-valid number, context or not
    ("NATIONAL_ID", _NATIONAL_ID, None),
    ("IP", _IP4, _plain(_ip)),
    ("IP", _IP6, _plain(_ip)),
    ("PHONE", re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{7,18}\d(?!\w)"), _plain(_phone_broad)),
]


_DIGIT = re.compile(r"\d")
_KEY_PREFIXES = ("sk-", "xox", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "AIza",
                 "eyJ")  # how API_KEY's matches open

# What a rule cannot match without (text, its count of \d): a rule whose gate is shut is
# skipped, which changes no result and saves most of the cost on long plain text.
_GATES = {
    "PRIVATE_KEY": lambda text, _: "-----BEGIN" in text,
    "API_KEY": lambda text, _: any(prefix in text for prefix in _KEY_PREFIXES),
    "EMAIL": lambda text, _: "@" in text,
    "IBAN": lambda _, digits: digits >= 2,
    "CARD": lambda _, digits: digits >= 13,
    "NATIONAL_ID": lambda _, digits: digits >= 6,
    "IP4": lambda text, digits: digits >= 4 and "." in text,
    "IP6": lambda text, _: text.count(":") >= 2,
    "PHONE": lambda _, digits: digits >= 8,
}


_GATE_OF = {_IP4: "IP4", _IP6: "IP6"}  # one kind, two patterns: two gates


def find_pii(text: str, *, broad: bool = False) -> list[PiiSpan]:
    """Non-overlapping spans, earlier rules first (a card number is not also a phone).
    `broad` is for redaction, which fails closed (see `_BROAD_RULES`).

    >>> text = "card 4111 1111 1111 1111, thanks"
    >>> [(s.kind, text[s.start:s.end]) for s in find_pii(text)]
    [('CARD', '4111 1111 1111 1111')]
    >>> find_pii("order 1234 5678 9012 3456 shipped")  # fails the Luhn check
    []
    >>> [s.kind for s in find_pii("call me on 954.794.0545x561")]
    ['PHONE']
    >>> find_pii("Final: 6-3 6-7 (2-7) 7-6, ISBN 978-0-668-58784-6")
    []
    """
    spans: list[PiiSpan] = []
    taken: list[tuple[int, int]] = []
    digits = len(_DIGIT.findall(text))
    for kind, pattern, check in _BROAD_RULES if broad else _RULES:
        gate = _GATES.get(_GATE_OF.get(pattern, kind))
        if gate is not None and not gate(text, digits):
            continue
        for m in pattern.finditer(text):
            start, end = m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            if check is not None and not check(m.group(), text, start):
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
    for span in spans if spans is not None else find_pii(text, broad=True):
        out += [text[last:span.start], f"[{span.kind}]"]
        last = span.end
    return "".join(out) + text[last:]
