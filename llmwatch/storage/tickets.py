"""The tickets table, for the stages and sinks that read and write it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .tables import TicketRow


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


class Tickets:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def content(self, ticket_id: int) -> TicketContent | None:
        with Session(self.engine) as s:
            row = s.get(TicketRow, ticket_id)
            if row is None:
                return None
            return TicketContent(row.id, row.fingerprint, row.title, row.action,
                                 dict(row.evidence or {}), row.examples,
                                 {k: str(v) for k, v in (row.external or {}).items()})

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
