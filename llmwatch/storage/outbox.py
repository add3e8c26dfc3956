"""The outbox: notices are written with the decision, delivered after — never lost, never
doubled.

`enqueue` stores the decided notices and the alerts' new states in one transaction (a dedupe
key per notice makes a replayed round harmless). `deliver` claims due notices one at a time
with an atomic compare-and-set (so two workers never send the same one), sends each through
its sink (llmwatch/alerts/sinks.py) and marks it sent. A notice that was attempted before (a crash
after sending, before marking) is first checked with the sink (Slack: the channel's history,
by the outbox id in the message metadata), and only sent if it did not arrive. Rate limits (429 with
Retry-After, in seconds or as an HTTP date), server errors and connection errors postpone the
notice with back-off; they never drop it.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from llmwatch.alerts.decision import AlertState, Silence
from llmwatch.alerts.episodes import EpisodeChange
from llmwatch.alerts.sinks import DeliveryError, OutgoingNotice, Sink

from .tables import (
    AlertEpisodeRow,
    AlertOutboxRow,
    AlertSilenceRow,
    AlertStateRow,
    as_utc,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    dedupe_key: str
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    sink: str = "slack"
    payload: dict[str, Any] | None = None


def load_states(engine: Engine) -> dict[str, AlertState]:
    with Session(engine) as s:
        return {r.fingerprint: AlertState(r.status, _utc(r.since), _utc(r.last_notified),  # type: ignore[arg-type]
                                          r.notifications, r.segment, r.severity, r.streak,
                                          bool(r.acknowledged), r.detector or "",
                                          r.metric or "")
                for r in s.execute(select(AlertStateRow)).scalars()}


def active_silences(engine: Engine, now: datetime) -> tuple[Silence, ...]:
    with Session(engine) as s:
        rows = s.execute(select(AlertSilenceRow).where(AlertSilenceRow.ends_at > now)).scalars()
        return tuple(Silence(_utc(r.starts_at), _utc(r.ends_at), r.segment, r.detector,  # type: ignore[arg-type]
                             r.metric, r.reason) for r in rows)


def enqueue(engine: Engine, notices: Sequence[Notice], states: dict[str, AlertState],
            now: datetime, episodes: Sequence[EpisodeChange] = ()) -> int:
    """Store notices, states and alert episodes together; returns how many notices were new."""
    with Session(engine) as s, s.begin():
        for change in episodes:
            _apply_episode(s, change, now)
        for fp, st in states.items():
            s.merge(AlertStateRow(fingerprint=fp, status=st.status, since=st.since,
                                  last_notified=st.last_notified,
                                  notifications=st.notifications, segment=st.segment,
                                  severity=st.severity, streak=st.streak,
                                  acknowledged=st.acknowledged, detector=st.detector or None,
                                  metric=st.metric or None))
        return add_notices(s, notices, now)


def add_notices(s: Session, notices: Sequence[Notice], now: datetime) -> int:
    """Add notices to the outbox in the caller's transaction, skipping those it has."""
    new = 0
    for n in notices:
        exists = s.execute(select(AlertOutboxRow.id).where(
            AlertOutboxRow.dedupe_key == n.dedupe_key)).first()
        if exists:
            continue
        s.add(AlertOutboxRow(dedupe_key=n.dedupe_key, channel=n.channel, text=n.text,
                             blocks=n.blocks, sink=n.sink, payload=n.payload,
                             status="pending", attempts=0, next_attempt_at=now,
                             created_at=now))
        new += 1
    return new


def _apply_episode(s: Session, change: EpisodeChange, now: datetime) -> None:
    a = change.alert
    row = None
    if change.kind != "open":
        row = s.execute(select(AlertEpisodeRow).where(
            AlertEpisodeRow.fingerprint == a.fingerprint, AlertEpisodeRow.status == "firing")
            .order_by(AlertEpisodeRow.id.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        if change.kind == "close":
            return  # it started firing before episodes were recorded
        row = AlertEpisodeRow(fingerprint=a.fingerprint, detector=a.detector, segment=a.segment,
                              metric=a.metric, severity=a.severity, summary=a.summary[:2000],
                              status="firing", windows=0, notified=False, acknowledged=False,
                              fired_at=now, first_window_end=change.window_end)
        s.add(row)
    if change.kind == "close":
        row.status, row.resolved_at, row.resolved_window_end = "resolved", now, change.window_end
        return
    row.windows = max(row.windows or 0, change.streak)
    row.notified = bool(row.notified) or change.notified
    if a.severity == "critical":
        row.severity = "critical"


def deliver(engine: Engine, sinks: Mapping[str, Sink], *, worker: str = "w",
            now: Callable[[], datetime] = lambda: datetime.now(UTC),
            lease: timedelta = timedelta(seconds=60), limit: int = 50,
            on_failure: Callable[[], None] = lambda: None) -> int:
    """Deliver due notices through their sinks; returns how many were confirmed sent
    (`on_failure` is called for each attempt that failed and was postponed).

    Notices for a sink that is not configured stay pending (configure it, and they go)."""
    sent = 0
    for row_id in _due(engine, now(), limit, list(sinks)):
        if not _claim(engine, row_id, now(), lease):
            continue  # another worker has it
        with Session(engine) as s:
            row = s.get(AlertOutboxRow, row_id)
            assert row is not None
            sink, attempts = sinks[row.sink], row.attempts
            notice = OutgoingNotice(row_id, row.channel, row.text, row.blocks, row.payload)
        _update(engine, row_id, attempts=attempts + 1)  # from now on it may have been sent
        try:
            ref = sink.already_sent(notice) if attempts > 0 else None
            if ref is None:
                ref = sink.send(notice)
        except DeliveryError as exc:
            _postpone(engine, row_id, attempts + 1, now(), exc.status, exc.headers, str(exc))
            on_failure()
            continue
        except OSError as exc:  # connection refused, reset, timeout, lost reply
            _postpone(engine, row_id, attempts + 1, now(), None, {}, f"connection: {exc}")
            on_failure()
            continue
        _update(engine, row_id, status="sent", slack_ts=ref, sent_at=now(), claimed_until=None,
                last_error=None)
        sent += 1
    return sent


def pending(engine: Engine) -> int:
    return depth(engine, datetime.now(UTC))[0]


def depth(engine: Engine, now: datetime) -> tuple[int, float]:
    """Notices waiting to be sent, and the age in seconds of the oldest."""
    with engine.connect() as conn:
        n, oldest = conn.execute(select(func.count(), func.min(AlertOutboxRow.created_at))
                                 .where(AlertOutboxRow.status == "pending")).one()
    return int(n), (now - as_utc(oldest)).total_seconds() if oldest else 0.0


def retry_after(headers: Any, now: datetime) -> timedelta | None:
    """Slack's Retry-After: whole seconds, or an HTTP date."""
    value = None
    for key in ("Retry-After", "retry-after"):
        got = headers.get(key) if hasattr(headers, "get") else None
        if got:
            value = got[0] if isinstance(got, list) else got
            break
    if value is None:
        return None
    value = str(value).strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when - now, timedelta(0))


def _due(engine: Engine, now: datetime, limit: int, sinks: list[str]) -> list[int]:
    with Session(engine) as s:
        return list(s.execute(
            select(AlertOutboxRow.id)
            .where(AlertOutboxRow.status == "pending", AlertOutboxRow.next_attempt_at <= now,
                   AlertOutboxRow.sink.in_(sinks))
            .order_by(AlertOutboxRow.id).limit(limit)).scalars())


def _claim(engine: Engine, row_id: int, now: datetime, lease: timedelta) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(AlertOutboxRow)
            .where(AlertOutboxRow.id == row_id, AlertOutboxRow.status == "pending",
                   or_(AlertOutboxRow.claimed_until.is_(None),
                       AlertOutboxRow.claimed_until < now))
            .values(claimed_until=now + lease))
        return result.rowcount == 1


def _postpone(engine: Engine, row_id: int, attempts: int, now: datetime, status: int | None,
              headers: Any, error: str) -> None:
    wait = retry_after(headers, now) if status == 429 else None
    if wait is None:
        wait = timedelta(seconds=min(2 ** attempts, 300))
    log.warning("alert %d not delivered (%s); next try in %ss", row_id, error,
                wait.total_seconds())
    _update(engine, row_id, next_attempt_at=now + wait, claimed_until=None,
            last_error=f"{status or ''} {error}".strip())


def _update(engine: Engine, row_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(AlertOutboxRow).where(AlertOutboxRow.id == row_id).values(**values))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def last_error(engine: Engine, sink: str) -> str | None:
    """Why the newest pending notice of `sink` is not sent yet (None: not tried or not due)."""
    with engine.connect() as conn:
        return conn.execute(select(AlertOutboxRow.last_error).where(
            AlertOutboxRow.sink == sink, AlertOutboxRow.status == "pending")
            .order_by(AlertOutboxRow.id.desc()).limit(1)).scalar()


def notices(engine: Engine) -> list[AlertOutboxRow]:
    """Every notice in the outbox, sent or not, oldest first."""
    with Session(engine) as s:
        return list(s.execute(select(AlertOutboxRow).order_by(AlertOutboxRow.id)).scalars())
