"""LLM calls recorded by the tracing an app already runs: spans made by the real OpenLLMetry
and OpenInference instrumentations, around the real `openai` client talking to a local
OpenAI-compatible server, go through `LLMWatchSpanProcessor` and the SDK to real Kafka, and
the gate reads each as one event with its prompt, response, model, tokens, latency and cost.
Other dialects and broken spans are read from their documented attribute shapes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import openai
import pytest
from factories import consume
from openai_server import API_KEY, OpenAICompatible
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmwatch.integrations.otel import LLMWatchSpanProcessor
from llmwatch.integrations.prices import DEFAULT
from llmwatch.local.kafka import LocalKafka
from llmwatch.schemas import LLMEvent, decode_event
from llmwatch.schemas.otel import event_from_otel, genai_dialect
from llmwatch.sdk import Monitor

ANSWER = "Paris is the capital of France."


@pytest.fixture
def chat_api() -> Iterator[OpenAICompatible]:
    api = OpenAICompatible(chat=lambda messages: ANSWER).start()
    yield api
    api.stop()


def _instrumentor(which: str):  # type: ignore[no-untyped-def]
    if which == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    else:
        from openinference.instrumentation.openai import OpenAIInstrumentor
    return OpenAIInstrumentor()


@pytest.mark.parametrize("which", ["openllmetry", "openinference"])
def test_spans_of_the_real_instrumentations_arrive_as_events(
        kafka: LocalKafka, chat_api: OpenAICompatible, which: str) -> None:
    topic = f"otel-{uuid.uuid4().hex[:8]}"
    monitor = Monitor(kafka.bootstrap, topic=topic)
    processor = LLMWatchSpanProcessor(monitor, app="geo-bot")
    provider = TracerProvider()
    provider.add_span_processor(processor)
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    instrumentor = _instrumentor(which)
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=chat_api.base_url, api_key=API_KEY)
        got = client.chat.completions.create(
            model="gpt-4o-mini-2024-07-18", temperature=0.2,
            messages=[{"role": "system", "content": "Answer in one sentence."},
                      {"role": "user", "content": "What is the capital of France?"}])
        assert got.choices[0].message.content == ANSWER  # the app's answer is untouched
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "And of Italy?"}])
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == ANSWER
        with provider.get_tracer("app").start_as_current_span("GET /health"):
            pass  # not an LLM call: passed over
    finally:
        instrumentor.uninstrument()
    provider.force_flush()
    monitor.close()
    assert processor.stats().llm == 2 and processor.stats().emitted == 2
    assert processor.stats().seen >= 3 and processor.stats().unreadable == 0

    records = consume(kafka.bootstrap, topic, expect=2)
    events = []
    for r in records:
        decoded = decode_event(r.value)
        assert isinstance(decoded, LLMEvent), decoded  # the gate takes it
        events.append(decoded)
    assert len(events) == 2 and len({e.event_id for e in events}) == 2
    plain, streamed = sorted(events, key=lambda e: e.timestamp)
    assert isinstance(plain.prompt, list)
    assert [m.role for m in plain.prompt] == ["system", "user"]
    assert plain.prompt_text == "What is the capital of France?"
    assert (plain.response, plain.model, plain.app) == (ANSWER, "gpt-4o-mini-2024-07-18", "geo-bot")
    assert (plain.input_tokens, plain.output_tokens) == (10, 6)  # the server's usage
    assert plain.latency_ms is not None and plain.latency_ms > 0
    assert plain.cost_usd == DEFAULT.cost_usd("gpt-4o-mini", 10, 6)
    assert plain.finish_reason == "stop"
    assert streamed.prompt_text == "And of Italy?" and streamed.response == ANSWER
    assert (streamed.input_tokens, streamed.output_tokens) == (3, 6)
    # the span's identity is the event id: a span exported twice is one call
    spans = {f"otel-{s.context.trace_id:032x}-{s.context.span_id:016x}"
             for s in exported.get_finished_spans()}
    assert {e.event_id for e in events} <= spans


NUMBERED = {  # OpenLLMetry before the current conventions (and many others since)
    "gen_ai.system": "openai", "llm.request.type": "chat",
    "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "Be brief.",
    "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "Weather\nin Paris?",
    "gen_ai.prompt.10.role": "user", "gen_ai.prompt.10.content": "And tomorrow?",
    "gen_ai.prompt.2.role": "assistant", "gen_ai.prompt.2.content": "Rain.",
    "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Sunny.",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.usage.prompt_tokens": 31, "gen_ai.usage.completion_tokens": 2,
    "llm.usage.total_tokens": 33,
}


def test_numbered_genai_attributes_keep_the_turns_in_order() -> None:
    assert genai_dialect(NUMBERED) == "genai-numbered"
    e = event_from_otel(NUMBERED, app="weather", trace_id=1, span_id=2)
    assert isinstance(e.prompt, list)
    assert [m.content for m in e.prompt] == ["Be brief.", "Weather\nin Paris?", "Rain.",
                                             "And tomorrow?"]  # 10 after 2, not after 1
    assert (e.response, e.finish_reason, e.input_tokens, e.output_tokens) == (
        "Sunny.", "stop", 31, 2)
    assert e.event_id == f"otel-{1:032x}-{2:016x}" and e.tags == ["chat"]


def test_openinference_without_messages_reads_input_and_output_values() -> None:
    attrs = {"openinference.span.kind": "LLM", "llm.provider": "openai",
             "input.value": json.dumps({"model": "gpt-4.1-mini", "messages": [
                 {"role": "user", "content": [{"type": "text", "text": "Hola, ¿qué tal?"}]}]}),
             "input.mime_type": "application/json",
             "output.value": json.dumps({"id": "chatcmpl-9", "model": "gpt-4.1-mini-2025-04-14",
                                         "choices": [{"finish_reason": "length", "message": {
                                             "role": "assistant", "content": "Bien."}}]}),
             "output.mime_type": "application/json"}
    e = event_from_otel(attrs, app="es-bot")
    assert (e.model, e.model_version, e.prompt_text, e.response, e.finish_reason) == (
        "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", "Hola, ¿qué tal?", "Bien.", "length")
    assert e.event_id == "chatcmpl-9" and e.metadata["otel_dialect"] == "openinference"
    # a chain or retriever span of OpenInference is not a call
    assert genai_dialect({"openinference.span.kind": "CHAIN", "input.value": "x"}) is None


@pytest.mark.parametrize(("attrs", "reason"), [
    ({"http.method": "GET"}, "is this an LLM call's span"),
    ({"gen_ai.request.model": "gpt-4o"}, "is message capture off"),
    ({"openinference.span.kind": "LLM", "llm.model_name": "x"}, "HIDE_INPUTS"),
    ({"openinference.span.kind": "LLM", "input.value": "hi"}, "names no model"),
    ({"gen_ai.request.model": "gpt-4o", "gen_ai.input.messages": "[{"}, "not valid JSON"),
])
def test_spans_that_cannot_be_events_say_why(attrs: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        event_from_otel(attrs, app="x")


def test_a_broken_span_is_counted_and_logged_once_never_raised(
        caplog: pytest.LogCaptureFixture) -> None:
    monitor = Monitor("127.0.0.1:1", topic="never")
    processor = LLMWatchSpanProcessor(monitor, app="x")
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("app")
    for _ in range(5):
        with tracer.start_as_current_span("openai.chat") as span:
            span.set_attribute("gen_ai.request.model", "gpt-4o")  # content capture off
    assert processor.stats().unreadable == 5 and processor.stats().emitted == 0
    said = [r for r in caplog.records if "span is not sent" in r.getMessage()]
    assert len(said) == 1 and "message capture" in said[0].getMessage()
    monitor.close(timeout_s=0.1)


def test_spans_recorded_from_an_older_openllmetry_read_the_same() -> None:
    """OpenLLMetry 0.40 wrote the numbered attributes (recorded by scripts/record_spans.py
    from the real package, which the tests' environment no longer holds)."""
    from pathlib import Path

    doc = json.loads((Path(__file__).parent / "data" / "otel" /
                      "openllmetry-0.40.14.json").read_text())
    assert doc["recorded_with"]["opentelemetry-instrumentation-openai"] == "0.40.14"
    plain, streamed = (event_from_otel(s["attributes"], app="geo-bot", trace_id=1, span_id=k + 1,
                                       start_time_unix_nano=s["start_time_unix_nano"],
                                       end_time_unix_nano=s["end_time_unix_nano"])
                       for k, s in enumerate(doc["spans"]))
    assert genai_dialect(doc["spans"][0]["attributes"]) == "genai-numbered"
    assert isinstance(plain.prompt, list) and [m.role for m in plain.prompt] == ["system", "user"]
    assert (plain.prompt_text, plain.response, plain.model) == (
        "What is the capital of France?", ANSWER, "gpt-4o-mini-2024-07-18")
    assert (plain.input_tokens, plain.output_tokens, plain.finish_reason) == (10, 6, "stop")
    assert plain.latency_ms is not None and plain.latency_ms > 0
    assert plain.metadata["provider"] == "OpenAI" and plain.tags == ["chat"]
    assert (streamed.prompt_text, streamed.response) == ("And of Italy?", ANSWER)
