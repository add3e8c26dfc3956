"""What the CLI reads and changes of the alerts: their states and latest findings, acks and
silences. The rows come back detached (read in a closed session); changes are one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from .tables import AlertEpisodeRow, AlertSilenceRow, AlertStateRow, FindingRow, as_utc


def alert_states(engine: Engine) -> list[AlertStateRow]:
    with Session(engine) as s:
        return list(s.execute(select(AlertStateRow)).scalars())


def firing(engine: Engine) -> list[AlertStateRow]:
    with Session(engine) as s:
        return list(s.execute(select(AlertStateRow).where(AlertStateRow.status == "firing"))
                    .scalars())


def alerts_starting(engine: Engine, prefix: str, limit: int = 2) -> list[AlertStateRow]:
    """Alerts whose fingerprint starts with `prefix` (at most `limit`: one means unique)."""
    with Session(engine) as s:
        return list(s.execute(select(AlertStateRow).where(
            AlertStateRow.fingerprint.startswith(prefix, autoescape=True)).limit(limit))
            .scalars())


def latest_findings(engine: Engine, segment: str, metric: str | None,
                    limit: int = 10) -> list[FindingRow]:
    """The newest findings of a segment (of one metric, when given), newest first."""
    where = [FindingRow.segment == segment]
    if metric:
        where.append(FindingRow.metric == metric)
    with Session(engine) as s:
        return list(s.execute(select(FindingRow).where(*where)
                              .order_by(FindingRow.id.desc()).limit(limit)).scalars())


def acknowledge(engine: Engine, fingerprint: str) -> str | None:
    """Acknowledge a firing alert and its open episode. Returns None when done, else the
    alert's status (it was not firing: nothing changed) or "missing"."""
    with Session(engine) as s, s.begin():
        state = s.get(AlertStateRow, fingerprint)
        if state is None:
            return "missing"
        if state.status != "firing":
            return state.status
        state.acknowledged = True
        s.execute(update(AlertEpisodeRow).where(
            AlertEpisodeRow.fingerprint == fingerprint, AlertEpisodeRow.status == "firing")
            .values(acknowledged=True))
    return None


def add_silence(engine: Engine, *, segment: str | None, detector: str | None,
                metric: str | None, starts_at: datetime, ends_at: datetime,
                reason: str) -> int:
    """A new silence; returns its id."""
    with Session(engine) as s, s.begin():
        row = AlertSilenceRow(segment=segment, detector=detector, metric=metric,
                              starts_at=starts_at, ends_at=ends_at, reason=reason,
                              created_at=starts_at)
        s.add(row)
        s.flush()
        return row.id


def silences(engine: Engine, now: datetime, *, ended_too: bool = False
             ) -> Sequence[AlertSilenceRow]:
    """Active silences (or all, with `ended_too`), the latest ending first."""
    stmt = select(AlertSilenceRow).order_by(AlertSilenceRow.ends_at.desc())
    with Session(engine) as s:
        return s.execute(stmt if ended_too else stmt.where(AlertSilenceRow.ends_at > now)
                         ).scalars().all()


def end_silence(engine: Engine, silence_id: int, now: datetime) -> bool:
    """End an active silence now; False when there is no such active silence."""
    with Session(engine) as s, s.begin():
        row = s.get(AlertSilenceRow, silence_id)
        if row is None or as_utc(row.ends_at) <= now:
            return False
        row.ends_at = now
    return True


def firing_episodes(engine: Engine) -> list[AlertEpisodeRow]:
    """The alerts firing now, as their open episodes (what Alertmanager is told again)."""
    with Session(engine) as s:
        return list(s.execute(select(AlertEpisodeRow).where(
            AlertEpisodeRow.status == "firing")).scalars())
