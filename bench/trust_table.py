"""The README's trust table, written from what the benches measured (`bench/results/*.json`):
per check, per tier and per language — never typed by hand (`tests/test_trust_table.py`
checks the README holds exactly what this renders).

    python -m bench.quality_eval --backend static   # per check
    python -m bench.language_flags                  # per language
    python -m bench.second_opinion_eval             # per tier
    python -m bench.trust_table                     # rewrite the README's table
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import results
from llmwatch.detectors.second_opinion import wilson

README = Path(__file__).parents[1] / "README.md"
BEGIN = "<!-- trust-table: written by `python -m bench.trust_table` from bench/results; do not edit -->"
END = "<!-- trust-table: end -->"
# the checks' rows the table shows: held-out splits and sources never tuned to
SHOWN = ("held-out", "never tuned")


def pct(k: int, n: int) -> str:
    if n == 0:
        return "—"
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.1f} % [{100 * lo:.1f}–{100 * hi:.1f}]"


def ratio(k: int, n: int) -> str:
    if n == 0:
        return "—"
    lo, hi = wilson(k, n)
    return f"{k / n:.2f} [{lo:.2f}–{hi:.2f}]"


def checks_table(data: dict[str, Any] | None) -> list[str]:
    if data is None:
        return ["*Per check: not measured yet (`python -m bench.quality_eval --backend static`).*"]
    out = [f"**Per check** (the cheap checks on every call, static backend; "
           f"`bench/quality_eval.py`, measured {data['measured']}):", "",
           "| check | rows | attacks / benign | recall [95 % CI] | precision [95 % CI] |",
           "|---|---|---|---|---|"]
    for r in data["rows"]:
        if not r["rows"].startswith(SHOWN) or r["check"] in ("word list", "tox+harm"):
            continue
        tp, fp, pos = r["true_positives"], r["false_positives"], r["positives"]
        out.append(f"| {r['check']} | {r['rows']} | {pos} / {r['negatives']} | "
                   f"{ratio(tp, pos)} | {ratio(tp, tp + fp)} |")
    benign = data.get("benign") or {}
    if benign:
        out += ["", "Flag rate of any check on benign traffic (% of calls): " + ", ".join(
            f"{kind} {rates['any']:.1f}" for kind, rates in benign.items()) + "."]
    return out


def tiers_table(data: dict[str, Any] | None) -> list[str]:
    if data is None:
        return ["*Per tier: not measured yet (`python -m bench.second_opinion_eval`).*"]
    out = [f"**Per tier**, injection planted in documents and tool output (sources never "
           f"tuned to; `bench/second_opinion_eval.py`, measured {data['measured']}). The "
           "reader's verdict can add a flag to the cheap check's, so the tier gives "
           "*either*:", "",
           "| source | calls | cheap check | reader | either |", "|---|---|---|---|---|"]
    for source, labels in data["injection"].items():
        for label, m in labels.items():
            n = m["calls"]
            out.append(f"| {source}, {label} | {n} | {pct(m['rules'], n)} | "
                       f"{pct(m['reader'], n)} | {pct(m['either'], n)} |")
    return out


def languages_table(data: dict[str, Any] | None) -> list[str]:
    if data is None:
        return ["*Per language: not measured yet (`python -m bench.language_flags`).*"]
    rows: dict[str, dict[str, dict[str, int]]] = {}
    for source in ("chat", "man"):
        for language, shapes in (data.get(source) or {}).items():
            key = language.lower().split(" (")[0]
            for shape, m in shapes.items():
                rows.setdefault(key, {})[f"{source} {shape}"] = m
    columns = ("chat prompt", "chat tool", "man prompt", "man tool")
    out = [f"**Per language**: calls any check flagged on ordinary text (the bar: ≤ 1 %), "
           f"chat lines (chatterbot-corpus) and technical prose (Debian's translated manual "
           f"pages, {data['man_split']} split), as a prompt and as a tool message "
           f"(`bench/language_flags.py`, measured {data['measured']}):", "",
           "| language | chat, prompt | chat, tool | manual, prompt | manual, tool |",
           "|---|---|---|---|---|"]
    for language in sorted(rows):
        cells = []
        for c in columns:
            m = rows[language].get(c)
            cells.append("—" if m is None else pct(m["any check"], m["calls"]))
        out.append(f"| {language} | " + " | ".join(cells) + " |")
    return out


def render() -> str:
    parts = [checks_table(results.read("quality_eval")),
             tiers_table(results.read("second_opinion")),
             languages_table(results.read("language_flags"))]
    return "\n".join([BEGIN, *("\n".join(p) + "\n" for p in parts), END])


def block(text: str) -> str | None:
    """The table as the README holds it (None: no markers)."""
    if BEGIN not in text or END not in text:
        return None
    start = text.index(BEGIN)
    return text[start:text.index(END, start) + len(END)]


def main() -> None:
    text = README.read_text()
    current = block(text)
    if current is None:
        raise SystemExit(f"README.md has no trust table markers ({BEGIN!r} … {END!r})")
    README.write_text(text.replace(current, render()))
    print(f"wrote the trust table into {README}")


if __name__ == "__main__":
    main()
