"""False flags on ordinary chat, per language, through the worker's own scoring at its defaults.

Source: chatterbot-corpus (already a server dependency), its conversations in 27 languages
other than English — written by its contributors per language, not machine-translated, and
never read by any of llmwatch's checks or heads (the simulator uses its English topics only).
Two shapes per language: each line as a prompt with the next line as the answer, and each
conversation as one passage a tool returned after a user's request. Every flag is a false
flag: the texts are greetings, small talk and questions about food, science, history, money.

    python -m bench.language_flags [--languages turkish,hindi]

Prints, per language and shape: calls, each content check's flag rate and "any check",
with Wilson 95 % intervals.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from corpora.chat_languages import calls, conversations, languages
from llmwatch.config import EmbeddingSettings, QualitySettings
from llmwatch.streams.analysis import local_analyser

CHECKS = ("injection", "refusal", "toxicity", "harmful_answer", "pii_prompt", "pii_response",
          "relevance", "language_mismatch")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{100 * k / max(n, 1):5.1f} ({100 * lo:.1f}–{100 * hi:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="", help="comma-separated; default: all 27")
    args = parser.parse_args()
    chosen = [x for x in args.languages.split(",") if x] or languages()
    analyser = local_analyser(EmbeddingSettings(), QualitySettings())
    header = f"{'language':<18} {'shape':<7} {'calls':>6}  " + "  ".join(
        f"{c[:18]:>18}" for c in (*CHECKS, "any check"))
    print(header)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for language in chosen:
        convs = conversations(language)
        for shape in ("prompt", "tool"):
            events = calls(convs, shape)
            flagged: dict[str, int] = defaultdict(int)
            for i in range(0, len(events), 64):
                for item in analyser(events[i:i + 64]).items:
                    hit = [c for c in CHECKS if c in item.scores and item.scores[c].flagged]
                    for c in hit:
                        flagged[c] += 1
                    flagged["any check"] += bool(hit)
            n = len(events)
            totals[shape][0] += flagged["any check"]
            totals[shape][1] += n
            print(f"{language:<18} {shape:<7} {n:>6}  " + "  ".join(
                f"{rate(flagged[c], n):>18}" for c in (*CHECKS, "any check")), flush=True)
    for shape, (k, n) in totals.items():
        print(f"pooled {shape}: any check {rate(k, n)} % of {n}")


if __name__ == "__main__":
    main()
