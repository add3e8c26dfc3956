"""An event with its embeddings: what the spine hands to storage and to the detectors."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np

from .events import LLMEvent


@dataclass(frozen=True)
class SourcePosition:
    """Where a message was read from: kept so every stored row can be traced to Kafka."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class EmbeddedEvent:
    event: LLMEvent
    prompt_vector: np.ndarray  # float32, shape (dim,), L2-normalised
    response_vector: np.ndarray | None  # None when the call has no response
    source: SourcePosition | None = None
    quality: dict[str, tuple[float, bool]] | None = None  # check → (score, flagged)


def to_wire(e: EmbeddedEvent) -> bytes:
    """JSON for the enriched topic: the event plus base64 little-endian float32 vectors.
    Compact UTF-8 (no ASCII escapes): a 200,000-character CJK prompt stays ~600 KB."""
    doc = {
        "event": e.event.model_dump(mode="json"),
        "prompt_vector": _vec_b64(e.prompt_vector),
        "response_vector": None if e.response_vector is None else _vec_b64(e.response_vector),
        "source": None if e.source is None else vars(e.source),
        "quality": e.quality,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def from_wire(data: bytes) -> EmbeddedEvent:
    doc = json.loads(data)
    source = doc.get("source")
    return EmbeddedEvent(
        event=LLMEvent.model_validate(doc["event"]),
        prompt_vector=_vec(doc["prompt_vector"]),
        response_vector=None if doc["response_vector"] is None else _vec(doc["response_vector"]),
        source=None if source is None else SourcePosition(**source),
        quality={k: (float(v[0]), bool(v[1])) for k, v in (doc.get("quality") or {}).items()},
    )


def _vec_b64(v: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode("ascii")


def _vec(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")
