"""The event contract: what apps put on Kafka, and what the dead-letter topic holds."""

from .deadletter import DeadLetter
from .decode import Rejected, decode_event
from .events import (
    EVENT_ADAPTER,
    SCHEMA_VERSION,
    ChatMessage,
    Event,
    FeedbackEvent,
    LLMEvent,
)
from .ids import hash_id
from .otel import event_from_otel

__all__ = [
    "EVENT_ADAPTER", "SCHEMA_VERSION", "ChatMessage", "DeadLetter", "Event", "FeedbackEvent",
    "LLMEvent", "Rejected", "decode_event", "event_from_otel", "hash_id",
]
