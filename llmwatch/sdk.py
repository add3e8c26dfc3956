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
`stats()` reports what was sent, dropped and failed; `close()` (also run at exit) flushes.
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
_STOP = object()

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
    ) -> None:
        settings = load_settings()
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
        self._last_drop_log = 0.0
        self._warned_salt = False
        self._closed = False
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
            self._count("dropped_full")
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
            queued = self._queue.qsize() + self._in_flight
        return MonitorStats(queued=queued, **c)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued has been acknowledged or failed; True if so."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.stats().queued == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush for up to `timeout_s`, then stop; events still queued are counted as dropped."""
        if self._closed:
            return
        self.flush(timeout_s)
        self._closed = True
        try:
            self._queue.put(_STOP, timeout=1.0)
        except queue.Full:
            pass  # never connected: the thread sees _closed and ends
        self._thread.join(timeout_s)
        leftover = self._queue.qsize()
        if leftover:
            self._count("dropped_full", leftover)
            log.warning("llmwatch: %d events not sent before close (Kafka unreachable?)", leftover)

    # -- the sending thread ---------------------------------------------------------------
    def _run(self) -> None:
        producer = None
        while producer is None:
            if self._closed:
                return
            producer = self._connect()
            if producer is None:
                time.sleep(1.0)
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                key, payload = item
                with self._lock:
                    self._in_flight += 1
                try:
                    future = producer.send(self.topic, key=key, value=payload)
                    future.add_callback(lambda _md: self._done("sent"))
                    future.add_errback(self._failed)
                except Exception as exc:  # noqa: BLE001 - the app must never see this
                    self._failed(exc)
        finally:
            producer.flush(timeout=5)
            producer.close(timeout=5)

    def _connect(self) -> Any:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            return KafkaProducer(
                **self._kafka.kafka_python_options(),
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                max_block_ms=60_000,
                # a broker back after an outage is used within a second (kafka-python's
                # default back-off grows to 30 s and missed short recoveries)
                reconnect_backoff_ms=100,
                reconnect_backoff_max_ms=1_000,
                **self._producer_options,
            )
        except (KafkaError, OSError) as exc:
            if not self._closed:  # after close() the drops were already reported
                log.warning("llmwatch: cannot reach Kafka at %s yet (%s); events are buffered",
                            self._kafka.bootstrap_servers, exc)
            return None

    def _done(self, outcome: str) -> None:
        with self._lock:
            self._in_flight -= 1
            self._counts[outcome] += 1

    def _failed(self, exc: BaseException) -> None:
        self._done("failed")
        log.warning("llmwatch: event not delivered: %s", exc)

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
