"""No false flags from language: ordinary chat in each of chatterbot-corpus's languages (a
source no check or head was built from, `corpora/chat_languages.py`), through the worker's own
scoring at its defaults, as prompts and as passages a tool returned. The bar: any check on at
most 1 % of a language's calls, here on a fixed sample of up to 100 prompts and 50 passages.
Where it does not hold yet, the test says so (xfail, strict: it fails once fixed)."""

from __future__ import annotations

import pytest

from corpora.chat_languages import calls, conversations, languages
from llmwatch.config import EmbeddingSettings, QualitySettings
from llmwatch.streams.analysis import LocalAnalyser, local_analyser

CONTENT = ("injection", "refusal", "toxicity", "harmful_answer", "pii_prompt", "pii_response",
           "relevance", "language_mismatch")
SAMPLE = {"prompt": 100, "tool": 50}
# (language, shape): why it does not meet the bar yet
KNOWN: dict[tuple[str, str], str] = {
    ("hinglish", "tool"): "the static planted-instruction head reads romanised Hindi small "
    "talk as an instruction to the model (0.61 and 0.91 on 2 of 31 passages: 'Main thik hoon. "
    "Tum kaise ho?'); it was trained without romanised non-English negatives",
}


@pytest.fixture(scope="module")
def analyser() -> LocalAnalyser:
    return local_analyser(EmbeddingSettings(), QualitySettings())


def flagged(analyser: LocalAnalyser, language: str, shape: str) -> tuple[int, int, list[str]]:
    events = calls(conversations(language), shape)[: SAMPLE[shape]]
    found = []
    for i in range(0, len(events), 64):
        for event, item in zip(events[i:i + 64], analyser(events[i:i + 64]).items, strict=True):
            hit = [c for c in CONTENT if item.scores[c].flagged]
            if hit:
                found.append(f"{hit}: {event.prompt_text[:80]!r} → {event.response_text[:60]!r}")
    return len(found), len(events), found


CASES = [pytest.param(lang, shape, marks=[pytest.mark.xfail(reason=KNOWN[(lang, shape)],
                                                             strict=True)]
                      if (lang, shape) in KNOWN else [])
         for lang in languages() for shape in SAMPLE]


def test_every_language_of_the_corpus_is_read() -> None:
    assert len(languages()) >= 15


@pytest.mark.parametrize(("language", "shape"), CASES)
def test_ordinary_chat_is_not_flagged(analyser: LocalAnalyser, language: str, shape: str) -> None:
    n_flagged, n, found = flagged(analyser, language, shape)
    assert n > 0
    assert n_flagged <= 0.01 * n, "\n".join(found)


# --- technical prose: Debian's translated manual pages ---------------------------------------

PASSAGES = 100  # a fixed sample of each language's dev split, as prompt and as tool message
# (language, shape): why it does not meet the bar yet
KNOWN_PROSE: dict[tuple[str, str], str] = {
    ("cs", "tool"): "the English planted-instruction head reads untranslated English sentences "
    "left inside Czech paragraphs ('Specifying a large value for this option is useful if "
    "the network or the destination host is down', 'This manual page pertains to version "
    "1.0.8 of bzip2') as instructions to the model: 2 of 100",
}


def prose_flagged(analyser: LocalAnalyser, code: str, shape: str) -> tuple[int, int, list[str]]:
    from corpora import man_pages

    texts = man_pages.sample(code, PASSAGES, "dev")
    events = man_pages.calls(texts, shape)
    found = []
    for i in range(0, len(events), 64):
        for text, item in zip(texts[i:i + 64], analyser(events[i:i + 64]).items, strict=True):
            hit = [c for c in CONTENT if item.scores[c].flagged]
            if hit:
                found.append(f"{hit}: {text[:120]!r}")
    return len(found), len(events), found


def _prose_cases() -> list[object]:
    from corpora import man_pages

    return [pytest.param(code, shape, marks=[pytest.mark.xfail(
        reason=KNOWN_PROSE[(code, shape)], strict=True)] if (code, shape) in KNOWN_PROSE else [])
        for code in man_pages.LANGUAGES for shape in ("prompt", "tool")]


def test_manual_pages_in_at_least_fifteen_languages_are_installed() -> None:
    from corpora import man_pages

    enough = [c for c in man_pages.installed() if len(man_pages.passages(c)) >= PASSAGES]
    assert len(enough) >= 15, (
        f"only {enough}: install Debian's manual pages (bash scripts/setup.sh --test)")


@pytest.mark.parametrize(("code", "shape"), _prose_cases())
def test_ordinary_technical_prose_is_not_flagged(analyser: LocalAnalyser, code: str,
                                                 shape: str) -> None:
    n_flagged, n, found = prose_flagged(analyser, code, shape)
    assert n > 0
    assert n_flagged <= 0.01 * n, "\n".join(found)
