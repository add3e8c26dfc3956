"""Does the worker's full drift round keep the power of its prompt-embedding test?

    python -m bench.drift_round_eval [--topic emotion] [--backend static] [--trials 200]

A round tests every metric of a window at once (prompt and response embeddings, six numeric
and two categorical metrics, the quality rates) and controls the false-discovery rate across
them: with plain Benjamini–Hochberg over ~15 tests, a lone real signal must clear ~q/15, so a
5 % topic shift that the centroid test alone catches in half the windows was caught in a
third. The round weights its budget (`DriftConfig.primary_weight`): this prints, on the same
windows, the power at 5 % and 10 % shifts and the false-alarm rate (any finding fired in a
window with no shift) of the centroid test alone at q, the round with plain BH and the round
weighted, and the share of the centroid test's power each round keeps.

Windows are 1,000 calls; baseline prompts are distinct chitchat turns and the shift is one
chatterbot-corpus topic not used for tuning anything (default: emotion, 201 prompts in
the same conversational register as the baseline). Latency, tokens,
cost, finish reasons and quality flags are drawn from the same distributions on both sides
(only the topic moves; the prompts' lengths move with it, as they would).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import numpy as np

from bench.embedded_corpus import Corpus, load_corpus
from llmwatch.detectors.drift_monitor import (
    DriftConfig,
    EventRecord,
    EventSample,
    evaluate_window,
    fit_baseline,
    round_weights,
)
from llmwatch.detectors.fdr import weighted_benjamini_hochberg
from llmwatch.detectors.findings import Finding

N = 1000
SHIFTS = (0.05, 0.10)
FLAGS = {"refusal": 0.02, "pii_prompt": 0.01, "toxicity": 0.005, "relevance": 0.005,
         "language_mismatch": 0.005, "truncated": 0.03}
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def records(texts: list[str], vectors: np.ndarray, rng: np.random.Generator,
            responses: np.ndarray) -> list[EventRecord]:
    out = []
    for i, (text, v) in enumerate(zip(texts, vectors, strict=True)):
        tokens = int(rng.poisson(60))
        out.append(EventRecord(
            timestamp=T0 + timedelta(seconds=i), prompt_text=text, response_text="ok " * 20,
            latency_ms=float(rng.lognormal(6.5, 0.4)), input_tokens=len(text.split()) + 40,
            output_tokens=tokens, cost_usd=tokens * 2e-6,
            finish_reason="length" if rng.random() < 0.03 else "stop",
            prompt_vector=v, response_vector=responses[rng.integers(0, len(responses))],
            flags={k: bool(rng.random() < p) for k, p in FLAGS.items()}))
    return out


def sample(corpus: Corpus, rng: np.random.Generator, share: float = 0.0) -> EventSample:
    idx = rng.integers(0, len(corpus.baseline_texts), N)
    texts = [corpus.baseline_texts[i] for i in idx]
    vectors = corpus.baseline[idx].copy()
    for j in np.flatnonzero(rng.random(N) < share):
        k = int(rng.integers(0, len(corpus.shift_texts)))
        texts[j], vectors[j] = corpus.shift_texts[k], corpus.shift[k]
    return EventSample.of(records(texts, vectors, rng, corpus.baseline))


def fired(candidates: list[Finding], weights: list[float], q: float) -> tuple[bool, bool]:
    """(the prompt-embedding test fired, any finding fired) under weighted BH at q."""
    p = [f.p_value if f.p_value is not None else 1.0 for f in candidates]
    rejected = weighted_benjamini_hochberg(p, weights, q)
    ok = [r and (f.effect_size or 0.0) >= float(f.details.get("min_effect", 0.0))
          for f, r in zip(candidates, rejected, strict=True)]
    prompt = any(o for o, f in zip(ok, candidates, strict=True)
                 if f.metric == "prompt_embedding")
    return prompt, any(ok)


def theme_terms(corpus: Corpus, n: int = 15) -> set[str]:
    """The shift topic's most distinctive terms against the baseline prompts."""
    from llmwatch.detectors.explain import _label, _terms

    background = [_terms(t) for t in corpus.baseline_texts]
    df: dict[str, int] = {}
    for d in background:
        for term in d:
            df[term] = df.get(term, 0) + 1
    label = _label([_terms(t) for t in corpus.shift_texts], df, len(background), n_terms=n)
    return set(label.split(", "))


def named(prompt: Finding, theme: set[str], with_toward: bool) -> bool:
    """Does the explanation people read (its first three shifts) name a theme term?"""
    shifts = [x for x in prompt.details.get("shifts", [])
              if with_toward or x["kind"] != "toward"][:3]
    return any(term in theme for x in shifts for term in x["label"].split(", "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="emotion")
    parser.add_argument("--backend", default="static")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--refit-every", type=int, default=10,
                        help="windows judged against one baseline before a fresh one")
    args = parser.parse_args()
    run(args.topic, args.backend, args.trials, args.refit_every)


def run(topic: str, backend: str, trials: int, refit_every: int = 10) -> None:
    """The round's power and false alarms per design, and how often its explanation names
    the shifted topic's theme (`bench/drift_eval.py --round` calls this too)."""
    corpus = load_corpus(topic, backend=backend)
    config = DriftConfig()
    q = config.fdr_q
    print(f"{backend} vectors; baseline pool {len(corpus.baseline_texts)} chitchat prompts,"
          f" shift: {len(corpus.shift_texts)} chatterbot '{topic}' prompts; windows of {N};"
          f" q {q}; {trials} windows per condition\n", flush=True)
    rng = np.random.default_rng(7)
    designs = {"centroid alone": None, "round, plain BH": 0.0,
               f"round, weighted ({config.primary_weight})": config.primary_weight}
    results: dict[str, dict[float, list[tuple[bool, bool]]]] = {d: {} for d in designs}
    theme = theme_terms(corpus)
    naming: dict[float, list[tuple[bool, bool]]] = {s: [] for s in SHIFTS}
    tests = 0
    for share in (0.0, *SHIFTS):
        baseline = None
        for t in range(trials):
            if t % refit_every == 0:
                baseline = fit_baseline("bench", sample(corpus, rng), config)
            assert baseline is not None
            candidates = evaluate_window(baseline, sample(corpus, rng, share), config)
            tests = len(candidates)
            for design, weight in designs.items():
                if weight is None:
                    prompt = next(f for f in candidates if f.metric == "prompt_embedding")
                    hit = (prompt.p_value or 1.0) <= q
                    outcome = (hit, hit)
                else:
                    weights = (round_weights(candidates, weight) if weight > 0
                               else [1.0] * len(candidates))
                    outcome = fired(candidates, weights, q)
                results[design].setdefault(share, []).append(outcome)
            prompt = next(f for f in candidates if f.metric == "prompt_embedding")
            if share and outcome[0]:  # the last design: the round as the worker runs it
                naming[share].append((named(prompt, theme, False), named(prompt, theme, True)))
        print(f"  shift {share:.0%} done", flush=True)
    print(f"\n{tests} tests per round\n")
    alone = {s: np.mean([p for p, _ in results["centroid alone"][s]]) for s in SHIFTS}
    print(f"{'design':<26} {'false alarms (any)':>18} " + " ".join(
        f"{'power@' + format(s, '.0%'):>10} {'kept':>6}" for s in SHIFTS))
    for design in designs:
        r = results[design]
        false_alarm = np.mean([a for _, a in r[0.0]])
        cells = []
        for s in SHIFTS:
            power = np.mean([p for p, _ in r[s]])
            cells.append(f"{power:>10.3f} {power / max(alone[s], 1e-9):>6.0%}")
        print(f"{design:<26} {false_alarm:>18.3f} " + " ".join(cells))
    print(f"\nconfigured: q = {q}; kept = power ÷ the centroid test's alone (target ≥ 90 %)")
    print(f"\ntheme terms of '{topic}': {', '.join(sorted(theme))}")
    for share, rows in naming.items():
        if rows:
            print(f"  shift {share:.0%}: of {len(rows)} fired windows, the explanation names the "
                  f"theme in {np.mean([a for a, _ in rows]):.0%} by cluster shares alone, "
                  f"{np.mean([b for _, b in rows]):.0%} with the moved direction's terms")


if __name__ == "__main__":
    main()
