"""Map OpenTelemetry GenAI span attributes (semantic conventions) onto an `LLMEvent`.

Covers the current conventions (`gen_ai.input.messages`, `gen_ai.usage.input_tokens`, ...)
and the older ones still emitted by many instrumentations (`gen_ai.prompt`,
`gen_ai.usage.prompt_tokens`, ...).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .events import ChatMessage, LLMEvent
from .ids import hash_id

_ROLES = {"system", "user", "assistant", "tool", "developer"}


def event_from_otel(
    attributes: Mapping[str, Any],
    *,
    app: str,
    start_time_unix_nano: int | None = None,
    end_time_unix_nano: int | None = None,
    id_salt: str | None = None,
) -> LLMEvent:
    """Build an `LLMEvent` from one GenAI span's attributes and its start/end times."""
    a = attributes
    model = _first(a, "gen_ai.request.model", "gen_ai.response.model")
    if not model:
        raise ValueError("span has no gen_ai.request.model: is this a GenAI span?")
    start = _time(start_time_unix_nano)
    latency = None
    if start_time_unix_nano is not None and end_time_unix_nano is not None:
        latency = max(0.0, (end_time_unix_nano - start_time_unix_nano) / 1e6)
    conversation = a.get("gen_ai.conversation.id")
    return LLMEvent(
        event_id=str(a.get("gen_ai.response.id") or uuid.uuid4()),
        timestamp=start,
        app=app,
        model=str(model),
        model_version=_str_or_none(a.get("gen_ai.response.model")),
        prompt_version=_str_or_none(a.get("llmwatch.prompt_version")),
        prompt=_prompt(a),
        response=_response(a),
        latency_ms=latency,
        input_tokens=_int(_first(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
        output_tokens=_int(
            _first(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
        ),
        finish_reason=_finish_reason(a),
        error=_str_or_none(a.get("error.type")),
        session_hash=hash_id(str(conversation), id_salt) if conversation and id_salt else None,
        tags=[t for t in [_str_or_none(a.get("gen_ai.operation.name"))] if t],
        metadata={
            k: v
            for k, v in {
                "provider": _first(a, "gen_ai.provider.name", "gen_ai.system"),
                "temperature": a.get("gen_ai.request.temperature"),
                "max_tokens": a.get("gen_ai.request.max_tokens"),
            }.items()
            if v is not None
        },
    )


def _prompt(a: Mapping[str, Any]) -> str | list[ChatMessage]:
    messages: list[ChatMessage] = []
    system = _load(a.get("gen_ai.system_instructions"))
    if system:
        text = _parts_text(system if isinstance(system, list) else [system])
        if text:
            messages.append(ChatMessage(role="system", content=text))
    for m in _load(a.get("gen_ai.input.messages")) or []:
        role = m.get("role", "user")
        text = _parts_text(m.get("parts", [])) if "parts" in m else str(m.get("content", ""))
        messages.append(ChatMessage(role=role if role in _ROLES else "user", content=text))
    if messages:
        return messages
    legacy = a.get("gen_ai.prompt")
    if legacy:
        return str(legacy)
    raise ValueError("span has neither gen_ai.input.messages nor gen_ai.prompt")


def _response(a: Mapping[str, Any]) -> str | None:
    outputs = _load(a.get("gen_ai.output.messages"))
    if outputs:
        return "\n".join(_parts_text(m.get("parts", [])) for m in outputs)
    return _str_or_none(a.get("gen_ai.completion"))


def _finish_reason(a: Mapping[str, Any]) -> str | None:
    reasons = a.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, str):
        reasons = _load(reasons) if reasons.startswith("[") else [reasons]
    if reasons:
        return str(reasons[0])
    outputs = _load(a.get("gen_ai.output.messages")) or []
    return next((str(m["finish_reason"]) for m in outputs if m.get("finish_reason")), None)


def _parts_text(parts: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(str(p.get("content", "")) for p in parts if p.get("type", "text") == "text")


def _load(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"GenAI attribute is not valid JSON: {exc.msg}") from exc
    return value


def _first(a: Mapping[str, Any], *keys: str) -> Any:
    return next((a[k] for k in keys if a.get(k) is not None), None)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(unix_nano: int | None) -> datetime:
    if unix_nano is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(unix_nano / 1e9, UTC)
