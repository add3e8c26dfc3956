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
    as_chat,
    user_turn,
)
from .ids import hash_id
from .otel import event_from_otel

__all__ = [
    "EVENT_ADAPTER", "SCHEMA_VERSION", "ChatMessage", "DeadLetter", "Event", "FeedbackEvent",
    "LLMEvent", "Rejected", "as_chat", "decode_event", "event_from_otel", "hash_id",
    "user_turn",
]
