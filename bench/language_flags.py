"""False flags on ordinary chat, per language, through the worker's own scoring at its defaults.

Sources, both never read by any of llmwatch's checks or heads, written per language by people
(not machine-translated):

- chatterbot-corpus (already a server dependency), its conversations in 27 languages other
  than English (the simulator uses its English topics only): each line as a prompt with the
  next line as the answer, and each conversation as one passage a tool returned after a
  user's request — greetings, small talk and questions about food, science, history, money;
- Debian's translated manual pages in 24 languages (`corpora/man_pages.py`): a paragraph of
  technical prose as a pasted prompt, and as what a tool returned.

Every flag is a false flag.

    python -m bench.language_flags [--source chat|man|both] [--languages vi,ro] [--split dev]

Prints, per language and shape: calls, each content check's flag rate and "any check",
with Wilson 95 % intervals.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from bench import results
from corpora import man_pages
from corpora.chat_languages import calls, conversations, languages
from llmwatch.config import EmbeddingSettings, QualitySettings
from llmwatch.schemas import LLMEvent
from llmwatch.streams.analysis import LocalAnalyser, local_analyser

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
    parser.add_argument("--languages", default="", help="comma-separated; default: all")
    parser.add_argument("--source", choices=("chat", "man", "both"), default="both")
    parser.add_argument("--split", choices=("dev", "held-out"), default="dev",
                        help="the manual pages' split (held-out: the final measurement only)")
    parser.add_argument("--passages", type=int, default=400,
                        help="manual-page passages per language and shape")
    args = parser.parse_args()
    wanted = [x for x in args.languages.split(",") if x]
    analyser = local_analyser(EmbeddingSettings(), QualitySettings())
    header = f"{'language':<22} {'shape':<7} {'calls':>6}  " + "  ".join(
        f"{c[:18]:>18}" for c in (*CHECKS, "any check"))
    rows: list[tuple[str, str, str, dict[str, int], int]] = []
    if args.source in ("chat", "both"):
        print("chatterbot-corpus: chat lines as prompts, conversations as tool messages")
        print(header)
        for language in wanted or languages():
            convs = conversations(language)
            for shape in ("prompt", "tool"):
                rows.append(("chat", language, shape,
                             *measure(analyser, calls(convs, shape), language, shape)))
    if args.source in ("man", "both"):
        print(f"\nDebian's translated manual pages ({args.split} split): a paragraph as a "
              "pasted prompt and as a tool message")
        print(header)
        for code in wanted or man_pages.installed():
            texts = man_pages.sample(code, args.passages, args.split)
            for shape in ("prompt", "tool"):
                rows.append(("man", man_pages.LANGUAGES[code], shape, *measure(
                    analyser, man_pages.calls(texts, shape), man_pages.LANGUAGES[code], shape)))
    if not wanted and args.source == "both":
        measured: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
        for source, language, shape, flagged, n in rows:
            measured.setdefault(source, {}).setdefault(language, {})[shape] = {
                "calls": n, **{c: int(flagged[c]) for c in (*CHECKS, "any check")}}
        path = results.write("language_flags", {"man_split": args.split,
                                                "man_passages": args.passages, **measured})
        print(f"wrote {path}; `python -m bench.trust_table` puts it in the README")
    for source in ("chat", "man"):
        for shape in ("prompt", "tool"):
            picked = [r for r in rows if r[0] == source and r[2] == shape]
            if picked:
                k, n = sum(r[3]["any check"] for r in picked), sum(r[4] for r in picked)
                worst = max(picked, key=lambda r: r[3]["any check"] / max(r[4], 1))
                print(f"{source} {shape}: pooled any check {rate(k, n)} % of {n}; worst "
                      f"{worst[1]} {rate(worst[3]['any check'], worst[4])} %")


def measure(analyser: LocalAnalyser, events: list[LLMEvent], language: str,
            shape: str) -> tuple[dict[str, int], int]:
    flagged: dict[str, int] = defaultdict(int)
    for i in range(0, len(events), 64):
        for item in analyser(events[i:i + 64]).items:
            hit = [c for c in CHECKS if c in item.scores and item.scores[c].flagged]
            for c in hit:
                flagged[c] += 1
            flagged["any check"] += bool(hit)
    n = len(events)
    print(f"{language:<22} {shape:<7} {n:>6}  " + "  ".join(
        f"{rate(flagged[c], n):>18}" for c in (*CHECKS, "any check")), flush=True)
    return flagged, n


if __name__ == "__main__":
    main()
