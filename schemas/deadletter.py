"""The record written to the dead-letter topic for every message that could not be used."""

from __future__ import annotations

import base64
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
    original_value_b64: str | None = Field(description="The message value exactly as received.")
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
    ) -> DeadLetter:
        return cls(
            reason=reason,
            stage=stage,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            original_key_b64=_b64(key),
            original_value_b64=_b64(value),
            rejected_at=now,
        )

    def original_value(self) -> bytes | None:
        encoded = self.original_value_b64
        return None if encoded is None else base64.b64decode(encoded)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")
