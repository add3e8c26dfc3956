"""Embedded real prompts for the drift benchmarks, cached on disk after the first run.

Baseline: distinct chitchat-dataset turns; shift: distinct prompts of one chatterbot-corpus
topic. Embedding ~6,000 texts takes a minute or two on 2 CPU cores; later runs load the cache
(`~/.cache/llmwatch/bench`, or LLMWATCH_BENCH_CACHE).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np

from corpora.quality_data import cache_dir
from llmwatch.embedding import make_embedder
from llmwatch.simulate import chatterbot_pairs, chitchat_pairs


@dataclass(frozen=True)
class Corpus:
    baseline_texts: list[str]
    baseline: np.ndarray  # float32, one row per text, L2-normalised
    shift_texts: list[str]
    shift: np.ndarray


def load_corpus(topic: str = "coding", n_baseline: int = 6000, seed: int = 0,
                backend: str = "minilm") -> Corpus:
    rng = random.Random(seed)
    distinct = sorted({p for p, _ in chitchat_pairs() if len(p.split()) >= 3})
    baseline_texts = rng.sample(distinct, n_baseline)
    shift_texts = sorted({p for p, _ in chatterbot_pairs(topic)})
    return Corpus(baseline_texts, _embed_cached(baseline_texts, backend), shift_texts,
                  _embed_cached(shift_texts, backend))


def _embed_cached(texts: list[str], backend: str = "minilm") -> np.ndarray:
    if backend == "onnx":  # the drift space: the shipped int8 ONNX MiniLM
        from llmwatch.onnx_embedding import OnnxMiniLM

        return OnnxMiniLM.load(threads=2).encode(texts)
    if backend != "minilm":  # fast: not cached, so a rebuilt static embedding is seen
        return make_embedder(backend).encode(texts)
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache_dir() / f"emb-{digest}.npy"
    if path.exists():
        return np.load(path)
    vectors = make_embedder("minilm").encode(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors
