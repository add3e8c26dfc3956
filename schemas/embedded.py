"""An event with its embeddings: what the spine hands to storage and to the detectors."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import orjson

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
    # `to_wire` of this very event, when it was made where the event was analysed (the
    # worker's analysis process): the worker hands it on without encoding it again
    wire: bytes | None = field(default=None, compare=False, repr=False)


def to_wire(e: EmbeddedEvent) -> bytes:
    """JSON for the enriched topic: the event plus base64 little-endian float16 vectors
    (`vector_dtype`; records without it are float32). Compact UTF-8 (no ASCII escapes): a
    200,000-character CJK prompt stays ~600 KB."""
    if e.wire is not None:
        return e.wire
    doc = {
        "event": e.event.model_dump(mode="json"),
        "vector_dtype": _WIRE_DTYPE,
        "prompt_vector": _vec_b64(e.prompt_vector),
        "response_vector": None if e.response_vector is None else _vec_b64(e.response_vector),
        "source": None if e.source is None else vars(e.source),
        "quality": e.quality,
    }
    return orjson.dumps(doc)  # compact UTF-8, ~8× faster than json for these records


def pack(wires: Sequence[bytes], max_bytes: int) -> list[bytes]:
    """Records of `to_wire` packed into as few enriched records as fit in `max_bytes` each
    (`{"events": [...]}`): one Kafka message per segment and batch instead of one per call
    spares both ends most of their per-message cost. A record that alone exceeds the limit
    is the caller's to refuse before packing."""
    out: list[bytes] = []
    group: list[bytes] = []
    size = 0
    for wire in wires:
        if group and size + len(wire) + 1 > max_bytes - PACK_OVERHEAD:
            out.append(_HEAD + b",".join(group) + _TAIL)
            group, size = [], 0
        group.append(wire)
        size += len(wire) + 1
    if group:
        out.append(_HEAD + b",".join(group) + _TAIL)
    return out


def from_wire_many(data: bytes) -> list[EmbeddedEvent]:
    """The events of one enriched record: packed (`pack`) or a single `to_wire` record."""
    doc = orjson.loads(data)
    return [_from_doc(d) for d in doc["events"]] if "events" in doc else [_from_doc(doc)]


def from_wire(data: bytes) -> EmbeddedEvent:
    return _from_doc(orjson.loads(data))


def _from_doc(doc: dict) -> EmbeddedEvent:  # type: ignore[type-arg]
    source = doc.get("source")
    dtype = doc.get("vector_dtype", "<f4")
    return EmbeddedEvent(
        event=LLMEvent.model_validate(doc["event"]),
        prompt_vector=_vec(doc["prompt_vector"], dtype),
        response_vector=(None if doc["response_vector"] is None
                         else _vec(doc["response_vector"], dtype)),
        source=None if source is None else SourcePosition(**source),
        quality={k: (float(v[0]), bool(v[1])) for k, v in (doc.get("quality") or {}).items()},
    )


_WIRE_DTYPE = "<f2"  # half the bytes of float32; nothing a cosine or centroid test can see
_HEAD, _TAIL = b'{"events":[', b"]}"
PACK_OVERHEAD = len(_HEAD) + len(_TAIL)  # bytes `pack` adds around a single record


def _vec_b64(v: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(v, dtype=_WIRE_DTYPE).tobytes()).decode("ascii")


def _vec(text: str, dtype: str = "<f4") -> np.ndarray:
    if dtype not in ("<f2", "<f4"):
        raise ValueError(f"unknown vector_dtype {dtype!r}")
    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(np.float32)
