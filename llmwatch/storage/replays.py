"""The replay tables (`replay_runs`, `replay_calls`) and the stored calls a replay reads, for
`llmwatch/replay.py`."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from llmwatch.detectors.segments import Segment
from llmwatch.schemas import as_chat

from .outbox import Notice, add_notices
from .retry import until_stored
from .tables import EmbeddingRow, EventRow, ReplayCallRow, ReplayRunRow, TicketRow, as_utc


@dataclass(frozen=True)
class StoredCall:
    """A stored call as a replay reads it."""

    event_id: str
    timestamp: datetime
    app: str
    messages: list[dict[str, str]]
    answer: str | None
    latency_ms: float | None
    cost_usd: float | None
    error: bool
    user_hash: str | None
    vector: np.ndarray | None


@dataclass(frozen=True)
class TicketSource:
    segment: str
    detector: str
    metric: str
    evidence: dict[str, Any]
    dataset: str


def _calls(engine: Engine, where: Sequence[Any], embedding_model: str
           ) -> tuple[list[StoredCall], int]:
    """Stored calls with raw text (and their per-call prompt vectors where kept), and how many
    had their text cleared by retention."""
    columns = (EventRow.event_id, EventRow.timestamp, EventRow.app, EventRow.prompt_text,
               EventRow.prompt_messages, EventRow.response_text, EventRow.latency_ms,
               EventRow.cost_usd, EventRow.error, EventRow.user_hash, EmbeddingRow.dim,
               EmbeddingRow.prompt_vector)
    stmt = (select(*columns).outerjoin(EmbeddingRow, (EmbeddingRow.event_id == EventRow.event_id)
                                       & (EmbeddingRow.model_name == embedding_model))
            .where(*where).order_by(EventRow.timestamp, EventRow.event_id))
    with engine.connect() as conn:
        rows = list(conn.execute(stmt))
    out, cleared = [], 0
    for r in rows:
        if not r.prompt_text and not r.prompt_messages:
            cleared += 1
            continue
        vector = (None if r.prompt_vector is None else
                  np.frombuffer(r.prompt_vector, dtype=np.float16 if len(r.prompt_vector)
                                == 2 * r.dim else np.float32).astype(np.float32))
        out.append(StoredCall(r.event_id, as_utc(r.timestamp), r.app,
                              as_chat(r.prompt_messages, r.prompt_text), r.response_text,
                              r.latency_ms, r.cost_usd, r.error is not None, r.user_hash,
                              vector))
    return out, cleared


def segment_calls(engine: Engine, segment: Segment, start: datetime | None,
                  end: datetime | None, embedding_model: str) -> tuple[list[StoredCall], int]:
    columns = {"app": EventRow.app, "model": EventRow.model,
               "model_version": EventRow.model_version, "prompt_version": EventRow.prompt_version}
    where: list[Any] = [columns[f].is_not_distinct_from(v) for f, v in segment.fields().items()]
    if start is not None:
        where.append(EventRow.timestamp >= start)
    if end is not None:
        where.append(EventRow.timestamp < end)
    return _calls(engine, where, embedding_model)


def calls_by_id(engine: Engine, ids: Sequence[str], embedding_model: str
                ) -> tuple[list[StoredCall], int]:
    found: list[StoredCall] = []
    cleared = 0
    for at in range(0, len(ids), 500):
        part, gone = _calls(engine, [EventRow.event_id.in_(list(ids[at:at + 500]))],
                            embedding_model)
        found += part
        cleared += gone
    return sorted(found, key=lambda c: (c.timestamp, c.event_id)), cleared


def ticket_source(engine: Engine, ticket_id: int) -> TicketSource | None:
    with Session(engine) as s:
        t = s.get(TicketRow, ticket_id)
        if t is None:
            return None
        return TicketSource(t.segment, t.detector, t.metric, dict(t.evidence or {}), t.dataset)


@dataclass(frozen=True)
class NewCall:
    source_id: str
    source_timestamp: datetime
    user_hash: str | None
    role: str
    cluster: str
    messages: list[dict[str, str]]
    serving: dict[str, Any]


class Replays:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, run_id: str) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            run = s.get(ReplayRunRow, run_id)
            return None if run is None else _record(run)

    def create(self, run_id: str, *, source: dict[str, Any], candidate: dict[str, Any],
               finding: dict[str, Any] | None, calls: Sequence[NewCall], now: datetime) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(ReplayRunRow(run_id=run_id, status="running", source=source,
                               candidate=candidate, finding=finding, verdict=None,
                               created_at=now, updated_at=now))
            s.flush()
            for c in calls:
                s.add(ReplayCallRow(
                    run_id=run_id, source_id=c.source_id, source_timestamp=c.source_timestamp,
                    user_hash=c.user_hash, role=c.role, cluster=c.cluster[:200],
                    messages=c.messages, serving=c.serving, status="pending", attempts=0,
                    candidate=None, error=None))

    def count(self, run_id: str, status: str | None = None) -> int:
        where = [ReplayCallRow.run_id == run_id]
        if status is not None:
            where.append(ReplayCallRow.status == status)
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(ReplayCallRow)
                                    .where(*where)).scalar_one())

    def todo(self, run_id: str, max_attempts: int) -> list[ReplayCallRow]:
        """Calls without an answer, and failed ones with attempts left."""
        with Session(self.engine) as s:
            return list(s.execute(select(ReplayCallRow).where(
                ReplayCallRow.run_id == run_id,
                (ReplayCallRow.status == "pending")
                | ((ReplayCallRow.status == "failed")
                   & (ReplayCallRow.attempts < max_attempts)))
                .order_by(ReplayCallRow.source_timestamp, ReplayCallRow.source_id)).scalars())

    def rows(self, run_id: str, statuses: Sequence[str] | None = None) -> list[ReplayCallRow]:
        where = [ReplayCallRow.run_id == run_id]
        if statuses is not None:
            where.append(ReplayCallRow.status.in_(list(statuses)))
        with Session(self.engine) as s:
            return list(s.execute(select(ReplayCallRow).where(*where).order_by(
                ReplayCallRow.source_timestamp, ReplayCallRow.source_id)).scalars())

    def save_answers(self, run_id: str,
                     done: Sequence[tuple[ReplayCallRow, dict[str, Any], dict[str, Any]]],
                     failed: Sequence[tuple[ReplayCallRow, str]], now: datetime) -> None:
        """Answered calls (row, serving as scored, candidate) and failed ones (row, error),
        in one transaction; an outage is waited out."""
        def write() -> None:
            with Session(self.engine) as s, s.begin():
                for row, serving, candidate in done:
                    s.execute(update(ReplayCallRow).where(
                        ReplayCallRow.run_id == run_id,
                        ReplayCallRow.source_id == row.source_id).values(
                        status="done", attempts=row.attempts + 1, error=None, done_at=now,
                        serving=serving, candidate=candidate))
                for row, error in failed:
                    s.execute(update(ReplayCallRow).where(
                        ReplayCallRow.run_id == run_id,
                        ReplayCallRow.source_id == row.source_id).values(
                        status="failed", attempts=row.attempts + 1, error=error, done_at=now))
                s.execute(update(ReplayRunRow).where(ReplayRunRow.run_id == run_id)
                          .values(updated_at=now))

        until_stored(write)

    def set_candidate(self, run_id: str, source_id: str, candidate: dict[str, Any]) -> None:
        def write() -> None:
            with Session(self.engine) as s, s.begin():
                s.execute(update(ReplayCallRow).where(
                    ReplayCallRow.run_id == run_id,
                    ReplayCallRow.source_id == source_id).values(candidate=candidate))

        until_stored(write)

    def finish(self, run_id: str, verdict: dict[str, Any], now: datetime) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(update(ReplayRunRow).where(ReplayRunRow.run_id == run_id).values(
                status="done", verdict=verdict, updated_at=now))

    def publish(self, run_id: str, html: str, notices: Sequence[Notice], now: datetime) -> int:
        """Keep the page with the run and add its notices to the outbox, in one transaction;
        returns how many notices were new."""
        def write() -> int:
            with Session(self.engine) as s, s.begin():
                s.execute(update(ReplayRunRow).where(ReplayRunRow.run_id == run_id).values(
                    html_gz=gzip.compress(html.encode("utf-8")), updated_at=now))
                return add_notices(s, notices, now)

        return until_stored(write)

    def listing(self) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            return [_record(r) for r in s.execute(select(ReplayRunRow).order_by(
                ReplayRunRow.created_at.desc())).scalars()]

    def html(self, run_id: str) -> str | None:
        with Session(self.engine) as s:
            run = s.get(ReplayRunRow, run_id)
            data = None if run is None else run.html_gz
        return None if data is None else gzip.decompress(data).decode("utf-8")


def _record(run: ReplayRunRow) -> dict[str, Any]:
    return {"run_id": run.run_id, "status": run.status, "source": run.source,
            "candidate": run.candidate, "finding": run.finding, "verdict": run.verdict,
            "created_at": as_utc(run.created_at).isoformat(),
            "updated_at": as_utc(run.updated_at).isoformat()}
