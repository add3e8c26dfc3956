"""How far event time has settled, from the partitions the calls came through.

Calls are spread over the events topic's partitions, and partitions progress unevenly (one
worker is busier, one restarted). Windows cut in stored order then mix calls from different
times. A window is cut in event time instead, and only up to the watermark: the earliest of
the partitions' progress (the newest call seen from each). A partition that has not advanced
for `idle_s` while calls were seen elsewhere no longer holds the others back (traffic too thin
to reach every partition); when nothing advanced for `idle_s`, everything seen has settled.
Pure: the caller passes the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Watermark:
    idle_s: float = 10.0
    # partition -> (newest event time seen, wall time it last advanced)
    progress: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)

    def observe(self, partition: int, timestamp: datetime, now: datetime) -> None:
        seen = self.progress.get(partition)
        if seen is None or timestamp > seen[0]:
            self.progress[partition] = (timestamp, now)

    def value(self, now: datetime) -> datetime | None:
        """Event time up to which every call has arrived (None before any was seen)."""
        if not self.progress:
            return None
        newest = max(at for _, at in self.progress.values())
        if (now - newest).total_seconds() >= self.idle_s:
            return max(ts for ts, _ in self.progress.values())  # all quiet: all settled
        live = [ts for ts, at in self.progress.values()
                if (newest - at).total_seconds() < self.idle_s]
        return min(live)

    def late(self, timestamp: datetime, cursor: datetime | None) -> bool:
        """Whether a call arrived after the window its time belongs to was cut."""
        return cursor is not None and timestamp < cursor
