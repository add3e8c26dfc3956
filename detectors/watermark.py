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

Quiet is not the same as done: a partition whose calls still wait in the events topic (its
consumer group's lag, `waiting`, when the caller knows it) is behind, not idle — it holds the
watermark at its newest call, or, never heard from yet, holds it back altogether.
Pure: the caller passes the clock and the lag.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def value(self, now: datetime, waiting: Mapping[int, int] | None = None) -> datetime | None:
        """Event time up to which every call has arrived (None while it cannot be told).
        `waiting`: calls per partition not yet read from the events topic, when known."""
        if not self.progress or self.first_seen is None:
            return None
        behind = {p for p, n in (waiting or {}).items() if n > 0}
        if behind - set(self.progress):
            return None  # calls wait in a partition not heard from yet: they may be older
        newest = max(at for _, at in self.progress.values())
        if (now - newest).total_seconds() >= self.idle_s and not behind:  # all settled
            return max(ts for ts, _ in self.progress.values())
        known = [p for p in self.progress if p != UNKNOWN]
        if len(known) < self.partitions and (now - self.first_seen).total_seconds() < self.idle_s:
            return None  # a partition not heard from yet may hold older calls
        slack = timedelta(seconds=self.lateness_s)
        return min(ts - (slack if p != UNKNOWN else timedelta(0))
                   for p, (ts, at) in self.progress.items()
                   if (newest - at).total_seconds() < self.idle_s or p in behind)
