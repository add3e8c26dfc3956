"""How far event time has settled, from the partitions the calls came through.

Calls are spread over the events topic's partitions, and partitions progress unevenly (one
worker is busier, one restarted). Windows cut in stored order then mix calls from different
times. A window is cut in event time instead, and only up to the watermark: the earliest of
the partitions' progress (the newest call seen from each), less `lateness_s` for calls that
reach their partition a little out of order (or share a timestamp); calls up to it have all
arrived. Until `partitions` partitions have been seen there is no watermark, unless calls have
been coming for `idle_s` (traffic too thin to reach every partition). A partition that has not
advanced for `idle_s` while calls came elsewhere no longer holds the others back; when nothing
advanced for `idle_s`, everything seen has settled. Calls without a source position
(partition -1: a library caller feeding one ordered stream) settle as they come.
Pure: the caller passes the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

UNKNOWN = -1  # the partition of a call handed in without its source position


@dataclass
class Watermark:
    idle_s: float = 10.0
    lateness_s: float = 5.0
    partitions: int = 0  # how many the events topic has, when known
    # partition -> (newest event time seen, wall time it last advanced)
    progress: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)
    first_seen: datetime | None = None

    def observe(self, partition: int, timestamp: datetime, now: datetime) -> None:
        self.first_seen = self.first_seen or now
        seen = self.progress.get(partition)
        if seen is None or timestamp > seen[0]:
            self.progress[partition] = (timestamp, now)

    def value(self, now: datetime) -> datetime | None:
        """Event time up to which every call has arrived (None while it cannot be told)."""
        if not self.progress or self.first_seen is None:
            return None
        newest = max(at for _, at in self.progress.values())
        if (now - newest).total_seconds() >= self.idle_s:  # all quiet: all settled
            return max(ts for ts, _ in self.progress.values())
        known = [p for p in self.progress if p != UNKNOWN]
        if len(known) < self.partitions and (now - self.first_seen).total_seconds() < self.idle_s:
            return None  # a partition not heard from yet may hold older calls
        slack = timedelta(seconds=self.lateness_s)
        return min(ts - (slack if p != UNKNOWN else timedelta(0))
                   for p, (ts, at) in self.progress.items()
                   if (newest - at).total_seconds() < self.idle_s)
