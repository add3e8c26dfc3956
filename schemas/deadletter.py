"""The record written to the dead-letter topic for every message that could not be used."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    """A rejected message: its original bytes, why it was rejected and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = "dead_letter"
    reason: str
    stage: str = Field(description="Where it was rejected: 'decode' (invalid) or 'store'.")
    source_topic: str
    source_partition: int
    source_offset: int
    original_key_b64: str | None
    original_value_b64: str | None = Field(
        description="The message value as received, or its first bytes when it was larger "
        "than the dead-letter limit (see truncated).")
    original_size: int | None = Field(None, description="Bytes of the whole original value.")
    original_sha256: str | None = Field(None, description="SHA-256 of the whole original value.")
    truncated: bool = Field(False, description="Whether original_value_b64 is only a prefix.")
    rejected_at: AwareDatetime

    @classmethod
    def of(
        cls,
        *,
        reason: str,
        stage: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        now: datetime,
        max_bytes: int = 65_536,
    ) -> DeadLetter:
        """The dead letter of a message; at most `max_bytes` of its value (and 1 KiB of its
        key) are kept, so it always fits the topic whatever the message's size."""
        return cls(
            reason=reason[:2_000],
            stage=stage,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            original_key_b64=_b64(None if key is None else key[:1_024]),
            original_value_b64=_b64(None if value is None else value[:max_bytes]),
            original_size=None if value is None else len(value),
            original_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
            truncated=value is not None and len(value) > max_bytes,
            rejected_at=now,
        )

    def original_value(self) -> bytes | None:
        encoded = self.original_value_b64
        return None if encoded is None else base64.b64decode(encoded)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")
