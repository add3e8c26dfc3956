"""Bytes from Kafka to a validated event, or a reason why not. Pure; no Kafka here."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from .events import EVENT_ADAPTER, FeedbackEvent, LLMEvent

MAX_EVENT_BYTES = 1_000_000


@dataclass(frozen=True)
class Rejected:
    """Why a message is not a valid event; it goes to the dead-letter topic with this reason."""

    reason: str


def decode_event(raw: bytes | None) -> LLMEvent | FeedbackEvent | Rejected:
    """Parse and validate one message value. Never raises for bad input."""
    if raw is None:
        return Rejected("empty message (null value)")
    if len(raw) > MAX_EVENT_BYTES:
        return Rejected(f"message is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(f"not UTF-8: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    if not isinstance(data, dict):
        return Rejected(f"expected a JSON object, got {type(data).__name__}")
    if "kind" not in data:
        return Rejected("missing 'kind' (expected 'llm_call' or 'feedback')")
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        return Rejected(_describe(exc))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "invalid event: " + "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
