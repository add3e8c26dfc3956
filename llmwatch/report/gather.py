"""Read what a report needs from storage: the calls of this period, the period before and each
segment's baseline (with embeddings, quality flags and feedback), its topic clusters, the
findings and alert episodes of the period, and the open retraining tickets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmwatch.detectors.segments import ANY, SEGMENT_FIELDS, Segment, segment_name
from llmwatch.isolation import SegmentFailures
from llmwatch.storage import Store
from llmwatch.storage.drift_repo import DriftRepository
from llmwatch.storage.tables import (
    AlertEpisodeRow,
    DriftBaselineRow,
    EventRow,
    FindingRow,
    TicketRow,
    as_utc,
)

from .figures import ReportInputs, SegmentData
from .period import Period

Progress = Callable[[str], None]


def gather(store: Store, period: Period, tz: ZoneInfo, *, segment_by: Sequence[str],
           max_events: int, now: datetime, progress: Progress = lambda _: None,
           failures: SegmentFailures | None = None) -> ReportInputs:
    failures = failures or SegmentFailures("report")
    period = Period(period.start.astimezone(UTC), period.end.astimezone(UTC))
    previous = period.previous()
    repo = DriftRepository(store)
    segments = _segments(store, previous.start, period.end, segment_by)
    baselines = _baselines(store)
    data = []
    for n, segment in enumerate(segments, start=1):
        progress(f"reading segment {n}/{len(segments)}: {segment.describe()}")
        with failures.guard(segment.key):  # one unreadable segment does not sink the report
            data.append(_segment_data(repo, segment, period, previous, baselines, max_events))
    progress("reading findings, alerts and tickets")
    present = {d.key for d in data}
    older = []  # predecessors without traffic in either period: compared by their baseline
    for key in sorted({d.predecessor for d in data if d.predecessor} - present):
        start, end = baselines[key]["start"], baselines[key]["end"]
        if start is None or end is None:
            continue
        reference, n = repo.records_between(Segment.from_key(key), start,
                                            end + timedelta(microseconds=1), limit=max_events)
        older.append(SegmentData(key, [], [], reference, counts={"baseline": n}))
    return ReportInputs(period=period, tz=tz, segments=data, predecessors=older,
                        findings=_findings(store, period), episodes=_episodes(store, period),
                        tickets=_tickets(store), generated_at=now)


def _segment_data(repo: DriftRepository, segment: Segment, period: Period, previous: Period,
                  baselines: dict[str, dict[str, Any]], max_events: int) -> SegmentData:
    current, n_cur = repo.records_between(segment, period.start, period.end, limit=max_events)
    before, n_prev = repo.records_between(segment, previous.start, previous.end,
                                          limit=max_events)
    base_row = baselines.get(segment.key)
    baseline: list[Any] = []
    n_base, clusters, size, predecessor = 0, None, 0, None
    if base_row is not None and base_row["start"] is not None:
        baseline, n_base = repo.records_between(  # the reference's last event included
            segment, base_row["start"], base_row["end"] + timedelta(microseconds=1),
            limit=max_events)
        state = repo.baseline(segment.key)
        if state is not None:
            clusters, size = state[0].clusters, state[0].size
        predecessor = _predecessor(baselines, segment.key)
    return SegmentData(segment.key, current, before, baseline, clusters, size, predecessor,
                       {"current": n_cur, "previous": n_prev, "baseline": n_base})


def _segments(store: Store, start: datetime, end: datetime,
              segment_by: Sequence[str]) -> list[Segment]:
    columns = [EventRow.app, EventRow.model, EventRow.model_version, EventRow.prompt_version]
    with store.engine.connect() as conn:
        rows = conn.execute(select(*columns).where(EventRow.timestamp >= start,
                                                   EventRow.timestamp < end).distinct()).all()
    keys = set()
    for row in rows:
        values = dict(zip(SEGMENT_FIELDS, row, strict=True))
        keys.add(Segment(**{f: values[f] if f in segment_by else ANY for f in SEGMENT_FIELDS}))
    return sorted(keys, key=lambda s: s.key)


def _baselines(store: Store) -> dict[str, dict[str, Any]]:
    b = DriftBaselineRow  # the columns only: the fitted state is read for reported segments
    columns = (b.segment, b.reference_start, b.reference_end, b.lineage, b.created_at)
    with store.engine.connect() as conn:
        return {segment: {"start": as_utc(start) if start else None,
                          "end": as_utc(end) if end else None,
                          "lineage": lineage, "created_at": as_utc(created)}
                for segment, start, end, lineage, created in conn.execute(select(*columns))}


def _predecessor(baselines: dict[str, dict[str, Any]], key: str) -> str | None:
    """The version of the same app and model whose baseline was made just before this one's."""
    mine = baselines[key]
    older = [(b["created_at"], k) for k, b in baselines.items()
             if k != key and b["lineage"] == mine["lineage"]
             and b["created_at"] < mine["created_at"]]
    return max(older)[1] if older else None


def _findings(store: Store, period: Period) -> list[dict[str, Any]]:
    with Session(store.engine) as s:
        rows = s.execute(select(FindingRow).where(
            FindingRow.fired.is_(True), FindingRow.window_end >= period.start,
            FindingRow.window_end < period.end)).scalars()
        return [{"detector": r.detector, "segment": r.segment, "metric": r.metric,
                 "severity": r.severity, "explanation": r.explanation,
                 "window_end": as_utc(r.window_end) if r.window_end else None} for r in rows]


def _episodes(store: Store, period: Period) -> list[dict[str, Any]]:
    """Alerts that fired in the period (by the event time of their first firing window), and
    those still firing from before."""
    with Session(store.engine) as s:
        rows = s.execute(select(AlertEpisodeRow).order_by(AlertEpisodeRow.id)).scalars()
        out = []
        for r in rows:
            first = as_utc(r.first_window_end) if r.first_window_end else None
            in_period = first is not None and period.contains(first)
            open_before = r.status == "firing" and first is not None and first < period.start
            if not (in_period or open_before):
                continue
            out.append({"fingerprint": r.fingerprint, "detector": r.detector,
                        "segment": r.segment, "metric": r.metric, "severity": r.severity,
                        "summary": r.summary, "status": r.status, "windows": r.windows,
                        "notified": bool(r.notified), "acknowledged": bool(r.acknowledged),
                        "first_window_end": first,
                        "resolved_window_end": as_utc(r.resolved_window_end)
                        if r.resolved_window_end else None})
        return out


def _tickets(store: Store) -> list[dict[str, Any]]:
    with Session(store.engine) as s:
        rows = s.execute(select(TicketRow).where(TicketRow.status == "open")
                         .order_by(TicketRow.id)).scalars()
        return [{"id": t.id, "fingerprint": t.fingerprint, "title": t.title,
                 "segment": t.segment, "name": segment_name(t.segment), "metric": t.metric,
                 "action": t.action,
                 "windows": t.windows, "examples": t.examples,
                 "opened": as_utc(t.created_at).isoformat(),
                 "updated": as_utc(t.updated_at).isoformat(),
                 "external": t.external or {}} for t in rows]
