"""Secrets and identifiers told by their wording: a value after a key that says password,
an address written "name at host dot com", an id after the word for it, a date after "born".

Reads text in normal form (detectors.normal_form). Each finder returns (kind, start, end).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Found = tuple[str, int, int]

# KEY=value / KEY: value where the key's name says what it is: DB_PASSWORD=…, PGPASSWORD=…,
# "api_key": "…", client-secret: …, AUTH_TOKEN=…
_SECRET_KEY = re.compile(
    r"(?i)(?<![\w-])[\w.-]*?(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|credentials?|auth)[\w.-]*[\"']?\s*(?::=|=>|=|:)\s*"
    r"(?P<value>\"[^\"\n]{1,200}\"|'[^'\n]{1,200}'|[^\s\"']{1,200})")
# where the sentence goes on after a passphrase: "… and it fails", "… but nothing happens"
# (a passphrase may hold "and": "probably and result power")
_CLAUSE = (r"(?:(?:and|but|so|or)[ \t]+(?:it|i|i'm|that|this|the|now|still|then|yet|we|you|"
           r"they|he|she|my|is|was|does|doesn't|did|didn't|won't|can't|cannot|nothing|"
           r"never|always|keeps?|gets?|got)\b|(?:but|so|which|because)\b)")
# a passphrase is several words: "my passphrase is correct horse battery staple"
_PASSPHRASE = re.compile(
    r"(?i)\b(?:pass ?phrase|pass ?words?|password|pwd|pin|secret (?:phrase|words?)|"
    r"recovery (?:phrase|words)|seed (?:phrase|words))\s*(?:is|was|are|were|:|=)\s*"
    r"(?:set to\s+|now\s+)?(?P<value>[\"“'][^\"”'\n]{1,200}[\"”']|"
    r"[^\s.,;!?\n]+(?:[ \t]+(?!" + _CLAUSE + r")[^\s.,;!?\n]+){0,11})")
_TLD = (r"(?:com|org|net|edu|gov|io|co|de|uk|fr|es|it|nl|ru|cn|jp|in|br|au|ca|ch|se|no|fi|"
        r"dk|pl|be|at|info|biz|me|us|dev|ai|app|mail|email|online|xyz|[a-z]{2})")
# john at example dot com, john (at) example (dot) co (dot) uk, john[at]example[.]com
_SPOKEN_EMAIL = re.compile(
    r"(?i)\b[\w.+-]+\s*(?:\(at\)|\[at\]|\{at\}|<at>|\s+at\s+|@)\s*[\w-]+"
    r"(?:\s*(?:\(dot\)|\[dot\]|\{dot\}|<dot>|\[\.\]|\(\.\)|\s+dot\s+|\.)\s*[\w-]+)*"
    r"\s*(?:\(dot\)|\[dot\]|\{dot\}|<dot>|\[\.\]|\(\.\)|\s+dot\s+)\s*" + _TLD + r"\b")
# any script: josé@correo.es, 用户@例子.广告, ivan@почта.рф
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PAN = re.compile(r"\b[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z]\b")  # India's PAN
_AADHAAR_CUE = re.compile(r"(?i)\baadhaar\b")
# an id after the word for it: "passport C01X00T47", "MRN: 4821", "member id A12-99"
_ID_CUE = re.compile(
    r"(?i)\b(?:passport(?:\s+(?:no|number|num|#))?|mrn|medical\s+record(?:\s+(?:no|number))?|"
    r"patient\s+(?:id|no|number)|member\s+(?:id|no|number)|policy\s+(?:no|number)|"
    r"account\s+(?:no|number)|licen[cs]e\s+(?:no|number)|driver'?s\s+licen[cs]e|"
    r"national\s+id|id\s+(?:no|number|card)|tax\s+(?:id|number)|tin|ssn|sin|nhs\s+(?:no|number)|"
    r"pan(?:\s+(?:no|number|card))?|aadhaar|personalausweis|dni|nie|nif|cpf|curp|rfc|"
    r"codice\s+fiscale|bsn|pesel|insurance\s+(?:id|no|number)|employee\s+(?:id|no|number)|"
    r"student\s+(?:id|no|number))\b\.?\s*(?:is|was|:|#|=|-)?\s*")
_CODE = re.compile(r"[A-Z]{6,14}")  # an id of capitals alone ("passport JYEEFNPAX")
_ID_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/ ]{2,24}[A-Za-z0-9]|[A-Za-z0-9]{3,}")
# a date of birth, however it is written, after its cue
_DOB_CUE = re.compile(
    r"(?i)\b(?:born(?:\s+(?:on|in))?|date\s+of\s+birth|d\.?o\.?b\.?|birth\s*day|birthdate|"
    r"geboren(?:\s+am)?|né(?:e)?\s+le|nacid[oa]\s+el|fecha\s+de\s+nacimiento|"
    r"data\s+di\s+nascita|nato\s+il|nata\s+il)\b\s*(?:is|was|:|=|-)?\s*")
_DOB_VALUE = re.compile(
    r"(?i)(?:the\s+)?[\w-]+(?:[ ,./-]+(?:of\s+)?[\w-]+){0,6}")
_DOB_STOP = re.compile(
    r"(?i)[,.;]?\s*\b(?:and|but|so|in|at|because|which|who|i|my|we|to|for|when|where|is)\b")


def find_identifiers(text: str) -> Iterator[Found]:
    for m in _SECRET_KEY.finditer(text):
        value = m.group("value").rstrip(",;.}])")
        if value:
            yield "SECRET", m.start("value"), m.start("value") + len(value)
    for m in _PASSPHRASE.finditer(text):
        yield "SECRET", m.start("value"), m.end("value")
    for pattern in (_SPOKEN_EMAIL, _EMAIL):
        for m in pattern.finditer(text):
            yield "EMAIL", m.start(), m.end()
    for m in _PAN.finditer(text):
        yield "NATIONAL_ID", m.start(), m.end()
    for m in _ID_CUE.finditer(text):
        value = _ID_VALUE.match(text, m.end())
        if value and (any(c.isdigit() for c in value.group())
                      or _CODE.fullmatch(value.group())):
            yield "ID", value.start(), value.end()
    for m in _DOB_CUE.finditer(text):
        value = _DOB_VALUE.match(text, m.end())
        if value:
            words = value.group()
            stop = _DOB_STOP.search(words)
            end = value.start() + (stop.start() if stop else len(words))
            if text[value.start():end].strip():
                yield "DATE_OF_BIRTH", value.start(), end
