"""The leader's self-checks: read the group's lag from Kafka, traffic per segment and the
outbox from the database, and judge them with `alerts/watchdog.py`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from llmwatch.alerts import watchdog as checks
from llmwatch.config import Settings
from llmwatch.detectors.findings import Finding
from llmwatch.observability import read_lag
from llmwatch.storage import Store, outbox
from llmwatch.storage.traffic import segment_traffic

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lag_history: list[tuple[datetime, int]] = []
        self.drift_history: list[tuple[datetime, int]] = []  # the enriched topic's
        self._offsets: tuple[int, int] | None = None  # events, dead letters at last check

    def check(self, store: Store, now: datetime) -> list[Finding]:
        w = self.settings.watchdog
        found: list[Finding] = []
        try:
            found += self._kafka(now)
        except Exception as exc:  # noqa: BLE001 - Kafka unreachable: its own lines say so
            log.debug("watchdog could not read Kafka: %s", exc)
        found += self._traffic(store, now)
        pending, oldest = outbox.depth(store.engine, now)
        found.append(checks.delivery(oldest, pending, now, failing_s=w.delivery_failing_s))
        return found

    def _kafka(self, now: datetime) -> list[Finding]:
        s, w = self.settings, self.settings.watchdog
        options = s.kafka.kafka_python_options()
        topics = [s.topics.events] + ([s.topics.enriched] if s.drift.enabled else [])
        both = read_lag(options, s.worker.app_id, topics)
        lags = [x for x in both if x.topic == s.topics.events]
        self.lag_history = _kept(self.lag_history, now, sum(x.records for x in lags),
                                 w.lag_growing_s)
        found = [checks.falling_behind(self.lag_history, now, max_lag=w.max_lag,
                                       growing_s=w.lag_growing_s)]
        if s.drift.enabled:
            behind = sum(x.records for x in both if x.topic == s.topics.enriched)
            self.drift_history = _kept(self.drift_history, now, behind, w.lag_growing_s)
            found.append(checks.falling_behind(self.drift_history, now, max_lag=w.max_lag,
                                               growing_s=w.lag_growing_s, stage="drift"))
        from llmwatch.streams.topics import end_offsets

        offsets = (sum(x.end for x in lags), end_offsets(s, s.topics.deadletter))
        if self._offsets is not None:
            found.append(checks.dead_letters(offsets[1] - self._offsets[1],
                                             offsets[0] - self._offsets[0], now,
                                             max_rate=w.dead_letter_rate))
        self._offsets = offsets
        return found

    def _traffic(self, store: Store, now: datetime) -> list[Finding]:
        w = self.settings.watchdog
        found = []
        for t in segment_traffic(store, now - timedelta(seconds=w.traffic_window_s)):
            since = (now - t.last_stored).total_seconds() if t.last_stored else None
            seen = (now - t.first_stored).total_seconds() if t.first_stored else 0.0
            found += checks.traffic(t.segment, usual_per_s=t.usual_per_s, since_last_s=since,
                                    recent=t.recent, window_s=min(w.traffic_window_s, seen),
                                    stop_s=w.traffic_stop_s, now=now)
        return found

def _kept(history: list[tuple[datetime, int]], now: datetime, lag: int,
          growing_s: float) -> list[tuple[datetime, int]]:
    """The readings of the last two `growing_s`, and this one."""
    return [(t, n) for t, n in history if t >= now - timedelta(seconds=2 * growing_s)] + [
        (now, lag)]
