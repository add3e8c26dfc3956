"""OTLP trace payloads (an OTLP/HTTP request body, or a message the OpenTelemetry Collector's
Kafka exporter wrote) → the spans in them, in one plain shape, and the LLM calls among them.

Both encodings OTLP defines are read: protobuf (`ExportTraceServiceRequest`,
`application/x-protobuf`, the Collector's `otlp_proto`) and JSON (`application/json`, the
Collector's `otlp_json`: ids in hex, 64-bit integers as strings, values as `{"stringValue":
…}`). A payload that is neither raises `ValueError` with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .events import LLMEvent
from .otel import event_from_otel, genai_dialect

STATUS_ERROR = 2  # Status.StatusCode.STATUS_CODE_ERROR


@dataclass(frozen=True)
class OtlpSpan:
    attributes: dict[str, Any]
    start_time_unix_nano: int
    end_time_unix_nano: int
    trace_id: str  # hex
    span_id: str  # hex
    error: str | None  # the status message when the span's status is ERROR
    service: str | None  # the resource's service.name


@dataclass(frozen=True)
class Read:
    """What a payload held: its LLM calls as events, the LLM spans that cannot be events
    (with the reason), and how many other spans (HTTP, database) were passed over."""

    events: list[LLMEvent]
    unreadable: list[tuple[OtlpSpan, str]]
    other_spans: int


def spans(body: bytes, content_type: str) -> list[OtlpSpan]:
    """The spans of one OTLP trace payload; `content_type` says the encoding ("json" in it:
    JSON; else protobuf)."""
    if "json" in content_type.lower():
        return list(_from_json(body))
    return list(_from_protobuf(body))


def llm_calls(found: Iterable[OtlpSpan], *, default_app: str = "unknown-app",
              id_salt: str | None = None) -> Read:
    events, unreadable, other = [], [], 0
    for span in found:
        if genai_dialect(span.attributes) is None:
            other += 1
            continue
        try:
            events.append(event_from_otel(
                span.attributes, app=_app(span.service, default_app),
                start_time_unix_nano=span.start_time_unix_nano or None,
                end_time_unix_nano=span.end_time_unix_nano or None,
                trace_id=span.trace_id or None, span_id=span.span_id or None,
                error=span.error, id_salt=id_salt))
        except ValueError as exc:
            unreadable.append((span, str(exc)))
    return Read(events, unreadable, other)


def _app(service: str | None, default: str) -> str:
    if not service or service.startswith("unknown_service"):
        return default
    return service


# --- protobuf --------------------------------------------------------------------------

def _from_protobuf(body: bytes) -> Iterable[OtlpSpan]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise ValueError(f"not an OTLP protobuf ExportTraceServiceRequest: {exc}") from exc
    for resource_spans in request.resource_spans:
        resource = {kv.key: _pb_value(kv.value) for kv in resource_spans.resource.attributes}
        service = resource.get("service.name")
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                yield OtlpSpan(
                    attributes={kv.key: _pb_value(kv.value) for kv in s.attributes},
                    start_time_unix_nano=s.start_time_unix_nano,
                    end_time_unix_nano=s.end_time_unix_nano,
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    error=(s.status.message or "error") if s.status.code == STATUS_ERROR
                    else None,
                    service=None if service is None else str(service))


def _pb_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


# --- JSON --------------------------------------------------------------------------------

def _from_json(body: bytes) -> Iterable[OtlpSpan]:
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not OTLP JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
        raise ValueError("not OTLP JSON: expected an object with resourceSpans")
    for resource_spans in doc.get("resourceSpans", []):
        resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes"))
        service = resource.get("service.name")
        for scope_spans in resource_spans.get("scopeSpans", []) or []:
            for s in scope_spans.get("spans", []) or []:
                status = s.get("status") or {}
                code = status.get("code")
                yield OtlpSpan(
                    attributes=_json_attributes(s.get("attributes")),
                    start_time_unix_nano=int(s.get("startTimeUnixNano") or 0),
                    end_time_unix_nano=int(s.get("endTimeUnixNano") or 0),
                    trace_id=str(s.get("traceId") or ""), span_id=str(s.get("spanId") or ""),
                    error=(status.get("message") or "error")
                    if code in (STATUS_ERROR, "STATUS_CODE_ERROR") else None,
                    service=None if service is None else str(service))


def _json_attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {str(kv.get("key")): _json_value(kv.get("value") or {}) for kv in items
            if isinstance(kv, Mapping)}


def _json_value(v: Mapping[str, Any]) -> Any:
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_json_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return _json_attributes((v["kvlistValue"] or {}).get("values"))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None
