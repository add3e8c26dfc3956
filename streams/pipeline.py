"""What the ingest agent does with one batch of raw messages. Plain, synchronous, faust-free:
decode → dead-letter the invalid → embed the calls in one batch → store idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from llmwatch.embedding import Embedder
from llmwatch.schemas import DeadLetter, FeedbackEvent, LLMEvent, Rejected, decode_event
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition
from llmwatch.storage import Store
from llmwatch.storage.retry import until_stored


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def position(self) -> SourcePosition:
        return SourcePosition(self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class BatchOutcome:
    embedded: list[EmbeddedEvent] = field(default_factory=list)
    new_events: int = 0
    new_feedback: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


def process_batch(
    messages: Sequence[RawMessage], *, embedder: Embedder, store: Store, now: datetime
) -> BatchOutcome:
    calls: list[tuple[RawMessage, LLMEvent]] = []
    feedback: list[FeedbackEvent] = []
    dead: list[DeadLetter] = []
    for msg in messages:
        decoded = decode_event(msg.value)
        if isinstance(decoded, Rejected):
            dead.append(dead_letter(msg, decoded.reason, "decode", now))
        elif isinstance(decoded, LLMEvent):
            calls.append((msg, decoded))
        else:
            feedback.append(decoded)
    embedded = embedder.embed_events(
        [event for _, event in calls], [msg.position for msg, _ in calls]
    )
    new_events = until_stored(lambda: store.save_events(embedded, now=now))
    new_feedback = until_stored(lambda: store.save_feedback(feedback, now=now))
    return BatchOutcome(embedded, new_events, new_feedback, dead)


def dead_letter(msg: RawMessage, reason: str, stage: str, now: datetime) -> DeadLetter:
    return DeadLetter.of(
        reason=reason, stage=stage, topic=msg.topic, partition=msg.partition,
        offset=msg.offset, key=msg.key, value=msg.value, now=now,
    )
