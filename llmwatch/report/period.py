"""Report periods and the schedule, in the configured time zone. Pure: the clock is passed in.

A scheduled run at time T (by the cron) reports the `days` days up to local midnight before T,
and compares them with the same number of days before that. A run's key names it, so each
scheduled run produces one report, whichever worker gets there first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("report periods need time-zone-aware datetimes")
        if self.end <= self.start:
            raise ValueError(f"the period ends ({self.end:%Y-%m-%d %H:%M}) before it starts "
                             f"({self.start:%Y-%m-%d %H:%M})")

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Period:
        """The period of the same length just before this one ('last week')."""
        return Period(self.start - self.length, self.start)

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def days(self, tz: ZoneInfo) -> list[datetime]:
        """Local midnights (as aware datetimes) of the days the period touches, for trends."""
        day = self.start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        out = []
        while day < self.end:
            out.append(day)
            day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe next midnight
        return out

    def label(self, tz: ZoneInfo) -> str:
        last = (self.end - timedelta(microseconds=1)).astimezone(tz)
        return f"{self.start.astimezone(tz):%a %d %b %Y} – {last:%a %d %b %Y}"


def last_run(cron: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The most recent time at or before `now` the cron fired (aware, in UTC)."""
    from croniter import croniter

    local_now = now.astimezone(tz)
    it = croniter(cron, local_now + timedelta(seconds=1))
    return it.get_prev(datetime).astimezone(UTC)


def scheduled_period(run: datetime, tz: ZoneInfo, days: int) -> Period:
    """The `days` days up to local midnight before the run."""
    end = run.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=days, hours=-2)).replace(hour=0)  # DST-safe
    return Period(start.astimezone(UTC), end.astimezone(UTC))


def run_key(run: datetime) -> str:
    return f"scheduled:{run.astimezone(UTC):%Y-%m-%dT%H:%M}Z"


def parse_day_or_time(text: str, tz: ZoneInfo) -> datetime:
    """'2026-11-16' (local midnight) or an ISO date-time (local unless it names its offset)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date (2026-11-16) or date-time "
                         "(2026-11-16T08:00, 2026-11-16T08:00+01:00)") from exc
    return value if value.tzinfo else value.replace(tzinfo=tz)
