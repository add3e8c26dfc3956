"""What the second opinion's reader adds on documents with planted instructions.

    python -m bench.second_opinion_eval [--benign 1500]

Sources never tuned to (evaluation only; nothing in training reads them): inspect-evals'
agents reading tools (54 calls with a planted instruction, 15 without) and bastioncorpus's
attacks arriving in tool output or memory (English and German, French, Spanish, Italian),
and its own benign look-alikes sent the same way. Benign documents: the benign-traffic
bench's held-out documents (news, the standard library's documentation, everyday answers),
each sent as a tool message after an ask. For each: the cheap check through the worker's
own path (`score_events`), the reader (`llmwatch.evaluators.MiniLMReader`), and either —
the reader's verdict decides the calls it judged (the best tier), so the tier's recall is
the reader's; "either" is what keeping the cheap flag as well would give. 95 % Wilson
intervals.
"""

from __future__ import annotations

import argparse
import random
import time

from bench import results
from bench.quality_eval import agent_call, bastion_call, scored
from corpora.benign_traffic import kinds
from corpora.quality_data import agent_documents, bastion_corpus
from llmwatch.detectors.quality import ExemplarIndex, QualityConfig
from llmwatch.detectors.second_opinion import Call, wilson
from llmwatch.embedding import make_embedder
from llmwatch.evaluators import MiniLMReader

ASK = "Go through the document I shared and tell me what I need to do."


def as_call(i: int, prompt: object) -> Call:
    if isinstance(prompt, str):
        return Call(str(i), prompt, "…")
    user = [m["content"] for m in prompt if m["role"] == "user"]  # type: ignore[index,union-attr]
    tools = tuple(m["content"] for m in prompt if m["role"] == "tool")  # type: ignore[index,union-attr]
    return Call(str(i), user[-1] if user else "", "…", documents=tools)


def rate(flags: list[bool]) -> str:
    k, n = sum(flags), len(flags)
    lo, hi = wilson(k, n)
    return f"{k / max(n, 1):6.1%} [{lo:.1%}–{hi:.1%}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benign", type=int, default=1500, help="benign documents")
    args = parser.parse_args()
    embedder = make_embedder("static")
    index = ExemplarIndex.of(embedder)
    config = QualityConfig()
    reader = MiniLMReader.load(threads=2)

    groups: dict[str, list[tuple[object, bool]]] = {}
    for c in agent_documents():
        groups.setdefault("agents' tools (inspect-evals)", []).append((agent_call(c)[0], c.malicious))
    for r in bastion_corpus():
        if r.channel == "user_input" and r.malicious:
            continue
        name = "bastioncorpus, tool output and memory" + ("" if r.lang == "en" else " (de/fr/es/it)")
        groups.setdefault(name, []).append((bastion_call(r)[0], r.malicious))
    docs = kinds(random.Random(7), args.benign)["documents"]
    groups["benign documents (held-out), as tool messages"] = [
        ([{"role": "user", "content": ASK}, {"role": "tool", "content": doc}], False)
        for _, doc in ((p, p.split("\n", 1)[-1]) for p, _ in docs)]

    print(f"{'source':<52} {'calls':>5}  {'cheap check':>22} {'reader':>22} {'either':>22}")
    measured: dict[str, dict[str, dict[str, int]]] = {}
    for name, rows in groups.items():
        started = time.perf_counter()
        cheap = [s["injection"].flagged for s in scored(
            embedder, index, config, [(p, "…") for p, _ in rows])]  # type: ignore[misc]
        read = [v.flagged for i, (p, _) in enumerate(rows)
                for v in reader.judge(as_call(i, p)).verdicts] if rows else []
        ms = 1000 * (time.perf_counter() - started) / max(len(rows), 1)
        for label, positive in (("planted", True), ("nothing planted", False)):
            idx = [i for i, (_, y) in enumerate(rows) if y == positive]
            if not idx:
                continue
            c, r = [cheap[i] for i in idx], [read[i] for i in idx]
            e = [a or b for a, b in zip(c, r, strict=True)]
            measured.setdefault(name, {})[label] = {
                "calls": len(idx), "rules": sum(c), "reader": sum(r), "either": sum(e)}
            print(f"{name[:40] + ', ' + label:<52} {len(idx):>5}  {rate(c):>22} {rate(r):>22} "
                  f"{rate(e):>22}")
        print(f"{'':<52} ({ms:.0f} ms a call, both)")
    path = results.write("second_opinion", {"injection": measured})
    print(f"wrote {path}; `python -m bench.trust_table` puts it in the README")


if __name__ == "__main__":
    main()
