"""The second opinion's storage: the review queue (claimed with a lease, like the alert
outbox, so several review workers share it), verdicts by tier, and each day's spend."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.orm import Session

from llmwatch.detectors.second_opinion import Call, Verdict

from .tables import EventRow, ReviewQueueRow, ReviewSpendRow, VerdictRow, as_utc

log = logging.getLogger("llmwatch.review")


def enqueue(engine: Engine, items: Sequence[tuple[str, Sequence[str], Mapping[str, Any]]],
            now: datetime) -> int:
    """Queue calls for a second opinion (event id, reasons, cheap scores); a call queued
    before (a replay) is left as it is. Returns how many were new."""
    if not items:
        return 0
    ids = [i for i, _, _ in items]
    with Session(engine) as s, s.begin():
        known = set(s.execute(select(ReviewQueueRow.event_id)
                              .where(ReviewQueueRow.event_id.in_(ids))).scalars())
        present = set(s.execute(select(EventRow.event_id)
                                .where(EventRow.event_id.in_(ids))).scalars())
        new = [(i, r, c) for i, r, c in items if i not in known and i in present]
        s.add_all(ReviewQueueRow(
            event_id=i, reasons=list(r), cheap={k: list(v) for k, v in c.items()},
            status="pending", answered=[], attempts=0, next_attempt_at=now,
            enqueued_at=now) for i, r, c in new)
    return len(new)


def depth(engine: Engine, now: datetime) -> tuple[int, float]:
    """Calls waiting for a second opinion, and the age in seconds of the oldest."""
    with engine.connect() as conn:
        n, oldest = conn.execute(select(func.count(), func.min(ReviewQueueRow.enqueued_at))
                                 .where(ReviewQueueRow.status == "pending")).one()
    return int(n), (now - as_utc(oldest)).total_seconds() if oldest else 0.0


def due(engine: Engine, now: datetime, limit: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(ReviewQueueRow.event_id)
            .where(ReviewQueueRow.status == "pending", ReviewQueueRow.next_attempt_at <= now,
                   or_(ReviewQueueRow.claimed_until.is_(None),
                       ReviewQueueRow.claimed_until < now))
            .order_by(ReviewQueueRow.enqueued_at, ReviewQueueRow.event_id)
            .limit(limit)).scalars())


def claim(engine: Engine, event_id: str, now: datetime, lease: timedelta) -> bool:
    """Take a queued call for `lease` (another review worker skips it meanwhile)."""
    with engine.begin() as conn:
        return conn.execute(
            update(ReviewQueueRow)
            .where(ReviewQueueRow.event_id == event_id, ReviewQueueRow.status == "pending",
                   or_(ReviewQueueRow.claimed_until.is_(None),
                       ReviewQueueRow.claimed_until < now))
            .values(claimed_until=now + lease)).rowcount == 1


def queued(engine: Engine, event_id: str) -> tuple[Call, list[str], list[str], int] | None:
    """A claimed call as its evaluators read it, with why it was queued, which evaluators
    have answered and how often it was tried; None if the call was erased meanwhile."""
    with Session(engine) as s:
        row = s.get(ReviewQueueRow, event_id)
        event = s.get(EventRow, event_id)
        if row is None or event is None:
            return None
        cheap = {k: (float(v[0]), bool(v[1])) for k, v in (row.cheap or {}).items()}
        return (call_of(event, cheap), list(row.reasons), list(row.answered or []),
                int(row.attempts))


def call_of(event: EventRow, cheap: Mapping[str, tuple[float, bool]]) -> Call:
    """What an evaluator reads of a stored call: the user's turns, tool output, the system
    prompt and the answer."""
    messages = event.prompt_messages or []
    documents = tuple(m.get("content", "") for m in messages if m.get("role") == "tool")
    system = "\n".join(m.get("content", "") for m in messages
                       if m.get("role") in ("system", "developer")) or None
    return Call(event_id=event.event_id, prompt=event.prompt_text,
                response=event.response_text, documents=documents, system=system, cheap=cheap)


def record(engine: Engine, event_id: str, verdicts: Iterable[Verdict], answered: Sequence[str],
           reasons: Sequence[str], now: datetime, *, finished: bool,
           redact: Callable[[str], str] = lambda t: t) -> None:
    """Store an evaluator's verdicts and where the call stands, in one transaction."""
    with Session(engine) as s, s.begin():
        for v in verdicts:
            s.execute(delete(VerdictRow).where(
                VerdictRow.event_id == v.event_id, VerdictRow.check == v.check,
                VerdictRow.tier == v.tier))
            s.add(VerdictRow(event_id=v.event_id, check=v.check, tier=v.tier,
                             evaluator=v.evaluator[:200], flagged=v.flagged,
                             score=float(v.score), reason=redact(v.reason)[:2000],
                             reasons=list(reasons), decided_at=now))
        values: dict[str, Any] = {"answered": list(answered), "claimed_until": None,
                                  "last_error": None}
        if finished:
            values.update(status="done", done_at=now)
        s.execute(update(ReviewQueueRow).where(ReviewQueueRow.event_id == event_id)
                  .values(**values))


def postpone(engine: Engine, event_id: str, attempts: int, now: datetime, error: str,
             *, give_up: bool = False) -> None:
    """Try the call again later (back-off doubling to 5 minutes), or mark it failed."""
    wait = timedelta(seconds=min(2 ** attempts, 300))
    values: dict[str, Any] = {"attempts": attempts, "claimed_until": None,
                              "last_error": error[:2000], "next_attempt_at": now + wait}
    if give_up:
        values.update(status="failed", done_at=now)
    with engine.begin() as conn:
        conn.execute(update(ReviewQueueRow).where(ReviewQueueRow.event_id == event_id)
                     .values(**values))


def release(engine: Engine, event_id: str, until: datetime) -> None:
    """Hand a claimed call back untried (the budget is spent): due again at `until`."""
    with engine.begin() as conn:
        conn.execute(update(ReviewQueueRow).where(ReviewQueueRow.event_id == event_id)
                     .values(claimed_until=None, next_attempt_at=until))


def spent(engine: Engine, day: str) -> tuple[int, float]:
    with engine.connect() as conn:
        row = conn.execute(select(ReviewSpendRow.calls, ReviewSpendRow.usd)
                           .where(ReviewSpendRow.day == day)).one_or_none()
    return (0, 0.0) if row is None else (int(row[0]), float(row[1]))


def spend(engine: Engine, day: str, calls: int, usd: float) -> None:
    """Add to a day's spend (an atomic increment: review workers share the ledger)."""
    with engine.begin() as conn:
        updated = conn.execute(update(ReviewSpendRow).where(ReviewSpendRow.day == day).values(
            calls=ReviewSpendRow.calls + calls, usd=ReviewSpendRow.usd + usd)).rowcount
        if not updated:
            try:
                with conn.begin_nested():
                    conn.execute(ReviewSpendRow.__table__.insert().values(
                        day=day, calls=calls, usd=usd))
            except Exception:  # noqa: BLE001 - another worker inserted the day first
                conn.execute(update(ReviewSpendRow).where(ReviewSpendRow.day == day).values(
                    calls=ReviewSpendRow.calls + calls, usd=ReviewSpendRow.usd + usd))


def verdicts_of(conn: Any, ids: Sequence[str]) -> list[Verdict]:
    """Every stored second opinion on these calls (`conn`: an open connection)."""
    out = []
    for start in range(0, len(ids), 500):
        for r in conn.execute(select(
                VerdictRow.event_id, VerdictRow.check, VerdictRow.tier, VerdictRow.evaluator,
                VerdictRow.flagged, VerdictRow.score, VerdictRow.reason)
                .where(VerdictRow.event_id.in_(ids[start:start + 500]))):
            out.append(Verdict(r.event_id, r.check, r.tier, r.evaluator, bool(r.flagged),
                               float(r.score), r.reason))
    return out


def verdicts(engine: Engine) -> list[VerdictRow]:
    """Every stored verdict (tests and the CLI)."""
    with Session(engine) as s:
        return list(s.execute(select(VerdictRow).order_by(
            VerdictRow.decided_at, VerdictRow.event_id)).scalars())


def queue(engine: Engine) -> list[ReviewQueueRow]:
    with Session(engine) as s:
        return list(s.execute(select(ReviewQueueRow).order_by(
            ReviewQueueRow.enqueued_at)).scalars())


def summary(engine: Engine, now: datetime, days: float = 7.0
            ) -> tuple[dict[str, Any], list[tuple[Verdict, list[str]]]]:
    """The second opinion at a glance (`llmwatch status`): what waits, failed, and what each
    tier decided in the last `days`; with those verdicts and why their calls were chosen
    (`second_opinion.sample_rates` turns them into the sample's rates)."""
    pending, oldest = depth(engine, now)
    since = now - timedelta(days=days)
    with engine.connect() as conn:
        failed = int(conn.execute(select(func.count()).select_from(ReviewQueueRow).where(
            ReviewQueueRow.status == "failed")).scalar_one())
        rows = conn.execute(select(
            VerdictRow.event_id, VerdictRow.check, VerdictRow.tier, VerdictRow.evaluator,
            VerdictRow.flagged, VerdictRow.score, VerdictRow.reasons)
            .where(VerdictRow.decided_at >= since)).all()
    tiers: dict[str, int] = {}
    for r in rows:
        tiers[r.tier] = tiers.get(r.tier, 0) + 1
    verdicts = [(Verdict(r.event_id, r.check, r.tier, r.evaluator, bool(r.flagged),
                         float(r.score)), list(r.reasons or [])) for r in rows]
    return ({"pending": pending, "oldest_s": round(oldest, 1), "failed": failed,
             "verdicts_by_tier": tiers, "days": days}, verdicts)
