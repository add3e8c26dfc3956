"""The plain part of the client integrations: a finished call → an `LLMEvent`, and the
guard that keeps monitoring's own failures out of the app."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmwatch.schemas import LLMEvent

from .prices import Prices

log = logging.getLogger("llmwatch.integrations")
_ROLES = {"system", "user", "assistant", "tool", "developer"}


@dataclass
class Call:
    """What a client integration saw of one call."""

    model: str
    messages: list[dict[str, Any]]
    started: datetime
    latency_ms: float | None = None
    response: str | None = None
    model_version: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    error: str | None = None
    response_id: str | None = None
    streamed: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def event_of(call: Call, *, app: str, prices: Prices | None,
             prompt_version: str | None = None, tags: Iterable[str] = ()) -> LLMEvent:
    cost = None
    if prices is not None:
        cost = prices.cost_usd(call.model_version or call.model, call.input_tokens,
                               call.output_tokens)
    metadata = {k: v for k, v in {"response_id": call.response_id,
                                  "streamed": call.streamed or None,
                                  **call.metadata}.items() if v is not None}
    return LLMEvent(
        event_id=str(uuid.uuid4()), timestamp=call.started, app=app, model=call.model,
        model_version=call.model_version, prompt_version=prompt_version,
        prompt=chat_messages(call.messages) or "(no messages)", response=call.response,
        latency_ms=call.latency_ms, input_tokens=call.input_tokens,
        output_tokens=call.output_tokens, cost_usd=cost, finish_reason=call.finish_reason,
        error=None if call.error is None else call.error[:2_000], tags=list(tags),
        metadata=metadata)


def chat_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """OpenAI-style messages as the contract's: text parts joined, tool calls named, roles
    the contract does not know ("function") read as tool output."""
    out = []
    for m in messages:
        role = str(m.get("role") or "user")
        role = role if role in _ROLES else ("tool" if role == "function" else "user")
        text = content_text(m.get("content"))
        calls = m.get("tool_calls") or []
        if calls:
            names = ", ".join(str((c.get("function") or {}).get("name", "?"))
                              for c in calls if isinstance(c, Mapping))
            text = (text + "\n" if text else "") + f"[tool calls: {names}]"
        out.append({"role": role, "content": text})
    return out


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, Mapping):
                if p.get("type") in ("text", "input_text", "output_text") or "text" in p:
                    parts.append(str(p.get("text", "")))
                else:
                    parts.append(f"[{p.get('type', 'part')}]")
            elif isinstance(p, str):
                parts.append(p)
        return "\n".join(parts)
    return str(content)


class Guard:
    """Monitoring never raises into the app: a failure of its own is counted and said once
    per kind."""

    def __init__(self) -> None:
        self.failures = 0
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def run(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the app's call must go on whatever happens
            with self._lock:
                self.failures += 1
                first = type(exc).__name__ not in self._said
                self._said.add(type(exc).__name__)
            if first:
                log.warning("llmwatch: a call was not recorded (%s: %s: %s); the app is not "
                            "affected", what, type(exc).__name__, exc)
            return None
