"""Map an OpenTelemetry span of an LLM call onto an `LLMEvent`, in each dialect in use.

- the GenAI semantic conventions as they are now (`gen_ai.input.messages`,
  `gen_ai.output.messages`, `gen_ai.usage.input_tokens`, …; OpenLLMetry ≥ 0.50 and the
  official `opentelemetry-instrumentation-openai-v2`);
- the numbered attributes older OpenLLMetry releases and many others still write
  (`gen_ai.prompt.0.role` / `.content`, `gen_ai.completion.0.content` / `.finish_reason`,
  `gen_ai.usage.prompt_tokens`, `llm.usage.total_tokens`) and the single-string
  `gen_ai.prompt` / `gen_ai.completion`;
- OpenInference (Arize Phoenix's instrumentations): `llm.model_name`,
  `llm.input_messages.N.message.role` / `.content`, `llm.output_messages.N.message.content`,
  `llm.token_count.prompt` / `.completion`, and `input.value` / `output.value` when no
  messages are recorded.

`genai_dialect(attributes)` says which one a span speaks (None: not an LLM call, e.g. an
HTTP span); `event_from_otel` raises `ValueError` with the reason when a span cannot be an
event. A span's identity (trace and span id) is the event id when it is given, so a span
delivered twice is one call; else the response id.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .events import ChatMessage, LLMEvent
from .ids import hash_id

_ROLES = {"system", "user", "assistant", "tool", "developer"}
_NUMBERED = re.compile(r"^(gen_ai\.(?:prompt|completion))\.(\d+)\.(\w+)$")
_OPENINFERENCE = re.compile(r"^llm\.(input|output)_messages\.(\d+)\.message\.(\w+)$")
DIALECTS = ("genai", "genai-numbered", "openinference")


def genai_dialect(attributes: Mapping[str, Any]) -> str | None:
    """The dialect of an LLM call's span ("genai", "genai-numbered", "openinference"), or
    None when the span is not an LLM call."""
    a = attributes
    kind = a.get("openinference.span.kind")
    if kind is not None:
        return "openinference" if str(kind).upper() == "LLM" else None
    if a.get("llm.model_name") is not None or any(_OPENINFERENCE.match(k) for k in a):
        return "openinference"
    if not (a.get("gen_ai.request.model") or a.get("gen_ai.response.model")):
        return None
    if any(_NUMBERED.match(k) for k in a):
        return "genai-numbered"
    return "genai"


def event_from_otel(
    attributes: Mapping[str, Any],
    *,
    app: str,
    start_time_unix_nano: int | None = None,
    end_time_unix_nano: int | None = None,
    trace_id: int | str | None = None,
    span_id: int | str | None = None,
    error: str | None = None,
    id_salt: str | None = None,
) -> LLMEvent:
    """Build an `LLMEvent` from one LLM span: its attributes, start and end times, identity
    and, if the span's status was an error, its description (`error`)."""
    a = attributes
    dialect = genai_dialect(a)
    if dialect is None:
        raise ValueError("span has no gen_ai.request.model, llm.model_name or "
                         "openinference.span.kind=LLM: is this an LLM call's span?")
    read = _openinference if dialect == "openinference" else _genai
    fields = read(a)
    if not fields.get("model"):
        raise ValueError(f"{dialect} span names no model")
    start = _time(start_time_unix_nano)
    latency = None
    if start_time_unix_nano is not None and end_time_unix_nano is not None:
        latency = max(0.0, (end_time_unix_nano - start_time_unix_nano) / 1e6)
    response_id = fields.pop("response_id", None)
    conversation = _first(a, "gen_ai.conversation.id", "session.id")
    metadata = {k: v for k, v in {
        "provider": fields.pop("provider", None),
        "temperature": fields.pop("temperature", None),
        "max_tokens": fields.pop("max_tokens", None),
        "response_id": response_id,
        "otel_dialect": dialect,
    }.items() if v is not None}
    return LLMEvent(
        event_id=_event_id(trace_id, span_id, response_id),
        timestamp=start,
        app=app,
        latency_ms=latency,
        error=error or _str_or_none(a.get("error.type")),
        prompt_version=_str_or_none(a.get("llmwatch.prompt_version")),
        session_hash=hash_id(str(conversation), id_salt) if conversation and id_salt else None,
        tags=[t for t in [_str_or_none(_first(a, "gen_ai.operation.name", "llm.request.type"))]
              if t],
        metadata=metadata,
        **fields,
    )


def _event_id(trace_id: int | str | None, span_id: int | str | None,
              response_id: str | None) -> str:
    if trace_id and span_id:
        t = f"{trace_id:032x}" if isinstance(trace_id, int) else str(trace_id)
        s = f"{span_id:016x}" if isinstance(span_id, int) else str(span_id)
        return f"otel-{t}-{s}"
    return response_id or str(uuid.uuid4())


# --- the GenAI conventions, current and older --------------------------------------------

def _genai(a: Mapping[str, Any]) -> dict[str, Any]:
    numbered = _numbered(a)
    return {
        "model": _str_or_none(_first(a, "gen_ai.request.model", "gen_ai.response.model")),
        "model_version": _str_or_none(a.get("gen_ai.response.model")),
        "prompt": _genai_prompt(a, numbered.get("gen_ai.prompt", [])),
        "response": _genai_response(a, numbered.get("gen_ai.completion", [])),
        "input_tokens": _int(_first(a, "gen_ai.usage.input_tokens",
                                    "gen_ai.usage.prompt_tokens")),
        "output_tokens": _int(_first(a, "gen_ai.usage.output_tokens",
                                     "gen_ai.usage.completion_tokens")),
        "finish_reason": _genai_finish(a, numbered.get("gen_ai.completion", [])),
        "response_id": _str_or_none(a.get("gen_ai.response.id")),
        "provider": _first(a, "gen_ai.provider.name", "gen_ai.system"),
        "temperature": a.get("gen_ai.request.temperature"),
        "max_tokens": a.get("gen_ai.request.max_tokens"),
    }


def _numbered(a: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """`gen_ai.prompt.1.content` → {"gen_ai.prompt": [{}, {"content": …}]}, in index order."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in a.items():
        m = _NUMBERED.match(key)
        if m:
            found.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = value
    return {prefix: [items[i] for i in sorted(items)] for prefix, items in found.items()}


def _genai_prompt(a: Mapping[str, Any],
                  numbered: list[dict[str, Any]]) -> str | list[ChatMessage]:
    messages: list[ChatMessage] = []
    system = _load(a.get("gen_ai.system_instructions"))
    if system:
        text = _parts_text(system if isinstance(system, list) else [system])
        if text:
            messages.append(ChatMessage(role="system", content=text))
    for m in _load(a.get("gen_ai.input.messages")) or []:
        text = _parts_text(m.get("parts", [])) if "parts" in m else _content(m.get("content"))
        messages.append(_message(m.get("role"), text))
    messages += [_message(m.get("role"), _content(m.get("content"))) for m in numbered
                 if m.get("content") is not None]
    if messages:
        return messages
    legacy = a.get("gen_ai.prompt")
    if legacy:
        return str(legacy)
    raise ValueError("span has neither gen_ai.input.messages, gen_ai.prompt.N.content nor "
                     "gen_ai.prompt (is message capture off in the instrumentation? "
                     "OpenLLMetry: TRACELOOP_TRACE_CONTENT=true; the official one: "
                     "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true)")


def _genai_response(a: Mapping[str, Any], numbered: list[dict[str, Any]]) -> str | None:
    outputs = _load(a.get("gen_ai.output.messages"))
    if outputs:
        return "\n".join(_parts_text(m.get("parts", [])) for m in outputs)
    texts = [_content(m["content"]) for m in numbered if m.get("content") is not None]
    if texts:
        return "\n".join(texts)
    return _str_or_none(a.get("gen_ai.completion"))


def _genai_finish(a: Mapping[str, Any], numbered: list[dict[str, Any]]) -> str | None:
    reasons = a.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, str):
        reasons = _load(reasons) if reasons.startswith("[") else [reasons]
    if reasons:
        return str(reasons[0])
    outputs = _load(a.get("gen_ai.output.messages")) or []
    found = next((str(m["finish_reason"]) for m in outputs if m.get("finish_reason")), None)
    return found or next((str(m["finish_reason"]) for m in numbered
                          if m.get("finish_reason")), None)


# --- OpenInference -----------------------------------------------------------------------

def _openinference(a: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in a.items():
        m = _OPENINFERENCE.match(key)
        if m:
            found.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = value
    inputs = [found.get("input", {})[i] for i in sorted(found.get("input", {}))]
    outputs = [found.get("output", {})[i] for i in sorted(found.get("output", {}))]
    request = _json_or_none(a.get("input.value"), a.get("input.mime_type"))
    reply = _json_or_none(a.get("output.value"), a.get("output.mime_type"))
    params = _json_or_none(a.get("llm.invocation_parameters"), "application/json") or {}
    prompt: str | list[ChatMessage]
    if inputs:
        prompt = [_message(m.get("role"), _content(m.get("content"))) for m in inputs]
    elif isinstance(request, dict) and isinstance(request.get("messages"), list):
        prompt = [_message(m.get("role"), _content(m.get("content")))
                  for m in request["messages"] if isinstance(m, dict)]
    elif a.get("input.value"):
        prompt = str(a["input.value"]) if request is None else json.dumps(request)
    else:
        raise ValueError("OpenInference span has neither llm.input_messages nor input.value "
                         "(is OPENINFERENCE_HIDE_INPUTS or _HIDE_INPUT_MESSAGES set?)")
    response: str | None = None
    if outputs:
        response = "\n".join(_content(m.get("content")) for m in outputs)
    elif isinstance(reply, dict) and reply.get("choices"):
        response = "\n".join(_content((c.get("message") or {}).get("content"))
                             for c in reply["choices"] if isinstance(c, dict))
    elif a.get("output.value") is not None and reply is None:
        response = str(a["output.value"])
    choices = reply.get("choices") if isinstance(reply, dict) else None
    finish = a.get("llm.finish_reason") or next(
        (c.get("finish_reason") for c in choices or [] if isinstance(c, dict)), None)
    return {
        "model": _str_or_none(a.get("llm.model_name") or (
            request.get("model") if isinstance(request, dict) else None)),
        "model_version": _str_or_none(reply.get("model")) if isinstance(reply, dict) else None,
        "prompt": prompt,
        "response": response,
        "input_tokens": _int(a.get("llm.token_count.prompt")),
        "output_tokens": _int(a.get("llm.token_count.completion")),
        "finish_reason": _str_or_none(finish),
        "response_id": _str_or_none(reply.get("id")) if isinstance(reply, dict) else None,
        "provider": _first(a, "llm.provider", "llm.system"),
        "temperature": params.get("temperature") if isinstance(params, dict) else None,
        "max_tokens": _first(params, "max_tokens", "max_completion_tokens")
        if isinstance(params, dict) else None,
    }


# --- shared ------------------------------------------------------------------------------

def _message(role: Any, text: str) -> ChatMessage:
    r = str(role or "user")
    return ChatMessage(role=r if r in _ROLES else "user", content=text)


def _content(value: Any) -> str:
    """A message's content: a string, or a list of parts (text parts joined)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return _parts_text([p for p in value if isinstance(p, dict)])
    if isinstance(value, str) and value.startswith("[{"):
        try:
            parts = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(parts, list) and all(isinstance(p, dict) for p in parts):
            return _parts_text(parts)
    return str(value)


def _parts_text(parts: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(str(p.get("content", p.get("text", ""))) for p in parts
                     if p.get("type", "text") == "text")


def _json_or_none(value: Any, mime: Any) -> Any:
    if not isinstance(value, str) or (mime is not None and "json" not in str(mime)):
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return None


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
