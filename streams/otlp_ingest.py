"""OTLP trace payloads → records for the events and dead-letter topics: the plain part of
the gateway's /v1/traces and of the worker's reading of a Collector's Kafka topic."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from llmwatch.config import Settings
from llmwatch.integrations.prices import DEFAULT
from llmwatch.schemas import Rejected, decode_event
from llmwatch.schemas.deadletter import DeadLetter
from llmwatch.schemas.decode import Limits
from llmwatch.schemas.otlp import llm_calls, spans

Record = tuple[str, bytes | None, bytes]  # topic, key, value


@dataclass
class OtlpRecords:
    """What one OTLP payload becomes: records for the events and dead-letter topics."""

    records: list[Record]
    llm: int  # LLM spans (read as events, or not)
    other: int  # spans that are not LLM calls, passed over
    rejected: list[str]  # reasons: LLM spans that cannot be events, events the gate refused
    invalid_events: int  # of `rejected`, events the gate refused


def otlp_records(body: bytes, content_type: str, settings: Settings, now: datetime,
                 dead: Callable[[bytes, str], Record]) -> OtlpRecords:
    """The records of one OTLP trace payload (the gateway's /v1/traces, or a record of a
    Collector's Kafka exporter): each LLM span's event through the gate to the events topic,
    what cannot be an event to `dead`. Raises ValueError when the payload is not OTLP."""
    read = llm_calls(spans(body, content_type), default_app=settings.gateway.default_app)
    out = OtlpRecords([], len(read.events) + len(read.unreadable), read.other_spans, [], 0)
    limits = Limits.of(settings.ingest)
    for event in read.events:
        if event.cost_usd is None:  # spans carry tokens, not dollars: the price table's
            cost = DEFAULT.cost_usd(event.model_version or event.model, event.input_tokens,
                                    event.output_tokens)
            if cost is not None:
                event = event.model_copy(update={"cost_usd": cost})
        raw = event.model_dump_json(exclude_none=True).encode()
        decoded = decode_event(raw, now=now, limits=limits)
        if isinstance(decoded, Rejected):
            out.rejected.append(decoded.reason)
            out.invalid_events += 1
            out.records.append(dead(raw, decoded.reason))
        else:
            out.records.append((settings.topics.events, decoded.partition_key, raw))
    for span, reason in read.unreadable:
        out.rejected.append(reason)
        out.records.append(dead(json.dumps({"trace_id": span.trace_id, "span_id": span.span_id,
                                            "attributes": span.attributes},
                                           default=str).encode(), reason))
    return out


def otlp_of_message(topic: str, partition: int, offset: int, key: bytes | None,
                    value: bytes | None, settings: Settings, now: datetime) -> list[Record]:
    """The records of one message of a Collector's Kafka exporter (otlp_proto, or otlp_json
    when it starts with "{"); a message that is not OTLP is one dead letter."""
    def dead(raw: bytes | None, reason: str) -> Record:
        letter = DeadLetter.of(reason=reason, stage="otlp", topic=topic, partition=partition,
                               offset=offset, key=key, value=raw, now=now,
                               max_bytes=settings.ingest.dead_letter_max_bytes)
        return (settings.topics.deadletter, f"{topic}/{partition}".encode(),
                letter.model_dump_json().encode())

    if not value:
        return [dead(value, "empty message")]
    encoding = "application/json" if value.lstrip()[:1] == b"{" else "application/x-protobuf"
    try:
        return otlp_records(value, encoding, settings, now, dead).records
    except ValueError as exc:
        return [dead(value, str(exc))]
