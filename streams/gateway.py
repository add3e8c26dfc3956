"""`llmwatch gateway`: calls in over HTTP, for producers that hold no Kafka client.

    POST /v1/traces   OTLP/HTTP traces (protobuf or JSON, gzip or not) from an app's
                      OpenTelemetry exporter or a Collector's otlphttp exporter
    POST /v1/events   a batch of events in the published schema: a JSON array, or
                      {"events": [...]}
    GET  /readyz      200 when Kafka takes events and the pending budget has room
    GET  /metrics     Prometheus text

Each event passes the same gate as the worker's (`schemas.decode_event`); rejects go to the
dead-letter topic with their reason (`stage` "gateway", `source_topic` the route) and are
counted in the answer. A request is answered only when Kafka has acknowledged every event
and dead letter of it: 202 with counts for /v1/events; for /v1/traces the OTLP answer (200,
an `ExportTraceServiceResponse` in the request's encoding, with `partial_success` naming the
rejected spans). When Kafka does not acknowledge within `gateway.ack_timeout_s`, 503 with
Retry-After; when more than `gateway.max_pending` events wait for Kafka, 429 with
Retry-After. Retrying is always safe: an event is stored once by its id (a span's id is its
trace and span id). Spans that are not LLM calls are passed over and counted. The gateway
keeps no state of its own, so several behind a load balancer need no coordination.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from llmwatch.config import Settings
from llmwatch.schemas import FeedbackEvent, LLMEvent, decode_event
from llmwatch.schemas.deadletter import DeadLetter
from llmwatch.schemas.decode import Limits

from .otlp_ingest import Record, otlp_records

log = logging.getLogger("llmwatch.gateway")

class KafkaUnavailable(Exception):
    """Kafka did not take the records in time: answer 503, the client retries."""


class Sink:
    """Produces records to Kafka and waits for their acknowledgement (kafka-python; its
    sends run on a thread, the answers come back to the event loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: Any = None
        self._lock = threading.Lock()
        self.pending = 0

    def _connect(self) -> Any:
        with self._lock:
            if self._producer is None:
                from kafka import KafkaProducer

                self._producer = KafkaProducer(
                    **self.settings.kafka.kafka_python_options(), acks="all",
                    enable_idempotence=True, linger_ms=5, max_block_ms=2_000,
                    bootstrap_timeout_ms=2_000, reconnect_backoff_max_ms=1_000,
                    max_request_size=1_100_000)
            return self._producer

    def ready(self) -> bool:
        """Whether Kafka answers for the events topic now (its partitions are known)."""
        try:
            return bool(self._connect().partitions_for(self.settings.topics.events))
        except Exception:  # noqa: BLE001 - not ready, whatever the reason
            return False

    async def send(self, records: Sequence[Record], timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        self.pending += len(records)
        futures = [loop.create_future() for _ in records]
        try:
            await loop.run_in_executor(None, self._send_all, records, futures, loop)
            await asyncio.wait_for(asyncio.gather(*futures), timeout_s)
        except TimeoutError as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge within {timeout_s:g} s") from exc
        except Exception as exc:  # noqa: BLE001 - any Kafka failure is a 503 to retry
            raise KafkaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.pending -= len(records)
            for f in futures:  # those a failure left waiting: their late answers are dropped
                f.cancel()

    def _send_all(self, records: Sequence[Record], futures: Sequence[asyncio.Future[None]],
                  loop: asyncio.AbstractEventLoop) -> None:
        producer = self._connect()
        for (topic, key, value), done in zip(records, futures, strict=True):
            sent = producer.send(topic, key=key, value=value)
            sent.add_callback(lambda _md, f=done: loop.call_soon_threadsafe(_settle, f, None))
            sent.add_errback(lambda exc, f=done: loop.call_soon_threadsafe(_settle, f, exc))

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    events: Counter
    spans: Counter
    latency: Histogram
    pending: Gauge

    @classmethod
    def make(cls) -> Metrics:
        r = CollectorRegistry()
        return cls(
            r,
            Counter("llmwatch_gateway_requests_total", "Requests by route and status",
                    ["route", "status"], registry=r),
            Counter("llmwatch_gateway_events_total", "Events by route and outcome "
                    "(accepted, rejected)", ["route", "outcome"], registry=r),
            Counter("llmwatch_gateway_spans_total", "OTLP spans by outcome (llm, unreadable, "
                    "other)", ["outcome"], registry=r),
            Histogram("llmwatch_gateway_request_seconds", "Time to answer a request, Kafka's "
                      "acknowledgement included", ["route"], registry=r,
                      buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
            Gauge("llmwatch_gateway_pending_events", "Events waiting for Kafka's "
                  "acknowledgement", registry=r),
        )


class Gateway:
    def __init__(self, settings: Settings, sink: Sink | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings, self.g = settings, settings.gateway
        self.sink = sink or Sink(settings)
        self.clock = clock
        self.metrics = Metrics.make()
        self.metrics.pending.set_function(lambda: self.sink.pending)
        self.limits = Limits.of(settings.ingest)
        self._tokens = [t.get_secret_value().encode() for t in self.g.tokens
                        if t.get_secret_value()]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.g.max_body_bytes)
        app.router.add_post("/v1/traces", self._timed("/v1/traces", self.traces))
        app.router.add_post("/v1/events", self._timed("/v1/events", self.events))
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    # --- routes --------------------------------------------------------------------------
    async def traces(self, request: web.Request) -> web.Response:
        content_type = request.content_type or "application/x-protobuf"
        body = await self._body(request)
        try:
            found = otlp_records(body, content_type, self.settings, self.clock(),
                                 lambda raw, why: self._dead_letter("/v1/traces", raw, why))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from exc
        await self._produce(found.records)
        m = self.metrics
        m.spans.labels("llm").inc(found.llm)
        m.spans.labels("unreadable").inc(len(found.rejected) - found.invalid_events)
        m.spans.labels("other").inc(found.other)
        m.events.labels("/v1/traces", "accepted").inc(found.llm - len(found.rejected))
        m.events.labels("/v1/traces", "rejected").inc(len(found.rejected))
        return self._otlp_answer(content_type, len(found.rejected), found.rejected)

    async def events(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(text=f"not JSON: {exc}\n") from exc
        items = doc.get("events") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise web.HTTPBadRequest(text='expected a JSON array of events, or {"events": '
                                     '[...]}\n')
        records: list[Record] = []
        errors = []
        for k, item in enumerate(items):
            raw = json.dumps(item, ensure_ascii=False).encode()
            decoded = decode_event(raw, now=self.clock(), limits=self.limits)
            if isinstance(decoded, LLMEvent | FeedbackEvent):
                records.append((self.settings.topics.events, decoded.partition_key, raw))
            else:
                errors.append({"index": k, "reason": decoded.reason})
                records.append(self._dead_letter("/v1/events", raw, decoded.reason))
        await self._produce(records)
        accepted = len(items) - len(errors)
        self.metrics.events.labels("/v1/events", "accepted").inc(accepted)
        self.metrics.events.labels("/v1/events", "rejected").inc(len(errors))
        return web.json_response({"accepted": accepted, "rejected": len(errors),
                                  "errors": errors[:100]}, status=202)

    async def readyz(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self.sink.ready):
            return web.Response(status=503, text="Kafka is not reachable\n")
        if self.sink.pending >= self.g.max_pending:
            return web.Response(status=503, text="too many events wait for Kafka\n")
        return web.Response(text="ok\n")

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.registry),
                            content_type="text/plain", charset="utf-8")

    # --- the edges -----------------------------------------------------------------------
    def _timed(self, route: str, handler: Callable[[web.Request], Awaitable[web.Response]]
               ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def run(request: web.Request) -> web.Response:
            started = time.perf_counter()
            status = 500
            try:
                self._authorise(request)
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                self.metrics.requests.labels(route, str(status)).inc()
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
        return run

    def _authorise(self, request: web.Request) -> None:
        if not self._tokens:
            return
        header = request.headers.get("Authorization", "")
        given = header.removeprefix("Bearer ").strip().encode()
        if not header.startswith("Bearer ") or not any(
                hmac.compare_digest(given, t) for t in self._tokens):
            raise web.HTTPUnauthorized(text="a bearer token is needed (gateway.tokens)\n",
                                       headers={"WWW-Authenticate": "Bearer"})

    async def _body(self, request: web.Request) -> bytes:
        body = await request.read()
        encoding = request.headers.get("Content-Encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            try:
                body = _inflate(body, encoding, self.g.max_body_bytes)
            except (OSError, EOFError, zlib.error, ValueError) as exc:
                raise web.HTTPBadRequest(text=f"cannot undo {encoding}: {exc}\n") from exc
        elif encoding not in ("", "identity"):
            raise web.HTTPUnsupportedMediaType(text=f"Content-Encoding {encoding} is not "
                                               "supported (gzip, deflate or none)\n")
        return body

    async def _produce(self, records: Sequence[Record]) -> None:
        if not records:
            return
        if self.sink.pending + len(records) > self.g.max_pending:
            raise web.HTTPTooManyRequests(
                text=f"{self.sink.pending} events wait for Kafka already; retry later\n",
                headers={"Retry-After": "1"})
        try:
            await self.sink.send(records, self.g.ack_timeout_s)
        except KafkaUnavailable as exc:
            log.warning("gateway: %d records not acknowledged (%s); the client is told to "
                        "retry", len(records), exc)
            raise web.HTTPServiceUnavailable(text=f"Kafka is unavailable ({exc}); retry\n",
                                             headers={"Retry-After": "5"}) from exc

    def _dead_letter(self, route: str, raw: bytes, reason: str) -> Record:
        letter = DeadLetter.of(reason=reason, stage="gateway", topic=f"gateway:{route}",
                               partition=-1, offset=-1, key=None, value=raw, now=self.clock(),
                               max_bytes=self.settings.ingest.dead_letter_max_bytes)
        return (self.settings.topics.deadletter, None, letter.model_dump_json().encode())

    def _otlp_answer(self, content_type: str, rejected: int,
                     reasons: list[str]) -> web.Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        answer = ExportTraceServiceResponse()
        if rejected:
            answer.partial_success.rejected_spans = rejected
            answer.partial_success.error_message = "; ".join(sorted(set(reasons)))[:1_000]
        if "json" in content_type:
            from google.protobuf.json_format import MessageToDict

            return web.json_response(MessageToDict(answer))
        return web.Response(body=answer.SerializeToString(),
                            content_type="application/x-protobuf")


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo gzip or deflate, refusing more than `limit` bytes (a small bomb stays small)."""
    d = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    out = d.decompress(body, limit + 1)
    if len(out) > limit or d.unconsumed_tail:
        raise ValueError(f"the body inflates past gateway.max_body_bytes ({limit:,})")
    if encoding == "gzip" and not d.eof:
        raise EOFError("the gzip stream is cut short")
    return out


def run_gateway(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM (blocking)."""
    from llmwatch import logs

    logs.config(settings.log.format, settings.log.level)
    gateway = Gateway(settings)
    if not gateway._tokens and settings.gateway.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("gateway: listening on %s without gateway.tokens: anyone who reaches it "
                    "can send events", settings.gateway.host)
    log.info("gateway: listening on http://%s:%d (OTLP /v1/traces, JSON /v1/events); "
             "events to %s", settings.gateway.host, settings.gateway.port,
             settings.topics.events)
    try:
        web.run_app(gateway.app(), host=settings.gateway.host, port=settings.gateway.port,
                    print=None, handle_signals=True,
                    # bodies are inflated here, within gateway.max_body_bytes (_inflate)
                    auto_decompress=False)
    finally:
        gateway.sink.close()

