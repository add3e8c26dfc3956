"""Retraining tickets: when a problem persists, a ticket the ML team can act on — with its
evidence and a ready fine-tuning dataset of the examples that failed.

Pure: the policy (`should_open`), the suggested action, and the dataset (chat fine-tuning
JSONL: deduplicated, PII-redacted, stratified by cluster) with its validator. Storage and
sinks are edges (streams/ticket_stage.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from llmwatch.detectors.redact import DEFAULT_PRIVACY, Privacy

from .decision import Alert

ROLES = {"system", "user", "assistant"}


@dataclass(frozen=True)
class TicketPolicy:
    consecutive_windows: int = 3  # the same alert firing this many windows in a row
    max_examples: int = 200
    privacy: Privacy = DEFAULT_PRIVACY  # examples in datasets: redacted, left out, or raw

    def __post_init__(self) -> None:
        if self.consecutive_windows < 1 or self.max_examples < 1:
            raise ValueError("consecutive_windows and max_examples must be at least 1")


def should_open(alert: Alert, streak: int, policy: TicketPolicy) -> bool:
    """A retraining ticket: for the model's problems, never llmwatch's own (watchdog)."""
    return alert.detector != "watchdog" and alert.firing and alert.severity in (
        "warning", "critical") and (
        streak >= policy.consecutive_windows)


def suggested_action(detector: str, metric: str, new_topic: bool) -> str:
    if detector in ("embedding_drift", "online_drift", "version_change"):
        return ("add a knowledge source or fine-tune on the new topic" if new_topic
                else "investigate what changed in the traffic, then fine-tune or change the prompt")
    if metric.startswith(("refusal", "relevance", "language_mismatch", "invalid_json",
                          "truncated", "repetition")):
        return "change the prompt, then fine-tune on corrected answers if it persists"
    if metric.startswith("harmful_answer"):
        return ("add a guardrail; fine-tune on refusals of these requests (the dataset holds "
                "the harmful answers themselves: replace them, never train on them as they are)")
    if metric.startswith(("pii", "toxicity", "injection")):
        return "investigate and add a guardrail; fine-tune on safe answers"
    if metric.startswith("negative_feedback"):
        return "review the disliked answers, then fine-tune on corrected ones"
    return "investigate"


@dataclass(frozen=True)
class Example:
    event_id: str
    messages: Sequence[dict[str, str]]  # the prompt as chat messages (system/user/assistant)
    response: str
    cluster: str = ""


def dataset(examples: Iterable[Example], max_examples: int = 200,
            privacy: Privacy = DEFAULT_PRIVACY) -> list[str]:
    """Chat fine-tuning JSONL lines: {"messages": [..., {"role": "assistant", ...}]}.

    Duplicate prompts are kept once; text is shown as the privacy policy says (redacted by
    default; no lines at all under `examples = none`); clusters take turns so no single
    topic crowds out the others.
    """
    if privacy.examples == "none":
        return []
    by_cluster: dict[str, list[Example]] = {}
    seen: set[str] = set()
    for ex in examples:
        key = _normalise(" ".join(m["content"] for m in ex.messages))
        if not key or key in seen or not ex.response.strip():
            continue
        seen.add(key)
        by_cluster.setdefault(ex.cluster, []).append(ex)
    lines = []
    for round_ in zip_longest(*by_cluster.values()):
        for ex in round_:
            if ex is None:
                continue
            messages = [{"role": m["role"], "content": privacy.show(m["content"]) or ""}
                        for m in ex.messages if m["role"] in ROLES and m["content"].strip()]
            messages.append({"role": "assistant", "content": privacy.show(ex.response) or ""})
            lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
            if len(lines) == max_examples:
                return lines
    return lines


def validate_line(line: str) -> None:
    """Raise ValueError unless `line` is one chat fine-tuning example."""
    doc = json.loads(line)
    if set(doc) != {"messages"} or not isinstance(doc["messages"], list):
        raise ValueError("a line must be an object with only 'messages', a list")
    messages: list[Any] = doc["messages"]
    if len(messages) < 2:
        raise ValueError("an example needs at least a user and an assistant message")
    for m in messages:
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            raise ValueError("each message has exactly 'role' and 'content'")
        if m["role"] not in ROLES or not isinstance(m["content"], str) or not m["content"]:
            raise ValueError(f"bad message: {m!r}")
    if messages[-1]["role"] != "assistant" or not any(m["role"] == "user" for m in messages):
        raise ValueError("an example ends with the assistant and has a user message")


def _normalise(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()
