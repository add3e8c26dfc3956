"""The one result type every detector returns: a `Finding`, frozen and serialisable."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Window:
    """Which events a finding is about."""

    start: datetime | None
    end: datetime | None
    n_reference: int
    n_current: int


@dataclass(frozen=True)
class Finding:
    detector: str  # e.g. "embedding_drift", "numeric_drift", "online_drift"
    segment: str  # Segment.key
    metric: str  # e.g. "prompt_embedding", "latency_ms"
    method: str  # e.g. "centroid", "mmd", "ks+wasserstein"
    fired: bool
    statistic: float
    threshold: float  # the threshold actually used, in the statistic's units
    p_value: float | None
    effect_size: float | None
    window: Window
    severity: Severity = "info"
    explanation: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), default=_default, separators=(",", ":")).encode()


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()  # type: ignore[attr-defined]
    if hasattr(value, "tolist"):
        return value.tolist()  # type: ignore[attr-defined]
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
