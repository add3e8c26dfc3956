"""Retention and erasure: how long users' data is kept, and removing one user's on request.

`apply_retention` runs in the worker on a schedule (`retention.every_s`): raw text is cleared
first, vectors later, whole events last; sent alert messages, closed tickets, findings and
reports go after their own periods. Baselines keep a summary of their own (centroids, topic
model from redacted terms, calibration), so drift keeps working once the raw text is gone.

`erase` removes one user's events (by `user_hash`) or given events: their rows, vectors,
quality scores and feedback, and every copy derived from their text — examples in findings,
lines of ticket datasets (and their ids in evidence), examples in alert messages, and the
reports whose period held them (re-run `llmwatch report` for those weeks). Kafka records
cannot be deleted one by one: topic retention (`retention.topic_days`) ages them out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from llmwatch.detectors.redact import DEFAULT_PRIVACY, Privacy

from .tables import (
    AlertOutboxRow,
    DriftVectorRow,
    EmbeddingRow,
    EventRow,
    FeedbackRow,
    FindingRow,
    QualityScoreRow,
    ReplayCallRow,
    ReplayRunRow,
    ReportRow,
    ReviewQueueRow,
    TicketRow,
    VerdictRow,
    as_utc,
)

ERASED = "[erased]"


@dataclass
class Removed:
    """What a retention run or an erasure removed, per kind of data."""

    counts: Counter[str] = field(default_factory=Counter)
    files: list[str] = field(default_factory=list)

    def add(self, what: str, n: int) -> None:
        if n:
            self.counts[what] += n

    def __bool__(self) -> bool:
        return bool(self.counts) or bool(self.files)

    def describe(self) -> str:
        parts = [f"{n} {what}" for what, n in sorted(self.counts.items())]
        if self.files:
            parts.append(f"{len(self.files)} report files")
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind of data is kept (None: forever). Mirrors `retention.*` settings."""

    raw_text_days: float | None = 30
    embeddings_days: float | None = 90
    events_days: float | None = 400
    findings_days: float | None = 180
    outbox_days: float | None = 14
    tickets_days: float | None = 180
    reports_days: float | None = 90


def apply_retention(engine: Any, policy: RetentionPolicy, now: datetime,
                    report_dir: Path | None = None) -> Removed:
    removed = Removed()

    def cutoff(days: float | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    with Session(engine) as s, s.begin():
        if (c := cutoff(policy.events_days)) is not None:
            old = select(EventRow.event_id).where(EventRow.timestamp < c)
            _delete_events(s, old, removed)
        if (c := cutoff(policy.embeddings_days)) is not None:
            old = select(EventRow.event_id).where(EventRow.timestamp < c)
            removed.add("vectors", s.execute(delete(EmbeddingRow).where(
                EmbeddingRow.event_id.in_(old))).rowcount)
            removed.add("vectors", s.execute(delete(DriftVectorRow).where(
                DriftVectorRow.event_id.in_(old))).rowcount)
        if (c := cutoff(policy.raw_text_days)) is not None:
            removed.add("texts cleared", s.execute(
                update(EventRow).where(EventRow.timestamp < c, or_(
                    EventRow.prompt_text != "", EventRow.response_text.is_not(None),
                    EventRow.error.is_not(None), EventRow.prompt_messages.is_not(None)))
                .values(prompt_text="", prompt_messages=None, response_text=None, error=None,
                        metadata_={})).rowcount)
            s.execute(update(FeedbackRow).where(FeedbackRow.timestamp < c,
                                                FeedbackRow.comment.is_not(None))
                      .values(comment=None))
            # a replay keeps a prompt's text only as long as its source call does
            removed.add("replayed prompts", s.execute(delete(ReplayCallRow).where(
                ReplayCallRow.source_timestamp < c)).rowcount)
        if (c := cutoff(policy.findings_days)) is not None:
            removed.add("findings", s.execute(delete(FindingRow).where(
                FindingRow.created_at < c)).rowcount)
        if (c := cutoff(policy.outbox_days)) is not None:
            removed.add("sent alert messages", s.execute(delete(AlertOutboxRow).where(
                AlertOutboxRow.status == "sent", AlertOutboxRow.sent_at < c)).rowcount)
        if (c := cutoff(policy.tickets_days)) is not None:
            removed.add("closed tickets", s.execute(delete(TicketRow).where(
                TicketRow.status == "closed", TicketRow.updated_at < c)).rowcount)
        if (c := cutoff(policy.reports_days)) is not None:
            rows = s.execute(select(ReportRow).where(ReportRow.created_at < c)).scalars().all()
            _delete_reports(s, rows, removed)
    if report_dir is not None and (c := cutoff(policy.reports_days)) is not None:
        for path in sorted(report_dir.glob("*")):
            if path.suffix in (".html", ".json") and path.stat().st_mtime < c.timestamp():
                path.unlink(missing_ok=True)
                removed.files.append(str(path))
    return removed


def erase(engine: Any, *, user_hash: str | None = None, event_ids: Sequence[str] = (),
          privacy: Privacy = DEFAULT_PRIVACY) -> Removed:
    """Remove a user's (or the given) events and every copy derived from their text."""
    if not user_hash and not event_ids:
        raise ValueError("name a user hash or at least one event id")
    removed = Removed()
    with Session(engine) as s, s.begin():
        where = [EventRow.event_id.in_(list(event_ids))] if event_ids else []
        if user_hash:
            where.append(EventRow.user_hash == user_hash)
        rows = s.execute(select(EventRow).where(or_(*where))).scalars().all()
        ids = [r.event_id for r in rows]
        texts = _forms(rows, privacy)
        if rows:
            first = min(as_utc(r.timestamp) for r in rows)
            last = max(as_utc(r.timestamp) for r in rows)
            _scrub_findings(s, first, last, removed)
            _scrub_tickets(s, ids, texts, removed)
            _scrub_outbox(s, first, removed)
            _delete_reports(s, s.execute(select(ReportRow).where(
                ReportRow.period_end >= first, ReportRow.period_start <= last)).scalars().all(),
                removed)
        _delete_events(s, select(EventRow.event_id).where(EventRow.event_id.in_(ids)), removed)
        if user_hash:  # feedback the user gave on other users' calls
            removed.add("feedback", s.execute(delete(FeedbackRow).where(
                FeedbackRow.user_hash == user_hash)).rowcount)
    return removed


def _delete_events(s: Session, ids: Any, removed: Removed) -> None:
    removed.add("quality scores", s.execute(delete(QualityScoreRow).where(
        QualityScoreRow.event_id.in_(ids))).rowcount)
    for table in (EmbeddingRow, DriftVectorRow):
        removed.add("vectors", s.execute(delete(table).where(
            table.event_id.in_(ids))).rowcount)
    removed.add("second opinions", s.execute(delete(VerdictRow).where(
        VerdictRow.event_id.in_(ids))).rowcount)
    s.execute(delete(ReviewQueueRow).where(ReviewQueueRow.event_id.in_(ids)))
    removed.add("feedback", s.execute(delete(FeedbackRow).where(
        FeedbackRow.event_id.in_(ids))).rowcount)
    runs = select(ReplayCallRow.run_id).where(ReplayCallRow.source_id.in_(ids))
    s.execute(update(ReplayRunRow).where(ReplayRunRow.run_id.in_(runs))  # its examples
              .values(html_gz=None))
    removed.add("replayed prompts", s.execute(delete(ReplayCallRow).where(
        ReplayCallRow.source_id.in_(ids))).rowcount)
    removed.add("events", s.execute(delete(EventRow).where(EventRow.event_id.in_(ids))).rowcount)


def _forms(rows: Sequence[EventRow], privacy: Privacy) -> list[str]:
    """Every form in which these events' texts can appear in a dataset line (as JSON)."""
    out: set[str] = set()
    for r in rows:
        texts = [r.prompt_text, r.response_text or ""] + [
            m.get("content", "") for m in (r.prompt_messages or []) if isinstance(m, dict)]
        for t in texts:
            if t and t.strip():
                flat = " ".join(t.split())  # examples are whitespace-normalised
                for form in (t, privacy.redact(t), flat, privacy.redact(flat)):
                    out.add(json.dumps(form, ensure_ascii=False)[1:-1])
    return sorted(out)


def _scrub_findings(s: Session, first: datetime, last: datetime, removed: Removed) -> None:
    """Examples of findings whose window overlaps the events' time are dropped (which
    example came from whom is not recorded, so all of them go, whatever the segment)."""
    rows = s.execute(select(FindingRow).where(
        or_(FindingRow.window_end.is_(None), FindingRow.window_end >= first),
        or_(FindingRow.window_start.is_(None), FindingRow.window_start <= last))).scalars()
    for row in rows:
        shifts = (row.details or {}).get("shifts", [])
        if any(sh.get("examples") for sh in shifts):
            row.details = {**row.details, "shifts": [{**sh, "examples": []} for sh in shifts]}
            removed.add("finding example sets", 1)


def _scrub_tickets(s: Session, ids: Sequence[str], forms: Sequence[str],
                   removed: Removed) -> None:
    for t in s.execute(select(TicketRow)).scalars():
        lines = t.dataset.splitlines() if t.dataset else []
        kept = [ln for ln in lines if not any(f in ln for f in forms)]
        evidence = dict(t.evidence or {})
        example_ids = evidence.get("example_event_ids", [])
        dataset_ids = evidence.get("dataset_event_ids", [])
        shifts = evidence.get("shifts", [])
        cleaned = [{**sh, "examples": [e for e in sh.get("examples", [])
                                       if not _quotes(e, forms)]} for sh in shifts]
        if len(kept) != len(lines) or any(i in ids for i in (*example_ids, *dataset_ids)) \
                or cleaned != shifts:
            t.dataset, t.examples = "\n".join(kept), len(kept)
            evidence["example_event_ids"] = [i for i in example_ids if i not in ids]
            if dataset_ids:
                evidence["dataset_event_ids"] = [i for i in dataset_ids if i not in ids]
            evidence["shifts"] = cleaned
            t.evidence = evidence
            removed.add("ticket dataset lines", len(lines) - len(kept))


def _quotes(example: str, forms: Sequence[str]) -> bool:
    """Whether an example (whitespace-normalised, maybe shortened with '…') is one of the
    forms (JSON-escaped texts)."""
    body = json.dumps(example.removesuffix("…"), ensure_ascii=False)[1:-1]
    return any(body and (f.startswith(body) or body in f) for f in forms)


def _scrub_outbox(s: Session, since: datetime, removed: Removed) -> None:
    """Alert messages written since the first event lose their example prompts."""
    rows = s.execute(select(AlertOutboxRow).where(AlertOutboxRow.created_at >= since)).scalars()
    for row in rows:
        blocks = [b for b in row.blocks or [] if not _is_examples(b)]
        payload = _without_examples(row.payload) if row.payload else row.payload
        if len(blocks) != len(row.blocks or []) or payload != row.payload:
            row.blocks, row.payload = blocks, payload
            removed.add("alert messages stripped of examples", 1)


def _is_examples(block: dict[str, Any]) -> bool:
    return block.get("type") == "context" and any(
        str(e.get("text", "")).startswith("e.g. ") for e in block.get("elements", []))


def _without_examples(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without_examples(v) for k, v in doc.items() if k != "examples"}
    if isinstance(doc, list):
        return [_without_examples(v) for v in doc if not (isinstance(v, dict)
                                                          and _is_examples(v))]
    return doc


def _delete_reports(s: Session, rows: Sequence[ReportRow], removed: Removed) -> None:
    for r in rows:
        for path in (r.html_path, r.json_path):
            if path and Path(path).exists():
                Path(path).unlink()
                removed.files.append(path)
        s.delete(r)
        removed.add("reports", 1)

