"""The tickets table, for the stages and sinks that read and write it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .outbox import Notice, add_notices
from .tables import ReplayRunRow, TicketRow


@dataclass(frozen=True)
class TicketUpdate:
    """A ticket as a round opens or updates it (one per fingerprint: segment and problem)."""

    fingerprint: str
    title: str
    segment: str
    detector: str
    metric: str
    action: str
    evidence: dict[str, Any]
    dataset: str
    examples: int
    windows: int


@dataclass(frozen=True)
class TicketContent:
    """What a tracker shows of a ticket, as it is now, and the issues it already has."""

    ticket_id: int
    fingerprint: str
    title: str
    action: str
    evidence: dict[str, Any]
    examples: int
    external: dict[str, str]
    replays: tuple[dict[str, Any], ...] = ()  # candidates replayed on it (`llmwatch replay`)


class Tickets:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, t: TicketUpdate, now: datetime, trackers: Sequence[str] = ()) -> int:
        """Open or update the ticket of `t.fingerprint`; in the same transaction, one outbox
        notice per tracker for this update (sent with the ticket as it is then)."""
        with Session(self.engine) as s, s.begin():
            row = s.execute(select(TicketRow).where(
                TicketRow.fingerprint == t.fingerprint)).scalar_one_or_none()
            if row is None:
                row = TicketRow(fingerprint=t.fingerprint, created_at=now)
                s.add(row)
            row.status, row.title, row.segment = "open", t.title, t.segment
            row.detector, row.metric, row.action = t.detector, t.metric, t.action
            row.evidence, row.dataset, row.examples = t.evidence, t.dataset, t.examples
            row.windows, row.updated_at = t.windows, now
            s.flush()
            ticket_id = row.id
            add_notices(s, [Notice(f"ticket:{ticket_id}:{name}:{t.windows}", "", t.title, [],
                                   name, {"ticket_id": ticket_id}) for name in trackers], now)
        return ticket_id

    def listing(self) -> list[TicketRow]:
        """Every ticket, the latest updated first."""
        with Session(self.engine) as s:
            return list(s.execute(select(TicketRow).order_by(TicketRow.updated_at.desc()))
                        .scalars())

    def get(self, ticket_id: int) -> TicketRow | None:
        with Session(self.engine) as s:
            return s.get(TicketRow, ticket_id)

    def content(self, ticket_id: int) -> TicketContent | None:
        with Session(self.engine) as s:
            row = s.get(TicketRow, ticket_id)
            if row is None:
                return None
            return TicketContent(row.id, row.fingerprint, row.title, row.action,
                                 dict(row.evidence or {}), row.examples,
                                 {k: str(v) for k, v in (row.external or {}).items()},
                                 tuple(replays_of(s, row.id)))

    def remember(self, ticket_id: int, tracker: str, ref: str) -> None:
        """Record the tracker's issue of a ticket (its number or key)."""
        with Session(self.engine) as s, s.begin():
            row = s.get(TicketRow, ticket_id)
            if row is not None:
                row.external = {**(row.external or {}), tracker: ref}

    def documents(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The tickets touched in a round, for the tickets topic."""
        docs = []
        with Session(self.engine) as s:
            for ticket_id in ids:
                t = s.get(TicketRow, ticket_id)
                if t is not None:
                    docs.append({"id": t.id, "fingerprint": t.fingerprint, "status": t.status,
                                 "title": t.title, "segment": t.segment, "action": t.action,
                                 "windows": t.windows, "examples": t.examples,
                                 "evidence": t.evidence, "external": t.external})
        return docs


def replays_of(s: Session, ticket_id: int, newest: int = 5) -> list[dict[str, Any]]:
    """The finished replays of a ticket, newest first: run, candidate and verdict."""
    runs = s.execute(select(ReplayRunRow).where(ReplayRunRow.status == "done")
                     .order_by(ReplayRunRow.updated_at.desc())).scalars()
    out = []
    for run in runs:
        if (run.finding or {}).get("ticket_id") == ticket_id and run.verdict:
            out.append({"run_id": run.run_id, "model": run.candidate.get("model"),
                        "decision": run.verdict["decision"],
                        "headline": run.verdict["headline"]})
            if len(out) == newest:
                break
    return out
