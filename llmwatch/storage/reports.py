"""The reports table and what a report reads: a run's claim and lease, the finished report
with its digest notice in one transaction, and the rows the report gathers (segments with
traffic, baselines' spans, fired findings, alert episodes, open tickets)."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .outbox import Notice, add_notices
from .tables import (
    AlertEpisodeRow,
    AlertOutboxRow,
    DriftBaselineRow,
    EventRow,
    FindingRow,
    QualityScoreRow,
    ReportRow,
    TicketRow,
    as_utc,
)


@dataclass(frozen=True)
class StoredReport:
    report_id: int
    kind: str
    period_start: datetime
    period_end: datetime
    finished_at: datetime | None
    html_path: str | None


class Reports:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, key: str, kind: str, start: datetime, end: datetime, now: datetime,
              until: datetime) -> int | None:
        """The report row of `key`, claimed until `until`: a new one, or a running one whose
        writer's lease ran out. None when another writer holds it or it is done."""
        try:
            with Session(self.engine) as s, s.begin():
                row = ReportRow(key=key, kind=kind, period_start=start, period_end=end,
                                status="running", claimed_until=until, created_at=now)
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(ReportRow).where(ReportRow.key == key, ReportRow.status == "running",
                                        or_(ReportRow.claimed_until.is_(None),
                                            ReportRow.claimed_until < now))
                .values(claimed_until=until).returning(ReportRow.id)).first()
        return None if taken is None else int(taken[0])

    def retry_after(self, report_id: int, until: datetime) -> None:
        """A failed run: the next check may take the report over from `until`."""
        with self.engine.begin() as conn:
            conn.execute(update(ReportRow).where(ReportRow.id == report_id)
                         .values(claimed_until=until))

    def finish(self, report_id: int, *, figures: dict[str, Any], html: str, html_path: str,
               json_path: str, finished_at: datetime, notices: Sequence[Notice]) -> None:
        """Mark the report done, with its digest notices in the same transaction (done means
        the digest is queued)."""
        with Session(self.engine) as s, s.begin():
            s.execute(update(ReportRow).where(ReportRow.id == report_id).values(
                status="done", figures=figures, html_gz=gzip.compress(html.encode()),
                html_path=html_path, json_path=json_path, finished_at=finished_at,
                claimed_until=None))
            add_notices(s, notices, finished_at)

    def is_done(self, key: str) -> bool:
        with self.engine.connect() as conn:
            status = conn.execute(select(ReportRow.status).where(ReportRow.key == key)).first()
        return status is not None and status[0] == "done"

    def html(self, report_id: int) -> tuple[StoredReport, bytes] | None:
        """A stored report and its HTML (None when it has none)."""
        with Session(self.engine) as s:
            row = s.get(ReportRow, report_id)
            if row is None or row.html_gz is None:
                return None
            return _stored(row), gzip.decompress(row.html_gz)

    def latest_done(self) -> StoredReport | None:
        with Session(self.engine) as s:
            row = s.execute(select(ReportRow).where(ReportRow.status == "done")
                            .order_by(ReportRow.finished_at.desc()).limit(1)
                            ).scalar_one_or_none()
            return None if row is None else _stored(row)

    def digests_pending(self) -> int:
        """Report digests waiting in the outbox."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(
                AlertOutboxRow.sink == "slack_report",
                AlertOutboxRow.status == "pending")).scalar_one())


def _stored(row: ReportRow) -> StoredReport:
    return StoredReport(row.id, row.kind, as_utc(row.period_start), as_utc(row.period_end),
                        as_utc(row.finished_at) if row.finished_at else None, row.html_path)


# What a report reads.

def event_span(engine: Engine) -> tuple[datetime | None, datetime | None]:
    """Event time of the first and the last stored call."""
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(EventRow.timestamp),
                                          func.max(EventRow.timestamp))).one()
    return (as_utc(first) if first else None), (as_utc(last) if last else None)


def has_calls_before(engine: Engine, end: datetime) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(EventRow.timestamp).where(EventRow.timestamp < end)
                            .limit(1)).first() is not None


def last_stored(engine: Engine) -> datetime | None:
    """When the newest call was stored."""
    with engine.connect() as conn:
        last = conn.execute(select(func.max(EventRow.stored_at))).scalar_one_or_none()
    return as_utc(last) if last else None


def segment_values(engine: Engine, start: datetime, end: datetime
                   ) -> list[tuple[str, str, str | None, str | None]]:
    """(app, model, model version, prompt version) of the calls in [start, end), distinct."""
    columns = [EventRow.app, EventRow.model, EventRow.model_version, EventRow.prompt_version]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(*columns).where(EventRow.timestamp >= start, EventRow.timestamp < end)
            .distinct())]


def baseline_spans(engine: Engine) -> dict[str, dict[str, Any]]:
    """Each baseline's reference span, lineage and creation (the columns only: the fitted
    state is read for the segments a report shows)."""
    b = DriftBaselineRow
    columns = (b.segment, b.reference_start, b.reference_end, b.lineage, b.created_at)
    with engine.connect() as conn:
        return {segment: {"start": as_utc(start) if start else None,
                          "end": as_utc(end) if end else None,
                          "lineage": lineage, "created_at": as_utc(created)}
                for segment, start, end, lineage, created in conn.execute(select(*columns))}


def fired_findings(engine: Engine, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Findings that fired on windows ending in [start, end)."""
    with Session(engine) as s:
        rows = s.execute(select(FindingRow).where(
            FindingRow.fired.is_(True), FindingRow.window_end >= start,
            FindingRow.window_end < end)).scalars()
        return [{"detector": r.detector, "segment": r.segment, "metric": r.metric,
                 "severity": r.severity, "explanation": r.explanation,
                 "window_end": as_utc(r.window_end) if r.window_end else None} for r in rows]


def episodes(engine: Engine) -> list[dict[str, Any]]:
    """Every alert episode, oldest first."""
    with Session(engine) as s:
        return [{"fingerprint": r.fingerprint, "detector": r.detector,
                 "segment": r.segment, "metric": r.metric, "severity": r.severity,
                 "summary": r.summary, "status": r.status, "windows": r.windows,
                 "notified": bool(r.notified), "acknowledged": bool(r.acknowledged),
                 "first_window_end": as_utc(r.first_window_end)
                 if r.first_window_end else None,
                 "resolved_window_end": as_utc(r.resolved_window_end)
                 if r.resolved_window_end else None}
                for r in s.execute(select(AlertEpisodeRow).order_by(AlertEpisodeRow.id))
                .scalars()]


def open_tickets(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as s:
        rows = s.execute(select(TicketRow).where(TicketRow.status == "open")
                         .order_by(TicketRow.id)).scalars()
        return [{"id": t.id, "fingerprint": t.fingerprint, "title": t.title,
                 "segment": t.segment, "metric": t.metric, "action": t.action,
                 "windows": t.windows, "examples": t.examples,
                 "opened": as_utc(t.created_at).isoformat(),
                 "updated": as_utc(t.updated_at).isoformat(),
                 "external": t.external or {}} for t in rows]


def flagged_counts(engine: Engine) -> list[tuple[str, int, str]]:
    """Per quality check: how many calls it flagged and one of them, most flagged first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(QualityScoreRow.name, func.count(), func.min(QualityScoreRow.event_id))
            .where(QualityScoreRow.flagged.is_(True)).group_by(QualityScoreRow.name)).all()
    return sorted(((name, int(n), event_id) for name, n, event_id in rows),
                  key=lambda r: -r[1])
