"""Drift within one register: a new subject in the same kind of text, per space and sample.

    python -m bench.within_register [--split dev|held-out] [--trials 50] [--samples 1,0.5]

Source: WordNet 3.0's noun glosses (Debian's `wordnet-base`, never used by llmwatch before),
one short definition each, all in the same dictionary style. Each gloss belongs to a theme
(WordNet's lexicographer file: food, plant, artifact, person, ...). Baseline traffic is glosses
of eight everyday themes; a shift is one other theme joining them at 5 %, 10 % or 20 % of a
window. Glosses are split by a hash of their synset into `dev` (to look at while building)
and `held-out` (read once, for the numbers quoted in the README).

For each space — the per-call static space, MiniLM through PyTorch (what "MiniLM everywhere"
reads), and the shipped int8 ONNX MiniLM the drift space runs — and each sample rate (a
window of 1,000 sampled calls either way: sampling changes how fast a window fills, and the
round reads what was sampled), it prints the worker's round's power (weighted BH across every
metric of the window, as `bench/drift_round_eval.py`), its false-alarm rate with no shift, and
how often the explanation of a fired window names the new theme.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.drift_round_eval import fired, named, sample, theme_terms
from bench.embedded_corpus import Corpus
from llmwatch.detectors.drift_monitor import (
    DriftConfig,
    evaluate_window,
    fit_baseline,
    round_weights,
)
from llmwatch.simulate import wordnet_glosses

BASELINE_THEMES = ("artifact", "person", "act", "communication", "state", "attribute",
                   "cognition", "location")
SHIFT_THEMES = ("food", "plant", "animal", "body")
N = 1000  # as drift_round_eval.sample draws
SHIFTS = (0.05, 0.10, 0.20)


def encoders() -> dict[str, object]:
    from llmwatch.embedding import make_embedder
    from llmwatch.onnx_embedding import OnnxMiniLM

    return {"static (per call)": make_embedder("static"),
            "MiniLM, PyTorch": make_embedder("minilm", batch_size=32),
            "MiniLM, ONNX int8": OnnxMiniLM.load(threads=2)}


def corpus(encoder: object, themes: dict[str, list[str]], shift: str, per_theme: int,
           rng: np.random.Generator) -> Corpus:
    base = [t for name in BASELINE_THEMES
            for t in rng.permutation(themes[name])[:per_theme].tolist()]
    moved = rng.permutation(themes[shift])[:per_theme].tolist()
    vectors = encoder.encode(base + moved)  # type: ignore[attr-defined]
    return Corpus(base, vectors[:len(base)], moved, vectors[len(base):])


def run(c: Corpus, trials: int, seed: int) -> dict[float, tuple[float, float]]:
    """share -> (round power, naming rate among fired windows); share 0: false alarms."""
    config = DriftConfig()
    rng = np.random.default_rng(seed)
    theme = theme_terms(c)
    out = {}
    for share in (0.0, *SHIFTS):
        hits, names = [], []
        for t in range(trials):
            if t % 10 == 0:
                baseline = fit_baseline("bench", sample(c, rng, 0.0), config)
            candidates = evaluate_window(baseline, sample(c, rng, share), config)
            prompt_fired, any_fired = fired(candidates, round_weights(
                candidates, config.primary_weight), config.fdr_q)
            hits.append(any_fired if share == 0 else prompt_fired)
            if share and prompt_fired:
                prompt = next(f for f in candidates if f.metric == "prompt_embedding")
                names.append(named(prompt, theme, True))
        out[share] = (float(np.mean(hits)), float(np.mean(names)) if names else float("nan"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "held-out"), default="dev")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--per-theme", type=int, default=600)
    parser.add_argument("--themes", default=",".join(SHIFT_THEMES))
    args = parser.parse_args()
    themes = wordnet_glosses(args.split)
    print(f"WordNet noun glosses, {args.split} split: baseline themes "
          f"{', '.join(BASELINE_THEMES)}; windows of {N}; {args.trials} windows per cell\n")
    print(f"{'space':<20} {'new theme':<10} {'false alarms':>12} "
          + " ".join(f"{'power@' + format(s, '.0%'):>10}" for s in SHIFTS)
          + " " + " ".join(f"{'named@' + format(s, '.0%'):>10}" for s in SHIFTS))
    for name, encoder in encoders().items():
        for k, shift in enumerate(args.themes.split(",")):
            started = time.perf_counter()
            c = corpus(encoder, themes, shift, args.per_theme, np.random.default_rng(k))
            result = run(c, args.trials, seed=100 + k)
            print(f"{name:<20} {shift:<10} {result[0.0][0]:>12.3f} "
                  + " ".join(f"{result[s][0]:>10.2f}" for s in SHIFTS) + " "
                  + " ".join(f"{result[s][1]:>10.2f}" for s in SHIFTS)
                  + f"   ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
