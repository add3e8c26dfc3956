"""Watching the watcher: Prometheus metrics, liveness and readiness over HTTP, consumer lag.

Every worker serves, on `worker.metrics_port` (default 9464):

- `/metrics` — Prometheus text format (`METRIC_NAMES` lists what it exports);
- `/healthz` — 200 while the process's event loop turns (a faust timer beats every second);
- `/readyz` — 200 when the model is loaded, the database answers, the worker has its
  partitions and is not stalled (stalled: lag above zero while no batch finished for
  `worker.stall_after_s`); else 503 with the reasons as JSON.

Lag is read from Kafka itself (the group's committed offsets against the partitions' end
offsets, and the age of the oldest unprocessed record), every `worker.lag_every_s`, for the
partitions this worker holds — so summing over workers never counts a partition twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
STAGES = ("decode", "embed", "quality", "store")


class Metrics:
    """The worker's metrics, in a registry of their own (one per worker process)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.consumed = Counter("llmwatch_messages_consumed", "Messages read from the events "
                                "topic.", registry=r)
        self.stored = Counter("llmwatch_events_stored", "LLM calls stored (new rows).",
                              registry=r)
        self.feedback = Counter("llmwatch_feedback_stored", "Feedback verdicts stored.",
                                registry=r)
        self.duplicates = Counter("llmwatch_duplicates_skipped", "Calls already stored "
                                  "(replays), not stored again.", registry=r)
        self.dead_letters = Counter("llmwatch_dead_letters", "Messages dead-lettered, by "
                                    "stage.", ["stage"], registry=r)
        self.batch_size = Histogram("llmwatch_batch_size", "Messages per ingest batch.",
                                    buckets=_SIZES, registry=r)
        self.batch_seconds = Histogram("llmwatch_batch_seconds", "Seconds of an ingest "
                                       "batch, by stage.", ["stage"], buckets=_SECONDS,
                                       registry=r)
        self.texts_embedded = Counter("llmwatch_texts_embedded", "Prompts and responses "
                                      "embedded.", registry=r)
        self.lag_records = Gauge("llmwatch_consumer_lag_records", "Records not yet "
                                 "processed, per partition this worker holds.",
                                 ["topic", "partition"], registry=r)
        self.lag_seconds = Gauge("llmwatch_consumer_lag_seconds", "Age of the oldest record "
                                 "not yet processed, per partition.", ["topic", "partition"],
                                 registry=r)
        self.assigned = Gauge("llmwatch_assigned_partitions", "Partitions this worker holds.",
                              registry=r)
        self.last_event = Gauge("llmwatch_last_event_timestamp_seconds", "Unix time of the "
                                "newest call stored by this worker (its event timestamp).",
                                registry=r)
        self.last_batch = Gauge("llmwatch_last_batch_timestamp_seconds", "Unix time the last "
                                "ingest batch finished.", registry=r)
        self.windows = Counter("llmwatch_drift_windows", "Drift windows judged.", registry=r)
        self.drift_calls = Counter("llmwatch_drift_calls", "Calls the drift stage received, "
                                   "by whether its space read them (sampled or not).",
                                   ["sampled"], registry=r)
        self.drift_space_seconds = Histogram("llmwatch_drift_space_seconds", "Seconds the "
                                             "drift space took to embed a round's sample.",
                                             buckets=_SECONDS, registry=r)
        self.drift_late = Counter("llmwatch_drift_late_calls", "Calls that arrived after the "
                                  "window of their event time was judged (in no window).",
                                  registry=r)
        self.drift_watermark = Gauge("llmwatch_drift_watermark_timestamp_seconds", "Event "
                                     "time up to which drift windows may be cut (the slowest "
                                     "partition's progress).", registry=r)
        self.findings = Counter("llmwatch_findings", "Fired findings, by severity.",
                                ["severity"], registry=r)
        self.notices = Counter("llmwatch_alert_notices", "Alert notices delivered or failed.",
                               ["result"], registry=r)
        self.outbox = Gauge("llmwatch_outbox_pending", "Notices waiting in the outbox.",
                            registry=r)
        self.outbox_oldest = Gauge("llmwatch_outbox_oldest_pending_seconds", "Age of the "
                                   "oldest notice waiting in the outbox.", registry=r)
        self.tickets = Counter("llmwatch_tickets_opened", "Retraining tickets opened or "
                               "updated.", registry=r)
        self.reports = Counter("llmwatch_report_runs", "Scheduled report runs, by result.",
                               ["result"], registry=r)
        self.report_seconds = Histogram("llmwatch_report_seconds", "Seconds a report took.",
                                        buckets=(1, 5, 15, 30, 60, 120, 300, 600),
                                        registry=r)
        self.db_retries = Counter("llmwatch_db_retries", "Database writes retried through an "
                                  "outage.", registry=r)
        self.ready = Gauge("llmwatch_ready", "1 when /readyz says ready.", registry=r)
        for stage in STAGES:
            self.batch_seconds.labels(stage)
        for result in ("sent", "failed"):
            self.notices.labels(result)
        for sampled in ("yes", "no"):
            self.drift_calls.labels(sampled)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metric_names(metrics: Metrics) -> set[str]:
    """Every series name the worker exports (counters with `_total`, histograms with
    `_bucket`, `_sum`, `_count`), whether or not a labelled series has a value yet."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",)}
    return {family.name + suffix for family in metrics.registry.collect()
            for suffix in suffixes.get(family.type, ("",))}


@dataclass
class Health:
    """What /healthz and /readyz decide from; updated by the worker as it runs."""

    stall_after_s: float = 120.0
    beat_every_s: float = 1.0
    started: float = field(default_factory=time.monotonic)
    last_beat: float = field(default_factory=time.monotonic)
    model_loaded: bool = False
    assigned: bool = False
    last_progress: float = field(default_factory=time.monotonic)
    lag: int = 0
    database: Callable[[], bool] = lambda: True

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def progressed(self) -> None:
        self.last_progress = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self.last_beat < max(10.0, 10 * self.beat_every_s)

    def not_ready(self) -> list[str]:
        """Why the worker is not ready (empty: ready)."""
        why = []
        if not self.alive():
            why.append("event loop stuck")
        if not self.model_loaded:
            why.append("model not loaded yet")
        if not self.assigned:
            why.append("no partition assignment yet")
        idle = time.monotonic() - self.last_progress
        if self.lag > 0 and idle > self.stall_after_s:
            why.append(f"stalled: {self.lag} records behind and nothing processed for "
                       f"{idle:.0f}s")
        if not self.database():
            why.append("database unreachable")
        return why


def serve(port: int, metrics: Metrics, health: Health, host: str = "0.0.0.0"  # noqa: S104
          ) -> ThreadingHTTPServer:
    """Start /metrics, /healthz and /readyz on a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._send(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = health.alive()
                self._json(200 if ok else 503, {"alive": ok})
            elif path == "/readyz":
                why = health.not_ready()
                metrics.ready.set(0 if why else 1)
                self._json(503 if why else 200, {"ready": not why, "reasons": why})
            else:
                self._json(404, {"error": "try /metrics, /healthz or /readyz"})

        def _json(self, status: int, doc: dict[str, Any]) -> None:
            self._send(status, json.dumps(doc).encode(), "application/json")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="llmwatch-metrics", daemon=True).start()
    return server


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int
    end: int
    seconds: float  # age of the oldest unprocessed record (0 when caught up)

    @property
    def records(self) -> int:
        return max(0, self.end - self.committed)


class LagReader:
    """Open Kafka clients that read a group's lag; kept by a worker that reads it every
    few seconds rather than connecting anew each time."""

    def __init__(self, options: dict[str, Any]) -> None:
        from kafka import KafkaAdminClient, KafkaConsumer

        self.admin = KafkaAdminClient(**options)
        self.consumer = KafkaConsumer(**options, enable_auto_commit=False)

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()

    def read(self, group: str, topics: Iterable[str],
             only: set[tuple[str, int]] | None = None, ages: bool = True) -> list[PartitionLag]:
        """The group's lag per partition of `topics` (or of `only` those partitions); with
        `ages`, also the age of each partition's oldest waiting record (a fetch each)."""
        from kafka import TopicPartition

        committed = {(tp.topic, tp.partition): meta.offset for tp, meta in
                     self.admin.list_group_offsets({group: None}).get(group, {}).items()}
        tps = [TopicPartition(t, p) for t in topics
               for p in sorted(self.consumer.partitions_for_topic(t) or ())
               if only is None or (t, p) in only]
        ends = self.consumer.end_offsets(tps) if tps else {}
        out = []
        now = time.time()
        for tp in tps:
            done = max(committed.get((tp.topic, tp.partition), 0), 0)
            end = ends.get(tp, 0)
            seconds = 0.0
            if end > done and ages:
                self.consumer.assign([tp])
                self.consumer.seek(tp, done)
                batch = self.consumer.poll(timeout_ms=2000, max_records=1).get(tp, [])
                if batch and batch[0].timestamp and batch[0].timestamp > 0:
                    seconds = max(0.0, now - batch[0].timestamp / 1000)
            out.append(PartitionLag(tp.topic, tp.partition, done, end, seconds))
        return out


def read_lag(options: dict[str, Any], group: str, topics: Iterable[str],
             only: set[tuple[str, int]] | None = None) -> list[PartitionLag]:
    """The group's lag per partition of `topics`, through clients opened for this read."""
    reader = LagReader(options)
    try:
        return reader.read(group, topics, only)
    finally:
        reader.close()


def group_members(options: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """The members of the consumer group and the partitions each holds."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**options)
    try:
        described = admin.describe_groups([group]).get(group, {})
    finally:
        admin.close()
    members = []
    for m in described.get("members", []) or []:
        parts = []
        assignment = m.get("member_assignment") or {}
        for entry in assignment.get("assigned_partitions", []) or []:
            topic = entry.get("topic")
            parts += [f"{topic}[{p}]" for p in entry.get("partitions", [])]
        members.append({"member": m.get("member_id"), "client": m.get("client_id"),
                        "host": m.get("client_host"), "partitions": sorted(parts)})
    return members


class LagWatcher:
    """Reads this worker's lag every `every_s` on a thread of its own, into the metrics and
    the health state."""

    def __init__(self, options: dict[str, Any], group: str, topic: str, metrics: Metrics,
                 health: Health, assignment: Callable[[], set[tuple[str, int]]],
                 every_s: float = 10.0) -> None:
        self.options, self.group, self.topic = options, group, topic
        self.metrics, self.health, self.assignment = metrics, health, assignment
        self.every_s = every_s
        self.stopped = threading.Event()
        self.latest: list[PartitionLag] = []
        self._reader: LagReader | None = None

    def start(self) -> LagWatcher:
        threading.Thread(target=self._run, name="llmwatch-lag", daemon=True).start()
        return self

    def _run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                self.read_once()
            except Exception as exc:  # noqa: BLE001 - lag is best effort: a line, then retry
                log.debug("could not read consumer lag: %s: %s", type(exc).__name__, exc)
                if self._reader is not None:  # reconnect at the next read
                    self._reader.close()
                    self._reader = None

    def read_once(self) -> list[PartitionLag]:
        mine = {tp for tp in self.assignment() if tp[0] == self.topic}
        if mine and self._reader is None:
            self._reader = LagReader(self.options)
        lags = self._reader.read(self.group, [self.topic], mine) if mine and self._reader else []
        self.metrics.lag_records.clear()
        self.metrics.lag_seconds.clear()
        for lag in lags:
            self.metrics.lag_records.labels(lag.topic, str(lag.partition)).set(lag.records)
            self.metrics.lag_seconds.labels(lag.topic, str(lag.partition)).set(lag.seconds)
        self.health.lag = sum(lag.records for lag in lags)
        self.latest = lags
        return lags
