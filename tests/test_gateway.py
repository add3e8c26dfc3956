"""`llmwatch gateway` as a real process on real Kafka: OTLP/HTTP from the official
OpenTelemetry exporter (protobuf, gzip, bearer token), OTLP JSON as a Collector's otlphttp
exporter sends it, JSON event batches; rejects dead-lettered with their reason; 401 without
the token; 503 with Retry-After while Kafka is unreachable."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import openai
import pytest
from factories import consume, make_event
from openai_server import API_KEY, OpenAICompatible

from llmwatch.integrations.prices import DEFAULT
from llmwatch.local.kafka import LocalKafka, free_port
from llmwatch.schemas import LLMEvent, decode_event
from llmwatch.schemas.deadletter import DeadLetter

TOKEN = "gw-test-token"


@dataclass
class Running:
    url: str
    events: str
    deadletter: str
    process: subprocess.Popen[bytes]
    log: Path


def start_gateway(bootstrap: str, tmp_path: Path, *, ready: bool = True,
                  **settings: str) -> Running:
    port, tag = free_port(), uuid.uuid4().hex[:8]
    events, deadletter = f"gw-events-{tag}", f"gw-dead-{tag}"
    env = {**os.environ, "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
           "LLMWATCH_TOPICS__EVENTS": events, "LLMWATCH_TOPICS__DEADLETTER": deadletter,
           "LLMWATCH_GATEWAY__PORT": str(port), "LLMWATCH_GATEWAY__TOKENS": json.dumps([TOKEN]),
           "LLMWATCH_GATEWAY__ACK_TIMEOUT_S": "5", **settings}
    log = tmp_path / f"gateway-{tag}.log"
    process = subprocess.Popen([sys.executable, "-m", "llmwatch", "gateway"], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    running = Running(f"http://127.0.0.1:{port}", events, deadletter, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status = _get(running.url + "/readyz")
        except OSError:
            status = 0
        if status == 200 or (not ready and status == 503):
            return running
        assert process.poll() is None, log.read_text()
        time.sleep(0.3)
    raise AssertionError(f"the gateway did not come up: {log.read_text()[-2000:]}")


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def post(url: str, body: bytes, content_type: str, *, token: str | None = TOKEN,
         gzipped: bool = False) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return int(r.status), dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return int(e.code), dict(e.headers), e.read()


@pytest.fixture
def gateway(kafka: LocalKafka, tmp_path: Path) -> Iterator[Running]:
    running = start_gateway(kafka.bootstrap, tmp_path)
    yield running
    running.process.terminate()
    running.process.wait(timeout=30)


def test_otlp_from_the_official_exporter_becomes_events(
        kafka: LocalKafka, gateway: Running) -> None:
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    api = OpenAICompatible(chat=lambda messages: "Bonjour ! Je vais bien.").start()
    provider = TracerProvider(resource=Resource.create({"service.name": "fr-bot"}))
    exporter = OTLPSpanExporter(endpoint=gateway.url + "/v1/traces", compression=Compression.Gzip,
                                headers={"Authorization": f"Bearer {TOKEN}"})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=api.base_url, api_key=API_KEY)
        for question in ("Bonjour, ça va ?", "Et toi ?"):
            client.chat.completions.create(model="gpt-4o-mini",
                                           messages=[{"role": "user", "content": question}])
        with provider.get_tracer("app").start_as_current_span("GET /health"):
            pass  # not an LLM call: passed over
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        api.stop()
    events = [decode_event(r.value) for r in consume(kafka.bootstrap, gateway.events, expect=2)]
    assert all(isinstance(e, LLMEvent) for e in events) and len(events) == 2
    by_prompt = {e.prompt_text: e for e in events if isinstance(e, LLMEvent)}
    first = by_prompt["Bonjour, ça va ?"]
    assert (first.app, first.model, first.response) == ("fr-bot", "gpt-4o-mini",
                                                        "Bonjour ! Je vais bien.")
    assert (first.input_tokens, first.output_tokens) == (4, 5)  # the server counts words
    assert first.latency_ms is not None and first.event_id.startswith("otel-")
    assert first.cost_usd == DEFAULT.cost_usd("gpt-4o-mini", 4, 5)  # the price table's
    metrics = urllib.request.urlopen(gateway.url + "/metrics", timeout=10).read().decode()
    assert 'llmwatch_gateway_spans_total{outcome="other"} 1.0' in metrics
    assert 'llmwatch_gateway_spans_total{outcome="llm"} 2.0' in metrics


def _otlp_json(spans: list[dict[str, object]]) -> bytes:
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "collector-app"}}]},
        "scopeSpans": [{"scope": {"name": "openllmetry"}, "spans": spans}]}]}).encode()


def _span(span_id: str, attributes: dict[str, object]) -> dict[str, object]:
    def value(v: object) -> dict[str, object]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}  # 64-bit integers are strings in OTLP JSON
        if isinstance(v, list):
            return {"arrayValue": {"values": [value(x) for x in v]}}
        return {"stringValue": str(v)}
    start = int(datetime.now(UTC).timestamp() * 1e9)
    return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id,
            "name": "openai.chat", "kind": 3, "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + 420_000_000), "status": {},
            "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()]}


def test_otlp_json_answers_with_partial_success_and_dead_letters_the_rest(
        kafka: LocalKafka, gateway: Running) -> None:
    good = _span("eee19b7ec3c1b174", {
        "gen_ai.request.model": "gpt-4o", "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Line one\nline two", "gen_ai.completion.0.content": "OK.",
        "gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.completion_tokens": 1,
        "gen_ai.response.finish_reasons": ["stop"]})
    no_content = _span("eee19b7ec3c1b175", {"gen_ai.request.model": "gpt-4o"})
    status, _, body = post(gateway.url + "/v1/traces", _otlp_json([good, no_content]),
                           "application/json", gzipped=True)
    assert status == 200
    answer = json.loads(body)
    assert answer["partialSuccess"]["rejectedSpans"] in (1, "1")
    assert "message capture" in answer["partialSuccess"]["errorMessage"]
    [record] = consume(kafka.bootstrap, gateway.events, expect=1)
    event = decode_event(record.value)
    assert isinstance(event, LLMEvent)
    assert event.event_id == "otel-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174"
    assert (event.app, event.latency_ms, event.prompt_text) == (
        "collector-app", 420.0, "Line one\nline two")
    [dead] = consume(kafka.bootstrap, gateway.deadletter, expect=1)
    letter = DeadLetter.model_validate_json(dead.value)
    assert letter.stage == "gateway" and "message capture" in letter.reason


def test_json_event_batches_are_gated_and_counted(kafka: LocalKafka, gateway: Running) -> None:
    now = datetime.now(UTC)
    good = [json.loads(make_event(i, timestamp=now).model_dump_json(exclude_none=True))
            for i in range(2)]
    bad = {**good[0], "event_id": "bad-1", "latency_ms": -5}
    status, _, body = post(gateway.url + "/v1/events",
                           json.dumps({"events": [*good, bad]}).encode(), "application/json")
    assert status == 202
    answer = json.loads(body)
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["errors"][0]["index"] == 2 and "latency_ms" in answer["errors"][0]["reason"]
    ids = {json.loads(r.value)["event_id"]
           for r in consume(kafka.bootstrap, gateway.events, expect=2)}
    assert ids == {"evt-000000", "evt-000001"}
    [dead] = consume(kafka.bootstrap, gateway.deadletter, expect=1)
    assert json.loads(DeadLetter.model_validate_json(dead.value).original_value() or b"")[
        "event_id"] == "bad-1"


@pytest.mark.parametrize(("body", "content_type", "token", "status"), [
    (b"[]", "application/json", None, 401),
    (b"[]", "application/json", "wrong", 401),
    (b"{nope", "application/json", TOKEN, 400),
    (b"\x0a\xff\xff\xff", "application/x-protobuf", TOKEN, 400),
])
def test_bad_requests_get_clear_answers(gateway: Running, body: bytes, content_type: str,
                                        token: str | None, status: int) -> None:
    route = "/v1/traces" if "protobuf" in content_type else "/v1/events"
    got, _, text = post(gateway.url + route, body, content_type, token=token)
    assert got == status, text


def test_a_gzip_bomb_is_refused(gateway: Running) -> None:
    bomb = gzip.compress(b"[" + b" " * 40_000_000 + b"]")
    request = urllib.request.Request(gateway.url + "/v1/events", data=bomb, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Content-Encoding": "gzip",
                                              "Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400 and b"max_body_bytes" in caught.value.read()


def test_kafka_unreachable_is_503_with_retry_after(tmp_path: Path) -> None:
    running = start_gateway(f"127.0.0.1:{free_port()}", tmp_path, ready=False)
    try:
        event = json.loads(make_event(1, timestamp=datetime.now(UTC)).model_dump_json())
        status, headers, _ = post(running.url + "/v1/events", json.dumps([event]).encode(),
                                  "application/json")
        assert status == 503 and int(headers["Retry-After"]) > 0
        assert _get(running.url + "/readyz") == 503
    finally:
        running.process.terminate()
        running.process.wait(timeout=30)


def test_a_collectors_kafka_topic_feeds_the_worker(kafka: LocalKafka, tmp_path: Path) -> None:
    """The Collector's Kafka exporter writes ExportTraceServiceRequest messages (otlp_proto)
    or their JSON (otlp_json) to a topic; the worker reads it (topics.otlp_spans)."""
    from kafka import KafkaProducer
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from test_end_to_end import prepared, wait_for, worker_env

    from llmwatch.config import Settings

    tag = uuid.uuid4().hex[:8]
    s = Settings.model_validate({
        "kafka": {"bootstrap_servers": kafka.bootstrap},
        "storage": {"url": f"sqlite:///{tmp_path / 'otlp.db'}"},
        "topics": {"events": f"ev-{tag}", "deadletter": f"dl-{tag}", "enriched": f"en-{tag}",
                   "findings": f"fi-{tag}", "otlp_spans": f"otlp-{tag}"},
        "worker": {"app_id": f"llmwatch-otlp-{tag}", "data_dir": str(tmp_path / "w"),
                   "session_timeout_s": 10},
        "report": {"out_dir": str(tmp_path / "reports")}})
    store = prepared(s)
    # real spans of OpenInference, encoded as the Collector's otlp_proto encoding carries them
    # (OpenLLMetry is instrumented by test_otel_ingest alone: instrumenting it a second time
    # in one process doubles its streamed answers)
    api = OpenAICompatible(chat=lambda messages: "Twelve.").start()
    provider = TracerProvider(resource=Resource.create({"service.name": "maths-bot"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=api.base_url, api_key=API_KEY)
        for q in ("What is 7 + 5?", "What is 3 × 4?"):
            client.chat.completions.create(model="gpt-4.1-mini",
                                           messages=[{"role": "user", "content": q}])
    finally:
        instrumentor.uninstrument()
        api.stop()
    proto = encode_spans(memory.get_finished_spans()).SerializeToString()
    as_json = _otlp_json([_span("aaaaaaaaaaaaaaa1", {
        "gen_ai.request.model": "gpt-4o", "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Bonjour", "gen_ai.completion.0.content": "Salut"})])
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for value in (proto, as_json, b"\x0a\xff\xff garbage"):
        producer.send(f"otlp-{tag}", value=value)
    producer.flush()
    producer.close()

    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"],
                              env={**worker_env(s),
                                   "LLMWATCH_TOPICS__OTLP_SPANS": f"otlp-{tag}"},
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: store.counts().events == 3, "three calls stored", log)
        [dead] = consume(kafka.bootstrap, f"dl-{tag}", expect=1)
        letter = DeadLetter.model_validate_json(dead.value)
        assert letter.stage == "otlp" and "not an OTLP protobuf" in letter.reason
        assert letter.source_topic == f"otlp-{tag}"
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_more_than_the_pending_budget_is_429_with_retry_after(kafka: LocalKafka,
                                                            tmp_path: Path) -> None:
    running = start_gateway(kafka.bootstrap, tmp_path, LLMWATCH_GATEWAY__MAX_PENDING="2")
    try:
        now = datetime.now(UTC)
        batch = [json.loads(make_event(i, timestamp=now).model_dump_json()) for i in range(3)]
        status, headers, text = post(running.url + "/v1/events", json.dumps(batch).encode(),
                                     "application/json")
        assert status == 429 and int(headers["Retry-After"]) > 0, text
        status, _, _ = post(running.url + "/v1/events", json.dumps(batch[:2]).encode(),
                            "application/json")
        assert status == 202  # within the budget
    finally:
        running.process.terminate()
        running.process.wait(timeout=30)
