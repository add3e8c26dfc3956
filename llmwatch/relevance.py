"""Is this answer about its prompt? A small learned head over a static embedding.

MiniLM's prompt–answer cosine tells an on-topic answer from an off-topic one fairly well; the
static embedding's cosine does not (a bag of tokens: "How old are you?" and "I'm 23" share no
token worth the name). This head learns the relation instead: a network with one hidden layer
over the two vectors (`features`), trained on real turn/reply pairs of the chit-chat
dataset's *training* conversations against the same prompts with a random other reply. It is
fitted with the static embedding when that is built (`python -m training.static_space`) and
shipped in its file; scoring is two small matrix products in numpy.

Its flag threshold is set on validation conversations (neither trained on nor the held-out
ones the benchmark reads) so that it flags `FALSE_ALARMS` (0.3 %) of real replies there: a
check that fires on one call in twelve (its first operating point, MiniLM's cosine < 0.05)
trains on-call to ignore it. Replies shorter than `MIN_REPLY_WORDS` ("sure haha", "ok!") get
no verdict at all: whether they fit cannot be read from so little.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

log = logging.getLogger(__name__)

HIDDEN = 256
FALSE_ALARMS = 0.003  # share of real validation replies the head flags (benign chat ≤ 0.5 %)
MIN_REPLY_WORDS = 5  # shorter replies are not judged
TRAIN_PAIRS = 60_000  # real pairs; as many shuffled ones
VALIDATION_PAIRS = 4_000
ARRAYS = ("w1", "b1", "w2", "b2", "threshold")


def features(prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """(n, 4d): both vectors, their product and their distance per dimension."""
    prompts = np.atleast_2d(prompts)
    responses = np.atleast_2d(responses)
    return np.concatenate([prompts, responses, prompts * responses,
                           np.abs(prompts - responses)], axis=1).astype(np.float32)


@dataclass(frozen=True)
class RelevanceHead:
    """P(off-topic) of (prompt, answer) vectors; flags at `threshold`."""

    w1: np.ndarray  # (4d, hidden)
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden,)
    b2: float
    threshold: float

    def off_topic(self, prompts: np.ndarray, responses: np.ndarray) -> np.ndarray:
        hidden = np.maximum(features(prompts, responses) @ self.w1 + self.b1, 0.0)
        logits = hidden @ self.w2 + self.b2
        return 1.0 / (1.0 + np.exp(-logits))

    def arrays(self) -> dict[str, np.ndarray]:
        """To store beside the static vectors (`from_arrays` reads them back)."""
        return {f"relevance_{k}": np.asarray(getattr(self, k)) for k in ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: object) -> RelevanceHead | None:
        get = arrays.__getitem__  # type: ignore[attr-defined]
        try:
            parts = {k: get(f"relevance_{k}") for k in ARRAYS}
        except KeyError:
            return None
        return cls(parts["w1"].astype(np.float32), parts["b1"].astype(np.float32),
                   parts["w2"].astype(np.float32), float(parts["b2"]), float(parts["threshold"]))


def training_pairs(pairs: Sequence[tuple[str, str]], n: int, rng: random.Random
                   ) -> tuple[list[str], list[str], np.ndarray]:
    """n real pairs and the same prompts with a random other reply (label 1 = off-topic)."""
    real = rng.sample(list(pairs), min(n, len(pairs)))
    others = [r for _, r in real]
    rng.shuffle(others)
    prompts = [p for p, _ in real] * 2
    replies = [r for _, r in real] + others
    labels = np.r_[np.zeros(len(real)), np.ones(len(real))]
    return prompts, replies, labels


def train(encode: Callable[[Sequence[str]], np.ndarray], pairs: Sequence[tuple[str, str]],
          validation: Sequence[tuple[str, str]], false_positive_rate: float,
          seed: int = 0) -> RelevanceHead:
    """Fit the head on `pairs` (training conversations' turn → reply) in the space of
    `encode`, and set its threshold so that it flags `false_positive_rate` of the real
    `validation` pairs (other conversations)."""
    from sklearn.neural_network import MLPClassifier

    rng = random.Random(seed)
    prompts, replies, labels = training_pairs(usable(pairs), TRAIN_PAIRS, rng)
    x = features(encode(prompts), encode(replies))
    net = MLPClassifier(hidden_layer_sizes=(HIDDEN,), max_iter=20, early_stopping=True,
                        batch_size=256, random_state=seed).fit(x, labels)
    head = RelevanceHead(net.coefs_[0].astype(np.float32), net.intercepts_[0].astype(np.float32),
                         net.coefs_[1][:, 0].astype(np.float32), float(net.intercepts_[1][0]),
                         threshold=0.5)
    scores = head.off_topic(encode([p for p, _ in validation]),
                            encode([r for _, r in validation]))
    threshold = float(np.quantile(scores, 1 - false_positive_rate))
    log.info("relevance head: %d epochs; flags %.1f %% of real validation replies at p ≥ %.3f",
             net.n_iter_, 100 * false_positive_rate, threshold)
    return replace(head, threshold=threshold)


def usable(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs worth judging: a turn of three words or more, and a reply."""
    return [(p, r) for p, r in pairs if len(p.split()) >= 3 and r.strip()]


def judged(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs the check gives a verdict on: usable, with a reply of `MIN_REPLY_WORDS` or more."""
    return [(p, r) for p, r in usable(pairs) if judgeable(p, r)]


def judgeable(prompt: str, reply: str) -> bool:
    return len(prompt.split()) >= 3 and len(reply.split()) >= MIN_REPLY_WORDS
