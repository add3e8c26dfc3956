"""An OpenTelemetry span processor that sends the app's LLM spans to llmwatch.

    from opentelemetry.sdk.trace import TracerProvider
    from llmwatch.integrations.otel import LLMWatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(LLMWatchSpanProcessor(app="support-bot"))
    OpenAIInstrumentor().instrument(tracer_provider=provider)   # OpenLLMetry or OpenInference

Every ended span that is an LLM call, in any dialect `schemas.otel` reads (the GenAI
conventions, their numbered attributes, OpenInference), becomes one `LLMEvent` on the SDK's
queue; other spans (HTTP, database) are passed over. The span's trace and span id are the
event id, so a span seen twice is one call. A span that cannot be an event is counted
(`stats().unreadable`) and its reason logged once per reason, never raised into the app.
Needs `opentelemetry-sdk` (`pip install 'llmwatch[otel]'`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from llmwatch.schemas.otel import event_from_otel, genai_dialect
from llmwatch.sdk import Monitor

from .prices import DEFAULT, Prices

log = logging.getLogger("llmwatch.otel")


@dataclass(frozen=True)
class SpanStats:
    seen: int  # spans ended
    llm: int  # of them, LLM calls
    emitted: int  # queued on the SDK
    unreadable: int  # LLM spans that could not be events (reason in the log)


class LLMWatchSpanProcessor(SpanProcessor):
    """Turns ended LLM spans into events for `monitor` (a `Monitor` of its own if none)."""

    def __init__(self, monitor: Monitor | None = None, *, app: str | None = None,
                 prices: Prices | None = DEFAULT, id_salt: str | None = None) -> None:
        self.monitor = monitor or Monitor()
        self._owned = monitor is None
        self.app, self.prices, self.id_salt = app, prices, id_salt
        self._lock = threading.Lock()
        self._counts = {"seen": 0, "llm": 0, "emitted": 0, "unreadable": 0}
        self._said: set[str] = set()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._on_end(span)
        except Exception as exc:  # noqa: BLE001 - tracing must never break the app
            self._unreadable(f"{type(exc).__name__}: {exc}")

    def _on_end(self, span: ReadableSpan) -> None:
        self._count("seen")
        attributes = dict(span.attributes or {})
        if genai_dialect(attributes) is None:
            return
        self._count("llm")
        context = span.get_span_context()
        error = None
        if span.status.status_code is StatusCode.ERROR:
            error = span.status.description or "error"
        try:
            event = event_from_otel(
                attributes, app=self.app or _service(span), id_salt=self.id_salt,
                start_time_unix_nano=span.start_time, end_time_unix_nano=span.end_time,
                trace_id=context.trace_id if context else None,
                span_id=context.span_id if context else None, error=error)
        except ValueError as exc:
            self._unreadable(str(exc))
            return
        if event.cost_usd is None and self.prices is not None:
            cost = self.prices.cost_usd(event.model_version or event.model,
                                        event.input_tokens, event.output_tokens)
            if cost is not None:
                event = event.model_copy(update={"cost_usd": cost})
        if self.monitor.emit(event) is not None:
            self._count("emitted")

    def shutdown(self) -> None:
        if self._owned:
            self.monitor.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.monitor.flush(timeout_millis / 1000)

    def stats(self) -> SpanStats:
        with self._lock:
            return SpanStats(**self._counts)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _unreadable(self, reason: str) -> None:
        self._count("unreadable")
        if reason not in self._said:  # once per reason: a span per call would flood the log
            self._said.add(reason)
            log.warning("llmwatch: an LLM span is not sent: %s", reason)


def _service(span: ReadableSpan) -> str:
    resource: Any = getattr(span, "resource", None)
    name = resource.attributes.get("service.name") if resource is not None else None
    return str(name) if name and not str(name).startswith("unknown_service") else "unknown-app"
