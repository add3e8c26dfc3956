"""Test data builders."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from llmwatch.schemas import LLMEvent


def make_event(i: int = 0, **overrides: object) -> LLMEvent:
    fields: dict[str, object] = {
        "event_id": f"evt-{i:06d}",
        "timestamp": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        "app": "support-bot",
        "model": "gpt-test",
        "model_version": "2026-10",
        "prompt_version": "v1",
        "prompt": f"How do I reset my password? (question {i})",
        "response": "Open Settings, choose Security, then Reset password.",
        "latency_ms": 812.5,
        "input_tokens": 52,
        "output_tokens": 14,
        "cost_usd": 0.00012,
        "finish_reason": "stop",
    }
    fields.update(overrides)
    return LLMEvent.model_validate(fields)


def consume_enriched(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 60.0
                     ) -> tuple[list, list]:  # type: ignore[type-arg]
    """The enriched topic's records and the events they carry (packed: several a record),
    read until `expect` events arrived (or the time is up)."""
    from llmwatch.schemas.embedded import from_wire_many

    records: list = []  # type: ignore[type-arg]
    events: list = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while len(events) < expect and time.monotonic() < deadline:
        got = consume(bootstrap, topic, expect=len(records) + 1, timeout_s=5)
        records = got
        events = [e for r in records for e in from_wire_many(r.value)]
    return records, events


def consume(bootstrap: str, topic: str, *, expect: int, timeout_s: float = 60.0) -> list:  # type: ignore[type-arg]
    """Read `topic` from the start until `expect` records arrived (or the time is up)."""
    import time

    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    records: list = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expect and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return records
