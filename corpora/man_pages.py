"""Passages of technical prose in 24 languages: Debian's translated manual pages
(`manpages-l10n` and friends: manpages-cs … manpages-vi, manpages-ja, -tr, -zh), written by
people translating them (po4a; not machine-translated), never read by any of llmwatch's
checks or heads. `scripts/setup.sh --test` installs them. Read by `bench/language_flags.py`
and the per-language gate test.

A passage is one paragraph of a page's running text (macros dropped, inline fonts and
escapes undone; code and option tables left out), 12 words or more (40 characters in
Chinese and Japanese), each once (licence and "full documentation at" boilerplate repeats on
every page). Untranslated English paragraphs are dropped (a page is shipped once most of it
is translated), and so are paragraphs with an e-mail address (translators' credits: real
people's addresses, which the PII check rightly flags). Pages are split in two by a hash of their name: `dev` (read while
the checks are worked on) and `held-out` (read only for a final measurement).
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import unicodedata
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from llmwatch.schemas import LLMEvent

ROOT = Path("/usr/share/man")
# the Debian package → its folder under /usr/share/man (and the language's name)
LANGUAGES = {
    "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "hu": "Hungarian", "id": "Indonesian", "it": "Italian",
    "ja": "Japanese", "mk": "Macedonian", "nb": "Norwegian", "nl": "Dutch", "pl": "Polish",
    "pt_BR": "Portuguese (Brazil)", "ro": "Romanian", "ru": "Russian", "sr": "Serbian",
    "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese",
    "zh_CN": "Chinese",
}
PACKAGES = tuple("manpages-" + ("pt-br" if code == "pt_BR" else "zh" if code == "zh_CN"
                               else code) for code in LANGUAGES)
TOOL_ASK = "Go through the document I shared and tell me what it says."

_BREAKS = {"PP", "P", "LP", "SH", "SS", "TP", "IP", "HP", "sp", "TH", "RS", "RE", "in", "ti"}
_FONTS = {"B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB"}
_CODE_START, _CODE_END = {"nf", "EX"}, {"fi", "EE"}
_NAMED = {"em": "—", "en": "–", "aq": "'", "dq": '"', "lq": "“", "rq": "”", "oq": "‘",
          "cq": "’", "bu": "•", "co": "©", "rg": "®", "mi": "-", "hy": "-", "ga": "`",
          "ti": "~", "ha": "^", "lh": "", "rh": ""}
_ESCAPE = re.compile(r"\\(?:f(?:\(..|\[[^\]]*\]|.)|s[+-]?\d+|\((..)|\[([^\]\s]+)\]|\*(?:\(..|\[[^\]]*\]|.)"
                     r"|[&|^~0 :%,/-]|e|c|\n)")


# groff's accented letters: \(:a is ä, \('e é, \(oa å, \(,c ç … (dpkg's pages write them so)
_MARKS = {":": "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303",
          ",": "\u0327", "o": "\u030a", "v": "\u030c"}
_LETTERS = {"ss": "ß", "ae": "æ", "AE": "Æ", "/o": "ø", "/O": "Ø", "oe": "œ", "OE": "Œ",
            "/l": "ł", "/L": "Ł", "-D": "Đ", "Sd": "ð", "TP": "Þ", "Tp": "þ", "ij": "ĳ"}


def _glyph(name: str) -> str:
    if name in _NAMED:
        return _NAMED[name]
    if name in _LETTERS:
        return _LETTERS[name]
    if len(name) == 2 and name[0] in _MARKS and name[1].isalpha():
        return unicodedata.normalize("NFC", name[1] + _MARKS[name[0]])
    return ""


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        name = m.group(1) or m.group(2)
        if name:
            return _glyph(name)
        return {"\\-": "-", "\\e": "\\", "\\~": " ", "\\ ": " ", "\\0": " "}.get(token, "")

    return _ESCAPE.sub(one, text)


def paragraphs(source: str) -> list[str]:
    """A page's paragraphs of running text (see the module's doc)."""
    out: list[str] = []
    current: list[str] = []
    code = False

    def flush() -> None:
        if current:
            out.append(" ".join(" ".join(current).split()))
            current.clear()

    for line in source.splitlines():
        if line.startswith((".", "'")):
            parts = line[1:].strip().split(None, 1)
            macro = parts[0] if parts else ""
            if macro in _CODE_START:
                flush()
                code = True
            elif macro in _CODE_END:
                code = False
            elif macro in _FONTS and len(parts) > 1 and not code:
                words = re.findall(r'"([^"]*)"|(\S+)', parts[1])
                current.append(" ".join(a or b for a, b in words))
            elif macro in _BREAKS or macro.startswith("\\\""):
                flush()
            continue
        if not code:
            current.append(line)
    flush()
    return [_unescape(p).strip() for p in out]


def _prose(paragraph: str, cjk: bool) -> bool:
    if cjk:
        long_enough = len(paragraph) >= 40
    else:
        long_enough = len(paragraph.split()) >= 12
    letters = sum(c.isalpha() for c in paragraph)
    return long_enough and letters >= 0.6 * len(paragraph) and paragraph.count(" -") < 3


def split_of(page: str) -> str:
    return "dev" if hashlib.sha256(page.encode()).digest()[0] % 2 == 0 else "held-out"


def installed() -> list[str]:
    """The languages whose pages are on this machine."""
    return [code for code in LANGUAGES if any((ROOT / code).glob("man*/*.gz"))]


@cache
def passages(code: str, split: str = "dev") -> tuple[str, ...]:
    """Every prose paragraph of a language's pages in one split, in a fixed order."""
    import py3langid

    folder = ROOT / code
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} is missing: install Debian's manual pages in {LANGUAGES[code]} "
            f"(`apt-get install {' '.join(PACKAGES)}`, done by scripts/setup.sh --test)")
    cjk = code in ("ja", "zh_CN")
    out: list[str] = []
    seen: set[str] = set()
    for page in sorted(folder.glob("man*/*.gz")):
        if split_of(page.name) != split:
            continue
        try:
            source = gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace")
        except (OSError, EOFError):
            continue
        for p in paragraphs(source):
            if p in seen or "@" in p:  # boilerplate repeats; credits carry real addresses
                continue
            seen.add(p)
            if _prose(p, cjk) and py3langid.classify(p)[0] != "en":  # left untranslated
                out.append(p)
    return tuple(out)


def sample(code: str, n: int, split: str = "dev", seed: int = 11) -> list[str]:
    found = list(passages(code, split))
    return random.Random(f"{seed}-{code}").sample(found, min(n, len(found)))


def calls(texts: list[str], shape: str) -> list[LLMEvent]:
    """Passages as a pasted prompt, or as what a tool returned after a request."""
    now = datetime.now(UTC)
    prompts: list[object] = (
        list(texts) if shape == "prompt" else
        [[{"role": "user", "content": TOOL_ASK}, {"role": "tool", "content": t}] for t in texts])
    return [LLMEvent(event_id=str(i), timestamp=now, app="a", model="m", prompt=p,
                     response="…", latency_ms=500, cost_usd=0.001, finish_reason="stop")
            for i, p in enumerate(prompts)]


def package_versions() -> dict[str, str]:
    """The installed Debian packages the passages came from (for a provenance file)."""
    import subprocess

    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *PACKAGES],
                         capture_output=True, text=True, check=False).stdout
    return {f"debian:{name}": version for name, version in
            (line.split(" ", 1) for line in out.splitlines() if " " in line)}
