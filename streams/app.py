"""The faust worker: the edge where Kafka meets the domain.

ingest agent: raw events topic → (batch of up to `embedding.batch_size`, or whatever arrived
within `embedding.batch_wait_s`) → `prepare_batch` (decode, analysis queued) and
`finish_batch` (sort out against storage, store), each in a worker thread of its own
(embedding is CPU-bound; a blocked event loop misses heartbeats), so the next batch is
prepared while this one is stored → dead letters to the dead-letter topic → stored events
with their embeddings to the enriched topic, for the detector stages. Two batches are in
flight at most; they are finished, handed on and acked in the order they were taken.

Offsets are committed only after a batch is processed and the producer flushed, and storage
is idempotent, so a crash replays work and never duplicates or loses it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import signal
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, NoReturn

import faust
from faust.types import EventT

from llmwatch import logs
from llmwatch.config import KafkaSettings, Settings
from llmwatch.detectors.findings import Finding
from llmwatch.detectors.redact import redact
from llmwatch.detectors.segments import segment_name
from llmwatch.observability import Health, LagReader, LagWatcher, Metrics, serve
from llmwatch.schemas import DeadLetter
from llmwatch.schemas.decode import Limits
from llmwatch.schemas.embedded import (
    PACK_OVERHEAD,
    EmbeddedEvent,
    from_wire_many,
    pack,
    to_wire,
)
from llmwatch.storage import Store, outbox, retry, upgrade
from llmwatch.storage.retry import first_line, until_stored

from . import kafka_logs
from .alert_stage import AlertStage
from .analysis import (
    LocalAnalyser,
    ProcessAnalyser,
    freeze_loaded,
    local_analyser,
    one_blas_thread,
)
from .drift_space import DriftSpace, drift_encoder
from .drift_stage import DriftStage
from .otlp_ingest import otlp_of_message
from .pipeline import BatchOutcome, PreparedBatch, RawMessage, finish_batch, prepare_batch
from .topics import ensure_topics
from .watchdog import Watchdog

log = logging.getLogger(__name__)
EXIT_FATAL = 70  # EX_SOFTWARE
ENRICHED_MAX_BYTES = 1_000_000  # Kafka's default message.max.bytes is 1,048,588
ENRICHED_PACK_BYTES = 512_000  # events packed into one enriched record up to this size
DRIFT_ROUND = 256  # enriched events judged per drift round
SEND_TIMEOUT_S = 120.0


def build_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.worker.app_id,
        broker=[f"kafka://{b}" for b in settings.kafka.bootstrap_servers.split(",")],
        broker_credentials=faust_credentials(settings.kafka),
        value_serializer="raw",
        key_serializer="raw",
        datadir=str(settings.worker.data_dir),
        web_enabled=settings.worker.web_port is not None,
        web_port=settings.worker.web_port or 6066,
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Kafka's own default record limit (message.max.bytes 1,048,588), not faust's 1,000,000:
        # an enriched record of ENRICHED_MAX_BYTES plus its framing must fit
        producer_max_request_size=1_048_576,
        broker_session_timeout=settings.worker.session_timeout_s,
    )
    topics = settings.topics
    raw = app.topic(topics.events, value_type=bytes, key_type=bytes)
    deadletter = app.topic(topics.deadletter, value_type=bytes, key_type=bytes)
    enriched = app.topic(topics.enriched, value_type=bytes, key_type=bytes)
    findings = app.topic(topics.findings, value_type=bytes, key_type=bytes)
    tickets = app.topic(topics.tickets, value_type=bytes, key_type=bytes)
    runtime = _Runtime(settings)

    @app.timer(1.0)
    async def heartbeat() -> None:
        """The event loop turns: /healthz says alive."""
        runtime.health.beat()

    @app.on_partitions_assigned.connect
    async def assigned(sender: Any, assigned: Any = (), **kwargs: Any) -> None:
        runtime.assigned_to({(tp.topic, tp.partition) for tp in assigned})

    if settings.watchdog.enabled and settings.alerts.enabled and settings.alerts.has_sink:

        @app.timer(settings.watchdog.every_s, on_leader=True)
        async def watchdog() -> None:
            """The leader checks the group, the traffic and the alert path (self-alerts)."""
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(runtime.delivery_executor, runtime.watch)

    if settings.alerts.enabled and settings.alerts.rules:

        @app.timer(settings.alerts.rules_every_s, on_leader=True)
        async def threshold_rules() -> None:
            """The leader evaluates the threshold rules (spend, tokens, errors, …)."""
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(runtime.delivery_executor, runtime.evaluate_rules)

    @app.task(on_leader=False)
    async def prepare() -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(runtime.executor, runtime.warm_up)
        except Exception as exc:  # noqa: BLE001
            _exit_for_restart(exc)

    async def hand_on(outcome: BatchOutcome) -> None:
        sent = []
        by_state: dict[bytes, list[bytes]] = {}  # one record per segment and batch
        for item in outcome.embedded:
            wire = to_wire(item)
            if len(wire) + PACK_OVERHEAD > ENRICHED_MAX_BYTES:  # the gate's limit: never
                outcome.dead_letters.append(runtime.too_large(item, len(wire)))
                continue
            by_state.setdefault(item.event.state_key, []).append(wire)
        for key, wires in by_state.items():
            for record in pack(wires, ENRICHED_PACK_BYTES):
                sent.append(await enriched.send(key=key, value=record))
        for letter in outcome.dead_letters:
            key = f"{letter.source_topic}/{letter.source_partition}".encode()
            sent.append(await deadletter.send(key=key,
                                              value=letter.model_dump_json().encode()))
        await _delivered(sent)  # before the batch's offsets can be committed
        runtime.report(outcome)

    @app.agent(raw)
    async def ingest(stream: faust.StreamT[bytes]) -> None:
        """Two batches in flight: batch N+1 is taken, decoded, analysed and stored while
        batch N's records are handed on and delivered, so the analysis process does not wait
        for Kafka between batches. Batches are stored one after the other (one ingest thread:
        a call's first copy is stored before a later batch sorts out its second), and acks
        are manual (`noack_take`): a batch's offsets are acked only after its rows are
        committed and its records delivered, in the order the batches were taken."""
        emb = settings.embedding
        previous: asyncio.Task[None] | None = None

        async def finish(events: Sequence[EventT[Any]], work: asyncio.Future[BatchOutcome],
                         before: asyncio.Task[None] | None) -> None:
            try:
                outcome = await work
            except Exception as exc:  # noqa: BLE001
                _exit_for_restart(exc)
            if before is not None:
                await before  # hand on and ack in the order batches were taken
            await hand_on(outcome)
            for event in events:
                await stream.ack(event)

        async for events in stream.noack_take(emb.events_per_batch, within=emb.batch_wait_s):
            work = asyncio.ensure_future(runtime.process(_raw_messages(events)))
            task = asyncio.create_task(finish(events, work, previous))
            if previous is not None:
                await previous  # at most two batches in flight
            previous = task

    if topics.otlp_spans:
        spans_topic = app.topic(topics.otlp_spans, value_type=bytes, key_type=bytes)

        @app.agent(spans_topic)
        async def otlp(stream: faust.StreamT[bytes]) -> None:
            """An OpenTelemetry Collector's Kafka exporter feeds llmwatch without the gateway:
            each record's LLM spans become events on the events topic (where `ingest` gates
            and stores them), what cannot be an event is dead-lettered; the record's offset
            is committed after Kafka has both."""
            async for record in stream.events():
                sent = []
                m = record.message
                for topic, key, value in otlp_of_message(m.topic, m.partition, m.offset, m.key,
                                                         m.value, settings, datetime.now(UTC)):
                    target = raw if topic == topics.events else deadletter
                    sent.append(await target.send(key=key, value=value))
                await _delivered(sent)

    if settings.alerts.enabled and settings.alerts.has_sink:

        @app.timer(settings.alerts.deliver_every_s)
        async def deliver_alerts() -> None:
            """Send the outbox, in a thread of its own: it never waits behind embedding."""
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(runtime.delivery_executor, runtime.deliver_alerts)
            except Exception as exc:  # noqa: BLE001
                _exit_for_restart(exc)

    if settings.report.enabled:

        @app.timer(settings.report.check_every_s, on_leader=True)
        async def weekly_report() -> None:
            """The leader makes the scheduled report when it is due (in its own thread: a
            report takes seconds to minutes and must not hold up ingestion)."""
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(runtime.report_executor, runtime.scheduled_report)

    @app.timer(settings.retention.every_s, on_leader=True)
    async def retention() -> None:
        """The leader applies `retention.*` (in the report thread: it never holds up ingestion)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(runtime.report_executor, runtime.apply_retention)

    if settings.drift.enabled:

        async def publish(found: Sequence[Finding]) -> None:
            touched = runtime.take_tickets()
            try:
                sent = [await findings.send(key=finding.segment.encode(),
                                            value=finding.to_json()) for finding in found]
                for ticket in touched:
                    sent.append(await tickets.send(
                        key=ticket["fingerprint"].encode(),
                        value=json.dumps(ticket, default=str).encode()))
            except faust.exceptions.NotReady:  # the worker stops while a round was under way
                log.warning("stopping: %d finding(s) and %d ticket(s) of the last round are "
                            "stored but not sent to the topics (`llmwatch alerts show`, "
                            "`llmwatch tickets list` read them)", len(found), len(touched))
                return
            await _delivered(sent)

        @app.agent(enriched)
        async def drift(stream: faust.StreamT[bytes]) -> None:
            async for batch in stream.take_events(64, within=1.0):  # records: packs
                try:  # records are read in the drift thread too: off the event loop
                    found = await runtime.detect_drift([e.message for e in batch])
                except Exception as exc:  # noqa: BLE001
                    _exit_for_restart(exc)
                await publish(found)

        @app.timer(settings.drift.idle_partition_s)
        async def drift_tick() -> None:
            """With no new record the watermark still moves (partitions fall quiet): the
            windows it settles are judged without waiting for the next call."""
            if runtime.ready and not runtime.drift_rounds:  # a round under way sees it too
                try:
                    found = await runtime.detect_drift([])
                except Exception as exc:  # noqa: BLE001
                    _exit_for_restart(exc)
                await publish(found)

    app.llmwatch_runtime = runtime  # type: ignore[attr-defined]
    return app


class _Runtime:
    """The worker's heavy resources: model and database, used from one worker thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmwatch-embed")
        # the next batch is decoded and queued for analysis while this one is stored
        self.prepare_executor = ThreadPoolExecutor(max_workers=1,
                                                   thread_name_prefix="llmwatch-prepare")
        # drift rounds read the database and fit tests: never in the way of embedding
        self.drift_executor = ThreadPoolExecutor(max_workers=1,
                                                 thread_name_prefix="llmwatch-drift")
        self._warm = threading.Lock()
        self.report_executor = ThreadPoolExecutor(max_workers=1,
                                                  thread_name_prefix="llmwatch-report")
        self.delivery_executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="llmwatch-deliver")
        self._analyser: LocalAnalyser | ProcessAnalyser | None = None
        self._store: Store | None = None
        self._report_store: Store | None = None
        self._drift: DriftStage | None = None
        self._space: DriftSpace | None = None
        self.drift_rounds = 0  # rounds handed to the drift thread and not yet back
        self._lag_reader: LagReader | None = None  # the events topic's lag, for the watermark
        self._waiting: dict[int, int] | None = None
        self._waiting_read_at = float("-inf")
        self._alerts: AlertStage | None = None
        # tickets touched by the drift thread, for the event loop to send to the tickets topic
        self._tickets: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.totals = {"events": 0, "new_events": 0, "feedback": 0, "dead_letters": 0}
        self.kafka_logs: kafka_logs.KafkaLogFilter | None = None
        self.metrics = Metrics()
        self.health = Health(stall_after_s=settings.worker.stall_after_s)
        self.assigned: set[tuple[str, int]] = set()
        self.watchdog = Watchdog(settings)
        retry.on_retry = self.metrics.db_retries.inc
        self.limits = Limits.of(settings.ingest)

    @property
    def ready(self) -> bool:
        """Warmed up (the warm-up sets the analyser last)."""
        return self._analyser is not None

    def warm_up(self) -> None:
        """Load the model and the detectors' state (runs in an executor; once)."""
        with self._warm:
            if self._analyser is None:
                self._warm_up()

    def _warm_up(self) -> None:
        emb = self.settings.embedding
        analyser: LocalAnalyser | ProcessAnalyser = (
            ProcessAnalyser(emb, self.settings.quality) if emb.processes
            else local_analyser(emb, self.settings.quality))
        store = Store.of(self.settings)  # run_worker migrated it before faust started
        assert store.embedding_model == analyser.name
        self._store = store
        self._drift = DriftStage(store, self.settings.drift, self.settings.privacy.policy(),
                                 partitions=self.settings.topics.partitions)
        self._space = DriftSpace(store, self.settings.drift, drift_encoder(self.settings.drift))
        self._alerts = AlertStage(store, self.settings.alerts,
                                  window=self.settings.drift.window_size,
                                  privacy=self.settings.privacy.policy())
        redact("warm up: Jane Doe, +44 20 7946 0958", thorough=True)  # Presidio's imports,
        # now rather than in the first drift window that shows examples
        self.health.database = _database_check(store)
        self.health.model_loaded = True
        freeze_loaded()  # the model, the checks and the stores live as long as the worker
        self._analyser = analyser  # last: it marks the warm-up done
        log.info("llmwatch worker ready: embedding %s (%s backend, dim=%d, %s), storage=%s",
                 analyser.name, emb.backend, analyser.dim,
                 "in a child process" if emb.processes else "in this process",
                 store.engine.url.render_as_string(hide_password=True))

    def prepare(self, messages: Sequence[RawMessage]) -> PreparedBatch:
        self.warm_up()
        assert self._analyser is not None
        return prepare_batch(messages, analyser=self._analyser, now=datetime.now(UTC),
                             limits=self.limits,
                             dead_letter_bytes=self.settings.ingest.dead_letter_max_bytes)

    def finish(self, prepared: PreparedBatch) -> BatchOutcome:
        assert self._store is not None
        return finish_batch(prepared, store=self._store, clock=lambda: datetime.now(UTC))

    def too_large(self, item: EmbeddedEvent, size: int) -> DeadLetter:
        source = item.source
        return DeadLetter.of(
            reason=f"stored, but its enriched record is {size:,} bytes (limit "
                   f"{ENRICHED_MAX_BYTES:,}): not judged by drift", stage="hand-on",
            topic=source.topic if source else "?", partition=source.partition if source else -1,
            offset=source.offset if source else -1, key=None,
            value=item.event.model_dump_json().encode(), now=datetime.now(UTC),
            max_bytes=self.settings.ingest.dead_letter_max_bytes)

    def assigned_to(self, partitions: set[tuple[str, int]]) -> None:
        self.assigned = partitions
        self.health.assigned = True
        mine = [tp for tp in partitions if tp[0] == self.settings.topics.events]
        self.metrics.assigned.set(len(mine))

    def evaluate_rules(self) -> None:
        """Threshold rules (on the leader): decided and delivered like any alert."""
        if self._alerts is None:
            return
        try:
            self._alerts.evaluate_rules([r.rule() for r in self.settings.alerts.rules],
                                        datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - the next evaluation tries again
            log.error("threshold rules failed (%s: %s); retried at the next evaluation",
                      type(exc).__name__, first_line(exc))

    def watch(self) -> None:
        """Self-alerts (on the leader): written and delivered like any alert."""
        if self._alerts is None or self._store is None:
            return
        try:
            findings = self.watchdog.check(self._store, datetime.now(UTC))
            self._alerts.process(findings, datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - the next check tries again
            log.error("self-check failed (%s: %s); retried at the next check",
                      type(exc).__name__, first_line(exc))

    async def process(self, messages: Sequence[RawMessage]) -> BatchOutcome:
        self.metrics.consumed.inc(len(messages))
        self.metrics.batch_size.observe(len(messages))
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(self.prepare_executor, self.prepare, messages)
        # one thread finishes batches, in the order they were prepared: first copy wins
        return await loop.run_in_executor(self.executor, self.finish, prepared)

    def run_drift(self, batch: Sequence[EmbeddedEvent]) -> list[Finding]:
        self.warm_up()
        assert self._drift is not None and self._space is not None
        now = datetime.now(UTC)
        in_space = self._space.process(batch, now)
        self.metrics.drift_calls.labels("yes").inc(len(in_space))
        self.metrics.drift_calls.labels("no").inc(len(batch) - len(in_space))
        self.metrics.drift_space_seconds.observe(self._space.seconds)
        late = self._drift.late
        self._drift.waiting = self._events_waiting()
        found = self._drift.process(in_space, now, arrived=batch)
        self.metrics.drift_late.inc(self._drift.late - late)
        if self._drift.until is not None:
            self.metrics.drift_watermark.set(self._drift.until.timestamp())
        self.metrics.windows.inc(len({(f.segment, f.window.start, f.window.end) for f in found
                                      if f.detector == "embedding_drift"}))
        for f in found:
            if f.fired:
                self.metrics.findings.labels(f.severity or "info").inc()
        if self._alerts is not None and self.settings.alerts.enabled and found:
            touched = self._alerts.process(found, now).tickets
            for doc in self._alerts.ticket_documents(touched):
                self._tickets.put(doc)
        fired = [f for f in found if f.fired]
        if fired:
            log.warning("drift: %s", "; ".join(
                f"{segment_name(f.segment)!r} {f.metric} ({f.severity}): "
                f"{f.explanation or f.method}"
                for f in fired), extra={"segment": sorted({f.segment for f in fired})})
        return found

    def _events_waiting(self) -> dict[int, int] | None:
        """The group's lag on each partition of the events topic (read at most every 2 s, in
        the drift thread): the watermark never counts a partition with calls waiting as idle.
        None when it cannot be read (the watermark then goes by quiet alone)."""
        now = time.monotonic()
        if now - self._waiting_read_at < 2.0:
            return self._waiting
        self._waiting_read_at = now
        try:
            if self._lag_reader is None:
                self._lag_reader = LagReader(self.settings.kafka.kafka_python_options())
            lags = self._lag_reader.read(self.settings.worker.app_id,
                                         [self.settings.topics.events], ages=False)
            self._waiting = {lag.partition: lag.records for lag in lags}
        except Exception as exc:  # noqa: BLE001 - best effort: quiet alone decides meanwhile
            log.debug("could not read the events topic's lag: %s: %s", type(exc).__name__, exc)
            if self._lag_reader is not None:
                self._lag_reader.close()
                self._lag_reader = None
            self._waiting = None
        return self._waiting

    def take_tickets(self) -> list[dict[str, Any]]:
        taken = []
        while True:
            try:
                taken.append(self._tickets.get_nowait())
            except queue.Empty:
                break
        self.metrics.tickets.inc(len(taken))
        return taken

    def deliver_alerts(self) -> int:
        """Deliver due notices (nothing before warm-up has set the alert stage up)."""
        if self._alerts is None:
            return 0
        sent = self._alerts.deliver(on_failure=self.metrics.notices.labels("failed").inc)
        self.metrics.notices.labels("sent").inc(sent)
        pending, oldest = outbox.depth(self._alerts.engine, datetime.now(UTC))
        self.metrics.outbox.set(pending)
        self.metrics.outbox_oldest.set(oldest)
        return sent

    def scheduled_report(self) -> None:
        """Write the scheduled report if it is due. A failure is logged and retried at a later
        check; it never stops the worker (ingestion and alerts go on)."""
        from llmwatch.report.service import run_due

        try:
            if self._report_store is None:
                self._report_store = Store.of(self.settings)  # warm_up migrates it
            started = time.perf_counter()
            result = run_due(self._report_store, self.settings)
        except Exception:  # noqa: BLE001
            self.metrics.reports.labels("failed").inc()
            log.exception("the scheduled report failed; it is retried at a later check")
            return
        if result is not None:
            self.metrics.reports.labels("done").inc()
            self.metrics.report_seconds.observe(time.perf_counter() - started)
        if result is not None:
            log.info("scheduled report written: %s (%s)", result.html_path, result.json_path)

    def apply_retention(self) -> None:
        """Delete what `retention.*` no longer keeps; a failure is logged and retried at the
        next run (it never stops the worker)."""
        from llmwatch.storage.retention import apply_retention

        try:
            if self._report_store is None:
                self._report_store = Store.of(self.settings)
            removed = apply_retention(self._report_store.engine,
                                      self.settings.retention.policy(), datetime.now(UTC),
                                      self.settings.report.out_dir)
        except Exception as exc:  # noqa: BLE001
            log.error("retention failed (%s: %s); retried at the next run",
                      type(exc).__name__, first_line(exc))
            return
        if removed:
            log.info("retention removed %s", removed.describe())

    async def detect_drift(self, records: Sequence[Any]) -> list[Finding]:
        loop = asyncio.get_running_loop()
        def rounds() -> list[Finding]:
            # rounds of at most DRIFT_ROUND events, as when each record held one event: a
            # round is one step of an alert's streak (tickets open after a few of them)
            if not records:
                return self.run_drift([])  # a tick
            events = _readable(records)
            return [f for i in range(0, len(events), DRIFT_ROUND)
                    for f in self.run_drift(events[i:i + DRIFT_ROUND])]

        self.drift_rounds += 1
        try:
            return await loop.run_in_executor(self.drift_executor, rounds)
        finally:
            self.drift_rounds -= 1

    def report(self, outcome: BatchOutcome) -> None:
        if self.kafka_logs is not None:
            self.kafka_logs.reachable()  # a batch went through: Kafka answers
        self.totals["events"] += len(outcome.embedded)
        self.totals["new_events"] += outcome.new_events
        self.totals["feedback"] += outcome.new_feedback
        self.totals["dead_letters"] += len(outcome.dead_letters)
        m = self.metrics
        m.stored.inc(outcome.new_events)
        m.feedback.inc(outcome.new_feedback)
        m.duplicates.inc(max(0, len(outcome.embedded) - outcome.new_events))
        for letter in outcome.dead_letters:
            m.dead_letters.labels(letter.stage).inc()
        for stage, took in outcome.seconds.items():
            m.batch_seconds.labels(stage).observe(took)
        m.texts_embedded.inc(outcome.texts_embedded)
        if outcome.embedded:
            m.last_event.set(max(e.event.timestamp for e in outcome.embedded).timestamp())
        m.last_batch.set(time.time())
        self.health.progressed()
        log.info(
            "batch: %d calls (%d new), %d feedback, %d dead-lettered; totals %s",
            len(outcome.embedded), outcome.new_events, outcome.new_feedback,
            len(outcome.dead_letters), self.totals,
            extra={"batch": {"calls": len(outcome.embedded), "new": outcome.new_events,
                             "feedback": outcome.new_feedback,
                             "dead_letters": len(outcome.dead_letters),
                             "seconds": {k: round(v, 4) for k, v in outcome.seconds.items()}}},
        )


def _database_check(store: Store, every_s: float = 5.0) -> Callable[[], bool]:
    """Whether the database answers, asked at most every `every_s` (for /readyz)."""
    last = {"at": 0.0, "ok": True}

    def check() -> bool:
        if time.monotonic() - last["at"] >= every_s:
            try:
                store.ping()
                last["ok"] = True
            except Exception:  # noqa: BLE001
                last["ok"] = False
            last["at"] = time.monotonic()
        return bool(last["ok"])

    return check


def _exit_for_restart(exc: Exception) -> NoReturn:
    """Crash-only: exit without committing, so a restarted worker replays the batch.

    (A crashed faust agent would be restarted in-process with its batch unacknowledged,
    stalling commits silently; a visible exit that the supervisor restarts is better.)
    """
    log.critical("llmwatch worker cannot go on, exiting (the batch will be replayed): %s: %s",
                 type(exc).__name__, exc, exc_info=exc)
    logging.shutdown()
    os._exit(EXIT_FATAL)


_stop_deadline: list[threading.Thread] = []


def exit_after(seconds: float) -> None:
    """A stop that has not finished after `seconds` ends in an exit without committing: a
    rebalance racing SIGTERM can leave faust waiting forever for in-flight events (seen with
    two workers stopped together). Nothing is lost — the group replays uncommitted calls."""
    if _stop_deadline:  # one deadline per stop, the first signal's
        return

    def expire() -> None:
        time.sleep(seconds)
        log.error("the worker did not stop within %g s of the signal (worker.stop_timeout_s);"
                  " exiting without committing: the group replays what was in flight", seconds)
        logging.shutdown()
        os._exit(EXIT_FATAL)

    thread = threading.Thread(target=expire, name="llmwatch-stop-deadline", daemon=True)
    _stop_deadline.append(thread)
    thread.start()


async def _delivered(sent: Sequence[Any]) -> None:
    """Wait until Kafka acknowledged every record handed on. A record that cannot be
    delivered is never skipped: the worker exits without committing and replays the batch."""
    if not sent:
        return
    try:
        await asyncio.wait_for(asyncio.gather(*sent), timeout=SEND_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001
        _exit_for_restart(exc)


def _readable(records: Sequence[Any]) -> list[EmbeddedEvent]:
    """The events of a batch of enriched records (faust messages); a record that cannot be
    read (written by a bug, or by an incompatible version) is logged and skipped rather than
    stopping every segment."""
    out = []
    for m in records:
        try:
            out.extend(from_wire_many(m.value))
        except Exception as exc:  # noqa: BLE001
            log.error("enriched record %s[%d]@%d cannot be read (%s: %s); skipped",
                      m.topic, m.partition, m.offset, type(exc).__name__, first_line(exc))
    return out


def _raw_messages(batch: Sequence[EventT[Any]]) -> list[RawMessage]:
    return [
        RawMessage(e.message.topic, e.message.partition, e.message.offset,
                   e.message.key, e.message.value)
        for e in batch
    ]


def faust_credentials(kafka: KafkaSettings) -> Any:
    """SASL/SSL settings in faust's terms (None for PLAINTEXT)."""
    protocol = kafka.security_protocol
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
        if kafka.ssl_certfile:
            context.load_cert_chain(
                str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
            )
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run the worker until SIGINT/SIGTERM (blocking).

    Kafka and the database are waited for first (with back-off, saying what is awaited), the
    topics created and the schema migrated, so the consumer subscribes to topics that exist:
    on a fresh broker the first event is processed as soon as it arrives.
    """
    from faust.worker import Worker

    class _Worker(Worker):  # type: ignore[misc]
        def _schedule_shutdown(self, sig: signal.Signals) -> None:
            exit_after(settings.worker.stop_timeout_s)
            super()._schedule_shutdown(sig)

    one_blas_thread()
    wait_for_kafka(settings)
    wait_for_database(settings)
    app = build_app(settings)
    worker = _Worker(app, loglevel=settings.log.level.lower() if loglevel == "info" else loglevel,
                    quiet=True, logging_config=logs.config(settings.log.format,
                                                           settings.log.level))
    # faust's start-up spinner turns the root logger to DEBUG at WARN and above (it spins on
    # every record): every debug line of aiokafka would then be built and dropped, ~8 % of a
    # busy worker's loop. No spinner: a service has no terminal to spin on.
    worker.spinner = None
    logs.install()
    runtime = app.llmwatch_runtime  # type: ignore[attr-defined]
    if settings.worker.metrics_port is not None:
        try:
            serve(settings.worker.metrics_port, runtime.metrics, runtime.health)
        except OSError as exc:
            log.error("cannot serve /metrics, /healthz and /readyz on port %d (%s): another "
                      "worker on this host? Give each its own LLMWATCH_WORKER__METRICS_PORT "
                      "(or 'off'); this worker runs without them",
                      settings.worker.metrics_port, exc.strerror or exc)
        LagWatcher(settings.kafka.kafka_python_options(), settings.worker.app_id,
                   settings.topics.events, runtime.metrics, runtime.health,
                   lambda: runtime.assigned, every_s=settings.worker.lag_every_s).start()
    app.llmwatch_runtime.kafka_logs = kafka_logs.install()  # type: ignore[attr-defined]
    worker.execute_from_commandline()


def wait_for_kafka(settings: Settings, *, max_wait_s: float = 10.0,
                   remind_every_s: float = 60.0) -> list[str]:
    """Create llmwatch's topics, waiting for the brokers as long as it takes; returns the
    topics created. One line when waiting starts, a reminder a minute, one when it is up."""
    from kafka.errors import KafkaError

    servers = settings.kafka.bootstrap_servers
    wait, waiting_since, said = 0.5, None, 0.0
    while True:
        try:
            _probe(servers)  # seconds, where a client's bootstrap takes half a minute to fail
            created = ensure_topics(settings)
        except (KafkaError, OSError) as exc:
            now = time.monotonic()
            if waiting_since is None or now - said >= remind_every_s:
                how_long = "" if waiting_since is None else \
                    f" (for {now - waiting_since:.0f}s now)"
                log.warning("waiting for Kafka at %s%s: %s; retrying every %.0fs at most",
                            servers, how_long, exc if isinstance(exc, OSError) else
                            type(exc).__name__, max_wait_s)
                waiting_since, said = waiting_since or now, now
            time.sleep(wait)
            wait = min(wait * 2, max_wait_s)
            continue
        if waiting_since is not None:
            log.info("Kafka at %s is up", servers)
        return created


def _probe(servers: str) -> None:
    """Raise OSError unless some bootstrap server accepts a TCP connection."""
    import socket

    errors = []
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "localhost", int(port)),
                                     timeout=3).close()
            return
        except (OSError, ValueError) as exc:
            errors.append(f"{server}: {exc}")
    raise ConnectionRefusedError("; ".join(errors))


def wait_for_database(settings: Settings) -> None:
    """Migrate the database to the newest schema, waiting while it is unreachable."""
    store = Store(settings.storage.url)
    try:
        until_stored(lambda: upgrade(store.engine))
    finally:
        store.dispose()
