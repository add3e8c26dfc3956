"""The producer SDK for apps: one `emit(...)` per LLM call, which never blocks or raises.

    from llmwatch.sdk import Monitor
    monitor = Monitor(bootstrap_servers="kafka:9092")
    event_id = monitor.emit(app="support-bot", model="gpt-4o", prompt=question,
                            response=answer, latency_ms=840, input_tokens=120, output_tokens=80)
    monitor.feedback(event_id, thumbs="down")

`emit` validates, then puts the event on a bounded in-memory queue and returns its event id
at once (None if the event was dropped). A
background thread sends the queue to Kafka (kafka-python, acks=all, idempotent), keyed by
app/model so one app/model's events keep their order. If Kafka is slow or down, events wait in
the queue; when the queue is full, new events are dropped and counted — the app never waits.
`stats()` reports what was sent, dropped and failed; `close()` (also run at exit) flushes
for at most `sdk.close_timeout_s` (2 s): the app's exit is never held longer, and what is
left is counted (`unsent`) and said once.

A guest in the app's process: kafka-python's own loggers are set to `sdk.kafka_log_level`
(CRITICAL) unless the app set them, and the SDK says each change of Kafka's state in one
line — "cannot reach Kafka", "reached Kafka", "Kafka stopped acknowledging" — not one per
retry.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from llmwatch.config import KafkaSettings, load_settings
from llmwatch.schemas import FeedbackEvent, LLMEvent, hash_id

log = logging.getLogger("llmwatch.sdk")

__all__ = ["Monitor", "MonitorStats", "hash_id"]


@dataclass(frozen=True)
class MonitorStats:
    accepted: int  # passed validation and queued
    sent: int  # acknowledged by Kafka
    queued: int  # waiting to be sent
    dropped_full: int  # queue full: Kafka too slow or down for too long
    dropped_invalid: int  # failed validation (see the log for why)
    failed: int  # Kafka gave up on them (after the producer's own retries)
    ids_not_hashed: int = 0  # sent without user_id/session_id: no LLMWATCH_SDK__ID_SALT set
    unsent: int = 0  # still waiting when the app closed the SDK (or emitted after it)
    # accepted = sent + failed + queued + unsent, at every moment


class Monitor:
    """Sends LLMEvents and FeedbackEvents to Kafka without ever blocking the calling app."""

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        topic: str | None = None,
        max_buffer: int | None = None,
        kafka: KafkaSettings | None = None,
        producer_options: dict[str, Any] | None = None,
        close_timeout_s: float | None = None,
    ) -> None:
        settings = load_settings()
        self._close_timeout_s = (settings.sdk.close_timeout_s if close_timeout_s is None
                                 else close_timeout_s)
        kafka_logs = logging.getLogger("kafka")
        if kafka_logs.level == logging.NOTSET:  # the app's own setting wins
            kafka_logs.setLevel(settings.sdk.kafka_log_level.upper())
        self._kafka = kafka or settings.kafka
        if bootstrap_servers:
            self._kafka = self._kafka.model_copy(update={"bootstrap_servers": bootstrap_servers})
        self.topic = topic or settings.topics.events
        salt = settings.sdk.id_salt
        self._id_salt = salt.get_secret_value() if salt else None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_buffer or settings.sdk.max_buffer)
        self._producer_options = producer_options or {}
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("accepted", "sent", "dropped_full", "dropped_invalid", "failed", "ids_not_hashed"),
            0,
        )
        self._in_flight = 0
        self._after_close = 0
        self._last_drop_log = 0.0
        self._warned_salt = False
        self._closed = False
        self._stop = threading.Event()
        self._kafka_state = "connecting"  # → "down" | "up" | "failing", each change said once
        self._failed_while_failing = 0
        self._thread = threading.Thread(target=self._run, name="llmwatch-sdk", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- the app's side: never blocks, never raises -------------------------------------
    def emit(self, event: LLMEvent | FeedbackEvent | None = None, **fields: Any) -> str | None:
        """Queue one event (an LLMEvent, a FeedbackEvent, or LLMEvent fields as keywords);
        returns its event id (the feedback id for feedback), or None if it was dropped.

        Missing event_id and timestamp are filled in. Raw `user_id=` and `session_id=` are
        hashed with LLMWATCH_SDK__ID_SALT before they leave the app; without a salt they are
        left out (the event still goes), said once in the log and counted in `stats()`.
        """
        try:
            self._hash_ids(fields)
            if event is None:
                fields.setdefault("event_id", str(uuid.uuid4()))
                fields.setdefault("timestamp", datetime.now(UTC))
                event = LLMEvent(**fields)
            payload = event.model_dump_json(exclude_none=True).encode()
            key = event.partition_key
        except (ValidationError, TypeError, ValueError) as exc:
            self._count("dropped_invalid")
            log.warning("llmwatch: event dropped, it is invalid: %s", _describe(exc))
            return None
        if self._closed:
            with self._lock:
                self._after_close += 1
            return None
        try:
            self._queue.put_nowait((key, payload))
        except queue.Full:
            self._count("dropped_full")
            self._log_drop()
            return None
        self._count("accepted")
        return event.feedback_id if isinstance(event, FeedbackEvent) else event.event_id

    def feedback(self, event_id: str | None, *, thumbs: str | None = None,
                 score: float | None = None, comment: str | None = None,
                 **fields: Any) -> str | None:
        """Queue a user's verdict on an earlier call (the id `emit` returned); returns the
        feedback id, or None if it was dropped."""
        try:
            event = FeedbackEvent(
                feedback_id=fields.pop("feedback_id", str(uuid.uuid4())),
                event_id=event_id, timestamp=fields.pop("timestamp", datetime.now(UTC)),
                thumbs=thumbs, score=score, comment=comment, **fields,
            )
        except (ValidationError, TypeError) as exc:
            self._count("dropped_invalid")
            log.warning("llmwatch: feedback dropped, it is invalid: %s", _describe(exc))
            return None
        return self.emit(event)

    def _hash_ids(self, fields: dict[str, Any]) -> None:
        raw = [(name, hashed) for name, hashed in (("user_id", "user_hash"),
                                                   ("session_id", "session_hash"))
               if name in fields]
        if not raw:
            return
        if not self._id_salt:
            for name, _ in raw:
                fields.pop(name)
            self._count("ids_not_hashed")
            if not self._warned_salt:
                self._warned_salt = True
                log.error("llmwatch: user_id/session_id are NOT sent: set LLMWATCH_SDK__ID_SALT "
                          "(a secret string) so they can be hashed before they leave the app, "
                          "or pass user_hash/session_hash yourself. Events are sent without "
                          "them; Monitor.stats().ids_not_hashed counts them.")
            return
        for name, hashed in raw:
            fields[hashed] = hash_id(str(fields.pop(name)), self._id_salt)

    def stats(self) -> MonitorStats:
        with self._lock:
            c = dict(self._counts)
            waiting = self._queue.qsize() + self._in_flight
            if self._closed:  # nothing waits any more: what is left was not sent
                return MonitorStats(queued=0, unsent=waiting + self._after_close, **c)
        return MonitorStats(queued=waiting, **c)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued has been acknowledged or failed; True if so."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.stats().queued == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout_s: float | None = None) -> None:
        """Flush for up to `timeout_s` (`sdk.close_timeout_s`, 2 s, by default) in all, then
        stop; events still waiting are counted as `unsent` and said once in the log."""
        if self._closed:
            return
        budget = self._close_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + budget
        self.flush(budget)
        with self._lock:
            self._closed = True
        self._stop.set()
        self._thread.join(max(0.05, deadline - time.monotonic()))
        left = self.stats().unsent
        if left:
            log.warning("llmwatch: %d events not sent to Kafka at %s before the app closed "
                        "(%s)", left, self._kafka.bootstrap_servers,
                        "Kafka unreachable" if self._kafka_state != "up" else
                        f"not acknowledged within {budget:g} s; sdk.close_timeout_s")

    # -- the sending thread ---------------------------------------------------------------
    def _run(self) -> None:
        producer = None
        backoff = 0.5
        while producer is None:
            if self._stop.is_set():
                return
            producer = self._connect()
            if producer is None:
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        try:
            while not self._stop.is_set():
                try:
                    key, payload = self._queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                with self._lock:
                    self._in_flight += 1
                try:
                    future = producer.send(self.topic, key=key, value=payload)
                    future.add_callback(lambda _md: self._done("sent"))
                    future.add_errback(self._failed)
                except Exception as exc:  # noqa: BLE001 - the app must never see this
                    self._failed(exc)
        finally:
            # the app is exiting: whatever is not acknowledged now is counted by close()
            producer.close(timeout=0)

    def _connect(self) -> Any:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            producer = KafkaProducer(
                **self._kafka.kafka_python_options(),
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                max_block_ms=60_000,
                # a broker back after an outage is used within a second (kafka-python's
                # default back-off grows to 30 s and missed short recoveries)
                reconnect_backoff_ms=100,
                reconnect_backoff_max_ms=1_000,
                # an unreachable Kafka is known (and said) in 2 s, not kafka-python's 30 s
                bootstrap_timeout_ms=2_000,
                **self._producer_options,
            )
        except (KafkaError, OSError) as exc:
            if not self._closed and self._kafka_state != "down":
                self._kafka_state = "down"
                log.warning("llmwatch: cannot reach Kafka at %s (%s); events wait in a buffer "
                            "of %d and are sent when it answers", self._kafka.bootstrap_servers,
                            exc, self._queue.maxsize)
            return None
        else:
            if self._kafka_state == "down":
                log.warning("llmwatch: reached Kafka at %s; sending the %d waiting events",
                            self._kafka.bootstrap_servers, self._queue.qsize())
            self._kafka_state = "up"
            return producer

    def _done(self, outcome: str) -> None:
        with self._lock:
            self._in_flight -= 1
            self._counts[outcome] += 1
            recovered = outcome == "sent" and self._kafka_state == "failing"
            if recovered:
                self._kafka_state = "up"
        if recovered:
            log.warning("llmwatch: Kafka at %s acknowledges again (%d events failed meanwhile)",
                        self._kafka.bootstrap_servers, self._failed_while_failing)
            self._failed_while_failing = 0

    def _failed(self, exc: BaseException) -> None:
        self._done("failed")
        with self._lock:
            first = self._kafka_state != "failing"
            self._kafka_state = "failing"
            self._failed_while_failing += 1
        if first:
            log.warning("llmwatch: Kafka at %s did not take an event (%s); failures are counted"
                        " in stats().failed until it acknowledges again",
                        self._kafka.bootstrap_servers, exc)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _log_drop(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            log.warning("llmwatch: buffer full (%d events), dropping; stats: %s",
                        self._queue.maxsize, self.stats())


def _describe(exc: Exception) -> str:
    """Why an event is invalid, without the values (they are the app's users' data)."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}"
                 for e in exc.errors(include_url=False, include_input=False)[:5]]
        return "; ".join(parts)
    return f"{type(exc).__name__}: {str(exc)[:200]}"
