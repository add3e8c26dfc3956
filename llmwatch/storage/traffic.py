"""What the watchdog reads of each segment's traffic (the leader's self-checks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from llmwatch.detectors.segments import Segment

from .drift_repo import _filters
from .store import Store
from .tables import DriftBaselineRow, EventRow, as_utc


@dataclass(frozen=True)
class SegmentTraffic:
    """A segment with a baseline: its reference's rate, its first and last stored call, and
    how many calls were stored since `recent_from`."""

    segment: str
    usual_per_s: float | None
    first_stored: datetime | None
    last_stored: datetime | None
    recent: int


def segment_traffic(store: Store, recent_from: datetime) -> list[SegmentTraffic]:
    out = []
    with store.engine.connect() as conn:
        baselines = conn.execute(select(
            DriftBaselineRow.segment, DriftBaselineRow.size,
            DriftBaselineRow.reference_start, DriftBaselineRow.reference_end)).all()
        for key, size, start, end in baselines:
            usual = None
            if start is not None and end is not None and end > start:
                usual = size / (as_utc(end) - as_utc(start)).total_seconds()
            first, last, recent = conn.execute(select(
                func.min(EventRow.stored_at), func.max(EventRow.stored_at),
                func.count().filter(EventRow.stored_at >= recent_from))
                .where(*_filters(Segment.from_key(key), None))).one()
            out.append(SegmentTraffic(key, usual, as_utc(first) if first else None,
                                      as_utc(last) if last else None, int(recent or 0)))
    return out
