"""What the token budget and the cache of repeated texts buy on realistic calls, side by side.

    python -m bench.embedding_budget [--calls 300] [--repeat 0.3]

Calls are built from real text that ships in packages (the chitchat corpus' lines and the
standard library's docstrings): prompts of ~60 words, answers of ~200 words; `--repeat` of
the answers are canned (one of a few templates, as support bots send). For each setting it
prints raw embedding events/s (a prompt and an answer each, the worker's batching) and the
cosine of each vector to the full-length one (256 tokens, no cache): the price in fidelity.
"""

from __future__ import annotations

import argparse
import pydoc
import random
import re
import sys
import time

import numpy as np

from llmwatch.embedding import Embedder, load_model
from llmwatch.simulate import chatterbot_pairs, chatterbot_topics


def _sentences() -> list[str]:
    out = [t for topic in chatterbot_topics() for pair in chatterbot_pairs(topic) for t in pair]
    for name in ("json", "csv", "argparse", "logging", "asyncio", "email", "http.client",
                 "sqlite3", "pathlib", "datetime", "random", "statistics", "unittest"):
        doc = pydoc.getdoc(__import__(name, fromlist=["_"])) or ""
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", doc) if len(s.split()) > 5]
    return [" ".join(s.split()) for s in out if s.strip()]


def _text(rng: random.Random, pool: list[str], words: int) -> str:
    out: list[str] = []
    while len(out) < words:
        out += rng.choice(pool).split()
    return " ".join(out[:words])


def calls(n: int, repeat: float, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pool = _sentences()
    canned = [_text(rng, pool, 200) for _ in range(5)]
    return [(_text(rng, pool, 60),
             rng.choice(canned) if rng.random() < repeat else _text(rng, pool, 200))
            for _ in range(n)]


def run(embedder: Embedder, data: list[tuple[str, str]], batch: int = 64
        ) -> tuple[float, np.ndarray]:
    embedder.encode([p for p, _ in data[:8]])  # warm-up
    started = time.perf_counter()
    vectors = []
    for i in range(0, len(data), batch):
        chunk = data[i:i + batch]
        vectors.append(embedder.encode([p for p, _ in chunk] + [a for _, a in chunk]))
    return len(data) / (time.perf_counter() - started), np.vstack(vectors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--repeat", type=float, default=0.3, help="share of canned answers")
    args = ap.parse_args()
    data = calls(args.calls, args.repeat)
    print(f"{len(data)} calls: prompts ~{np.mean([len(p.split()) for p, _ in data]):.0f} "
          f"words, answers ~{np.mean([len(a.split()) for _, a in data]):.0f} words, "
          f"{args.repeat:.0%} canned answers")
    model = load_model()
    rows = []
    reference = None
    for tokens, cache in ((256, 0), (256, 20_000), (128, 0), (128, 20_000), (64, 20_000)):
        embedder = Embedder(model, cache_size=cache, max_tokens=tokens)
        eps, vectors = run(embedder, data)
        if reference is None:
            reference = vectors
        cos = (vectors * reference).sum(axis=1)
        rows.append((tokens, cache, eps, float(cos.mean()), float(np.percentile(cos, 5))))
    base = rows[0][2]
    print(f"{'tokens':>6} {'cache':>6} {'events/s':>9} {'× 256':>6} {'cos mean':>9} "
          f"{'cos p5':>7}")
    for tokens, cache, eps, mean, p5 in rows:
        print(f"{tokens:>6} {cache:>6} {eps:>9.1f} {eps / base:>6.2f} {mean:>9.3f} {p5:>7.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
