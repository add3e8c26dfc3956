"""What the Kafka clients say, in proportion: a healthy start shows no alarm, and a broker
outage is one line when it starts, a reminder a minute, and one line when it is over — not
thousands.

aiokafka logs every failed connection, metadata refresh, fetch and heartbeat as an ERROR or
WARNING, several per second while a broker is down, and faust adds its own. The filters here
sit on those loggers; everything that is not about reaching the broker passes unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LOGGERS = ("aiokafka", "aiokafka.client", "aiokafka.cluster", "aiokafka.conn",
           "aiokafka.consumer.consumer", "aiokafka.consumer.group_coordinator",
           "aiokafka.consumer.fetcher", "aiokafka.producer.producer",
           "aiokafka.producer.sender", "faust.transport.drivers.aiokafka",
           "faust.transport.consumer", "faust.transport.producer")

# every consumer meets these on a healthy start and retries by itself
STARTUP = ("GroupCoordinatorNotAvailable", "NotCoordinatorForGroup",
           "Topic not found in cluster metadata", "LEADER_NOT_AVAILABLE",
           "Group Coordinator Request failed")
# the broker cannot be reached (or answers that it is going away)
UNREACHABLE = ("Unable connect", "Unable to connect", "Unable to update metadata",
               "NodeNotReady", "KafkaConnectionError", "Connection refused", "ConnectionError",
               "Connect attempt", "coordinator dead", "Coordinator dead",
               "Heartbeat failed", "Heartbeat session expired", "RequestTimedOut",
               "Failed fetch messages", "KafkaTimeoutError", "Got error produce response",
               "NotLeaderForPartition", "Error sending", "Unexpected error in",
               "OffsetCommit failed", "Failed to commit", "UnknownMemberId",
               "Connection lost", "socket disconnected", "no brokers", "Broker is not",
               "timed out", "Timeout")
BACK = ("Discovered coordinator", "Joined group", "Successfully synced group")


class KafkaLogFilter(logging.Filter):
    """Connection trouble is announced once it lasted `grace_s` (a rebalance or a re-elected
    coordinator is no outage), then reminded every `remind_every_s`, and its end said once."""

    def __init__(self, *, grace_s: float = 5.0, remind_every_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.grace_s = grace_s
        self.remind_every_s = remind_every_s
        self.clock = clock
        self.since: float | None = None  # first connection trouble of the current spell
        self.announced = False
        self.suppressed = 0
        self._said = 0.0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and any(s in message for s in STARTUP):
            _set_level(record, logging.INFO)
            return True
        if record.levelno >= logging.WARNING and any(s in message for s in UNREACHABLE):
            return self._unreachable(record, message)
        if any(s in message for s in BACK):
            self.reachable()
        return True

    def _unreachable(self, record: logging.LogRecord, message: str) -> bool:
        now = self.clock()
        with self._lock:
            if self.since is None:
                self.since, self.suppressed = now, 0
            if not self.announced and now - self.since >= self.grace_s:
                self.announced, self._said = True, now
                text = (f"Kafka unreachable for {now - self.since:.0f}s: {message[:300]} "
                        f"(connection errors are summed up every {self.remind_every_s:.0f}s)")
            elif self.announced and now - self._said >= self.remind_every_s:
                self._said = now
                text = (f"Kafka still unreachable after {now - self.since:.0f}s "
                        f"({self.suppressed} connection messages since the last line): "
                        f"{message[:200]}")
                self.suppressed = 0
            else:
                self.suppressed += 1
                return False
        _set_level(record, logging.WARNING)
        record.msg, record.args = text, ()
        return True

    def reachable(self) -> None:
        """Kafka answered again (a batch went through, or the group re-formed)."""
        with self._lock:
            if self.since is None:
                return
            down, announced = self.clock() - self.since, self.announced
            suppressed = self.suppressed
            self.since, self.announced, self.suppressed = None, False, 0
        if announced:
            logging.getLogger("llmwatch.kafka").warning(
                "Kafka reachable again after %.0fs (%d connection messages left out)", down,
                suppressed)


def _set_level(record: logging.LogRecord, level: int) -> None:
    record.levelno, record.levelname = level, logging.getLevelName(level)


def install(remind_every_s: float = 60.0) -> KafkaLogFilter:
    """One filter on every Kafka client logger of this process; returns it."""
    shared = KafkaLogFilter(remind_every_s=remind_every_s)
    for name in LOGGERS:
        logging.getLogger(name).addFilter(shared)
    return shared
