"""What the watchdog reads of each segment's traffic (the leader's self-checks), and what
threshold rules read of it (`aggregates`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from llmwatch.detectors.second_opinion import ADDS_ONLY, TIERS
from llmwatch.detectors.segments import Segment

from .drift_repo import _filters
from .store import Store
from .tables import DriftBaselineRow, EventRow, QualityScoreRow, VerdictRow, as_utc


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


@dataclass(frozen=True)
class GroupValue:
    """One group's value of a metric over a window, and how many calls it read."""

    fields: dict[str, str | None]  # app, and model, model_version, … as grouped
    value: float
    calls: int


def aggregates(engine: Any, metric: str, by: str, start: datetime, end: datetime
               ) -> list[GroupValue]:
    """Each group's value of `metric` (a threshold rule's) over calls with timestamps in
    [start, end), grouped `by` app, model, version, segment or user hash."""
    keys = {"app": [EventRow.app], "user": [EventRow.app, EventRow.user_hash],
            "model": [EventRow.app, EventRow.model],
            "version": [EventRow.app, EventRow.model, EventRow.model_version],
            "segment": [EventRow.app, EventRow.model, EventRow.model_version,
                        EventRow.prompt_version]}[by]
    where = [EventRow.timestamp >= start, EventRow.timestamp < end]
    if by == "user":
        where.append(EventRow.user_hash.is_not(None))
    source: Any = EventRow
    if metric in ("calls", "latency_p95_ms"):
        value: Any = func.count()
    elif metric == "cost_usd":
        value = func.sum(func.coalesce(EventRow.cost_usd, 0.0))
    elif metric == "tokens":
        value = func.sum(func.coalesce(EventRow.input_tokens, 0)
                         + func.coalesce(EventRow.output_tokens, 0))
    elif metric == "error_rate":
        value = func.avg(case((EventRow.error.is_not(None), 1.0), else_=0.0))
    else:  # a quality check's rate, each call as its best verdict decided it
        check = metric.removesuffix("_rate")
        source = EventRow.__table__.join(QualityScoreRow.__table__, and_(
            QualityScoreRow.event_id == EventRow.event_id, QualityScoreRow.name == check))
        flagged: Any = QualityScoreRow.flagged.is_(True)
        for tier in TIERS:  # each higher tier's verdict over the lower ones' (`decided`)
            v = aliased(VerdictRow, name=f"verdict_{tier}")
            source = source.outerjoin(v, and_(v.event_id == EventRow.event_id,
                                              v.check == check, v.tier == tier))
            says = v.flagged.is_(True)
            flagged = case((v.flagged.is_not(None),
                            or_(QualityScoreRow.flagged.is_(True), says) if tier in ADDS_ONLY
                            else says), else_=flagged)
        value = func.avg(case((flagged, 1.0), else_=0.0))
    stmt = (select(*keys, value.label("value"), func.count().label("calls"))
            .select_from(source).where(*where).group_by(*keys))
    with engine.connect() as conn:
        rows = list(conn.execute(stmt))
        p95: dict[tuple[Any, ...], float] = {}
        if metric == "latency_p95_ms":
            lat = select(*keys, EventRow.latency_ms).where(*where,
                                                           EventRow.latency_ms.is_not(None))
            groups: dict[tuple[Any, ...], list[float]] = {}
            for r in conn.execute(lat):
                groups.setdefault(tuple(r[:len(keys)]), []).append(float(r[-1]))
            p95 = {k: float(np.quantile(v, 0.95)) for k, v in groups.items()}
    out = []
    for r in rows:
        key = tuple(r[:len(keys)])
        amount = p95.get(key) if metric == "latency_p95_ms" else r.value
        if amount is not None:
            out.append(GroupValue(dict(zip([c.key for c in keys], key, strict=True)),
                                  float(amount), int(r.calls)))
    return out
