"""What the drift stage reads and writes: segment samples, baselines, cursors, findings.

Events of a segment are ordered in event time, (timestamp, event_id), which is stable under
replays (a replayed event is not stored again) and does not depend on how unevenly partitions
were read. Windows are consecutive runs of that order after the segment's cursor, up to the
watermark (`detectors/watermark.py`); the cursor moves in the same transaction that stores the
window's findings, so a restart neither skips nor repeats a window.

Vectors are read in the drift space (`Store.drift_space`): the per-call vectors of
`embeddings` when drift reads the per-call space, else the sampled calls' `drift_vectors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from llmwatch.detectors.drift_monitor import (
    Baseline,
    EventRecord,
    baseline_from_bytes,
    baseline_to_bytes,
)
from llmwatch.detectors.findings import Finding
from llmwatch.detectors.second_opinion import Verdict
from llmwatch.detectors.segments import Segment

from . import vectors
from .review import verdicts_of
from .store import Store
from .tables import (
    DriftBaselineRow,
    DriftCursorRow,
    DriftVectorRow,
    EmbeddingRow,
    EventRow,
    FeedbackRow,
    FindingRow,
    QualityScoreRow,
    as_utc,
)

Position = tuple[datetime, str]  # (timestamp, event_id)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cursor:
    segment: str
    position: Position
    windows: int
    online_from: Position | None


Opinions = Callable[[dict[str, dict[str, bool]], list[Verdict]], dict[str, dict[str, str]]]


class DriftRepository:
    """`opinions`: how second opinions change the cheap flags of the records read
    (`detectors.second_opinion.overlay`; None: the cheap checks' flags as stored)."""

    def __init__(self, store: Store, opinions: Opinions | None = None) -> None:
        self.opinions = opinions
        self.engine = store.engine
        # vectors of another embedding backend live in another space: never mixed
        self.embedding = store.drift_space
        self.per_call: Any = EmbeddingRow
        self.vectors: Any = (EmbeddingRow if store.drift_space == store.embedding_model
                             else DriftVectorRow)
        self._refitting: set[str] = set()
        self._columns = (*_EVENT_COLUMNS, self.vectors.dim, self.vectors.prompt_vector,
                         self.vectors.response_vector)

    # -- events ------------------------------------------------------------------------
    def _in_space(self, segment: Segment, after: Position | None,
                  until: datetime | None) -> list[Any]:
        where = [*_filters(segment, after), self.vectors.model_name == self.embedding]
        if until is not None:  # the watermark: calls before it have all arrived
            where.append(EventRow.timestamp <= until)
        return where

    def count_after(self, segment: Segment, after: Position | None,
                    until: datetime | None = None) -> int:
        """Calls in the drift space after `after` and up to `until` (event time)."""
        stmt = (select(func.count()).select_from(EventRow)
                .join(self.vectors, self.vectors.event_id == EventRow.event_id)
                .where(*self._in_space(segment, after, until)))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def calls_between(self, segment: Segment, start: datetime, end: datetime) -> int:
        """Every call of the segment in [start, end] of event time, sampled or not."""
        stmt = select(func.count()).select_from(EventRow).where(
            *_filters(segment, None), EventRow.timestamp >= start, EventRow.timestamp <= end)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def records(self, segment: Segment, *, after: Position | None = None, limit: int | None = None,
                newest: bool = False, until: datetime | None = None
                ) -> tuple[list[EventRecord], Position | None]:
        """Events with vectors in event-time order (or the newest `limit`, still in order)."""
        order = (EventRow.timestamp, EventRow.event_id)
        stmt = (
            select(*self._columns)
            .join(self.vectors, self.vectors.event_id == EventRow.event_id)
            .where(*self._in_space(segment, after, until))
            .order_by(*(c.desc() for c in order) if newest else order)
            .limit(limit)
        )
        with self.engine.connect() as conn:  # plain rows: no ORM objects for thousands
            rows = list(conn.execute(stmt))
        if newest:
            rows.reverse()
        ids = [row.event_id for row in rows]
        flags, negative, decided = self._flags_and_feedback(ids)
        records = [_record(row, flags.get(row.event_id, {}), negative.get(row.event_id),
                           decided.get(row.event_id, {}))
                   for row in rows]
        last = (as_utc(rows[-1].timestamp), rows[-1].event_id) if rows else None
        return records, last

    def records_between(self, segment: Segment, start: datetime, end: datetime, *,
                        limit: int) -> tuple[list[EventRecord], int]:
        """Events of the segment with timestamps in [start, end) that drift read (every call,
        or the drift space's sample), at most `limit` of them (evenly spread over the range
        when there are more), and how many calls the segment had in the range."""
        where = [*_filters(segment, None), EventRow.timestamp >= start, EventRow.timestamp < end]
        with Session(self.engine) as session:
            total = int(session.execute(select(func.count()).select_from(EventRow)
                                        .where(*where)).scalar_one())
            ids = list(session.execute(select(EventRow.event_id).join(
                self.vectors, self.vectors.event_id == EventRow.event_id)
                .where(*where, self.vectors.model_name == self.embedding)
                .order_by(EventRow.timestamp, EventRow.event_id)).scalars())
            if len(ids) > limit:
                ids = [ids[int(i * len(ids) / limit)] for i in range(limit)]
            rows = []
            for at in range(0, len(ids), 500):
                rows.extend(session.execute(
                    select(*self._columns)
                    .join(self.vectors, self.vectors.event_id == EventRow.event_id)
                    .where(EventRow.event_id.in_(ids[at:at + 500]),
                           self.vectors.model_name == self.embedding)))
        rows.sort(key=lambda r: (as_utc(r.timestamp), r.event_id))
        flags, negative, decided = self._flags_and_feedback([r.event_id for r in rows])
        return [_record(r, flags.get(r.event_id, {}), negative.get(r.event_id),
                        decided.get(r.event_id, {}))
                for r in rows], total

    def _flags_and_feedback(self, ids: list[str]) -> tuple[
            dict[str, dict[str, bool]], dict[str, bool], dict[str, dict[str, str]]]:
        """Each call's flags (the best verdict's: a second opinion over the cheap check),
        negative feedback, and which tier decided a flag where it was not the cheap check."""
        flags: dict[str, dict[str, bool]] = {}
        negative: dict[str, bool] = {}
        decided: dict[str, dict[str, str]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for event_id, name, flagged in conn.execute(
                        select(QualityScoreRow.event_id, QualityScoreRow.name,
                               QualityScoreRow.flagged)
                        .where(QualityScoreRow.event_id.in_(chunk))):
                    flags.setdefault(event_id, {})[name] = bool(flagged)
                for event_id, thumbs, score in conn.execute(
                        select(FeedbackRow.event_id, FeedbackRow.thumbs, FeedbackRow.score)
                        .where(FeedbackRow.event_id.in_(chunk))):
                    bad = thumbs == "down" or (score is not None and score < 0.5)
                    negative[event_id] = negative.get(event_id, False) or bad
            # second opinions (streams/review_stage.py), applied as the caller says
            if self.opinions is not None:
                decided = self.opinions(flags, verdicts_of(conn, ids))
        return flags, negative, decided

    # -- baselines ---------------------------------------------------------------------
    def baseline(self, segment: str) -> tuple[Baseline, Position] | None:
        with Session(self.engine) as session:
            row = session.get(DriftBaselineRow, segment)
            if row is None:
                return None
            baseline = baseline_from_bytes(row.state)
            if baseline.embedding != self.embedding:  # the space changed: baseline anew
                if segment not in self._refitting:  # said once, not at every round
                    self._refitting.add(segment)
                    log.warning("the baseline of %s was fitted on %s vectors and drift now "
                                "reads %s: a new baseline is taken from the calls read from "
                                "now on (its first drift.reference_size)",
                                segment, baseline.embedding, self.embedding)
                return None
            return baseline, (as_utc(row.last_stored_at), row.last_event_id)

    def predecessor(self, lineage: str, segment: str) -> Baseline | None:
        """The newest other baseline of the same app and model: the previous version."""
        stmt = (select(DriftBaselineRow).where(DriftBaselineRow.lineage == lineage,
                                               DriftBaselineRow.segment != segment)
                .order_by(DriftBaselineRow.created_at.desc()).limit(1))
        with Session(self.engine) as session:
            row = session.execute(stmt).scalar_one_or_none()
            previous = None if row is None else baseline_from_bytes(row.state)
            return previous if previous and previous.embedding == self.embedding else None

    def save_baseline(self, segment: Segment, baseline: Baseline, last: Position,
                      findings: Sequence[Finding], now: datetime) -> None:
        with Session(self.engine) as session, session.begin():
            session.merge(DriftBaselineRow(
                segment=segment.key, lineage=segment.lineage, size=baseline.size,
                reference_start=baseline.start, reference_end=baseline.end,
                last_stored_at=last[0], last_event_id=last[1],
                state=baseline_to_bytes(replace(baseline, embedding=self.embedding)),
                created_at=now,
            ))
            session.merge(DriftCursorRow(
                segment=segment.key, last_stored_at=last[0], last_event_id=last[1], windows=0,
                online_from_stored_at=last[0], online_from_event_id=last[1], updated_at=now,
            ))
            session.add_all(_finding_row(f, now) for f in findings)

    # -- cursors and findings ----------------------------------------------------------
    def cursor(self, segment: str) -> Cursor | None:
        with Session(self.engine) as session:
            row = session.get(DriftCursorRow, segment)
            if row is None:
                return None
            online = None
            if row.online_from_stored_at is not None and row.online_from_event_id is not None:
                online = (as_utc(row.online_from_stored_at), row.online_from_event_id)
            return Cursor(row.segment, (as_utc(row.last_stored_at), row.last_event_id),
                          row.windows, online)

    def save_round(self, cursors: Sequence[Cursor], findings: Sequence[Finding],
                   now: datetime) -> None:
        """Findings and the cursors that produced them, in one transaction."""
        with Session(self.engine) as session, session.begin():
            for c in cursors:
                session.merge(DriftCursorRow(
                    segment=c.segment, last_stored_at=c.position[0], last_event_id=c.position[1],
                    windows=c.windows,
                    online_from_stored_at=c.online_from[0] if c.online_from else None,
                    online_from_event_id=c.online_from[1] if c.online_from else None,
                    updated_at=now,
                ))
            session.add_all(_finding_row(f, now) for f in findings)

    def findings(self, *, fired_only: bool = False, limit: int = 100) -> list[FindingRow]:
        stmt = select(FindingRow).order_by(FindingRow.id.desc()).limit(limit)
        if fired_only:
            stmt = stmt.where(FindingRow.fired.is_(True))
        with Session(self.engine) as session:
            return list(session.execute(stmt).scalars())


def _filters(segment: Segment, after: Position | None) -> list[Any]:
    columns = {"app": EventRow.app, "model": EventRow.model,
               "model_version": EventRow.model_version, "prompt_version": EventRow.prompt_version}
    out: list[Any] = [columns[f].is_not_distinct_from(v) for f, v in segment.fields().items()]
    if after is not None:
        out.append(or_(EventRow.timestamp > after[0],
                       and_(EventRow.timestamp == after[0], EventRow.event_id > after[1])))
    return out


_EVENT_COLUMNS = (
    EventRow.event_id, EventRow.stored_at, EventRow.timestamp, EventRow.prompt_text,
    EventRow.response_text, EventRow.latency_ms, EventRow.input_tokens, EventRow.output_tokens,
    EventRow.cost_usd, EventRow.finish_reason, EventRow.prompt_messages,
)


def _record(row: Any, flags: dict[str, bool], negative_feedback: bool | None,
            decided_by: dict[str, str] | None = None) -> EventRecord:
    """A row of `_RECORD_COLUMNS` as the detectors read it."""
    return EventRecord(
        timestamp=as_utc(row.timestamp), prompt_text=row.prompt_text,
        response_text=row.response_text, latency_ms=row.latency_ms,
        input_tokens=row.input_tokens, output_tokens=row.output_tokens,
        cost_usd=row.cost_usd, finish_reason=row.finish_reason,
        prompt_vector=vectors.from_bytes(row.prompt_vector, row.dim),
        response_vector=(None if row.response_vector is None
                         else vectors.from_bytes(row.response_vector,
                                                 _answer_dim(row.response_vector, row.dim))),
        flags=flags, negative_feedback=negative_feedback, event_id=row.event_id,
        prompt_messages=row.prompt_messages, decided_by=decided_by or {},
    )


def _answer_dim(data: bytes, prompt_dim: int) -> int:
    """A drift-space row keeps the answer's per-call vector (float16) beside a prompt of
    another space: its width is its own."""
    return prompt_dim if len(data) in (2 * prompt_dim, 4 * prompt_dim) else len(data) // 2


def _finding_row(f: Finding, now: datetime) -> FindingRow:
    return FindingRow(
        detector=f.detector, segment=f.segment, metric=f.metric, method=f.method,
        severity=f.severity, explanation=f.explanation, fired=f.fired,
        statistic=f.statistic, threshold=f.threshold, p_value=f.p_value,
        effect_size=f.effect_size, window_start=f.window.start, window_end=f.window.end,
        details={**f.details, "window": asdict(f.window) | {
            "start": f.window.start.isoformat() if f.window.start else None,
            "end": f.window.end.isoformat() if f.window.end else None}},
        created_at=now,
    )

