"""chatterbot-corpus's conversations in the 27 languages other than English: chat lines written
per language by its contributors (not machine-translated), never read by any of llmwatch's
checks or heads (the simulator uses its English topics only). Read by
`bench/language_flags.py` and by the per-language gate test. Some files mix in English lines
(the Swedish ones hold English small talk): a language's lines are what its folder holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

import yaml

from llmwatch.schemas import LLMEvent

TOOL_ASK = "Go through the document I shared and tell me what it says."


def conversations(language: str) -> list[list[str]]:
    folder = resources.files("chatterbot_corpus").joinpath("data", language)
    out = []
    for f in sorted(folder.iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".yml"):
            continue
        doc: dict[str, Any] = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for conv in doc.get("conversations") or []:
            lines = [str(x).strip() for x in conv if x is not None and str(x).strip()]
            if lines:
                out.append(lines)
    return out


def languages() -> list[str]:
    folder = resources.files("chatterbot_corpus").joinpath("data")
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "english")


def calls(convs: list[list[str]], shape: str) -> list[LLMEvent]:
    now = datetime.now(UTC)
    made = []
    for conv in convs:
        if shape == "prompt":
            pairs = [(conv[i], conv[i + 1]) for i in range(len(conv) - 1)] or [(conv[0], "…")]
            made += [(p, r) for p, r in pairs]
        else:
            made.append(([{"role": "user", "content": TOOL_ASK},
                          {"role": "tool", "content": "\n".join(conv)}], "…"))
    return [LLMEvent(event_id=str(i), timestamp=now, app="a", model="m", prompt=p, response=r,
                     latency_ms=500, cost_usd=0.001, finish_reason="stop")
            for i, (p, r) in enumerate(made)]
