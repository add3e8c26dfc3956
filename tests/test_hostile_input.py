"""Nothing a producer sends can stop, stall or lose the stream: the validation gate fuzzed with
Hypothesis (alone and through the real ingest path on PostgreSQL), a flood of every kind of bad
message through the real worker, a huge valid CJK prompt, and a broker outage."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import consume, consume_enriched, make_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from test_end_to_end import prepared, wait_for, worker_env, worker_on_own_broker

from llmwatch.embedding import Embedder
from llmwatch.flood import KINDS, hostile_messages
from llmwatch.local.kafka import LocalKafka, free_port
from llmwatch.schemas import DeadLetter, FeedbackEvent, LLMEvent, Rejected, decode_event
from llmwatch.schemas.embedded import from_wire_many
from llmwatch.sdk import Monitor
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage import Store, upgrade
from llmwatch.storage.tables import DriftCursorRow
from llmwatch.streams.pipeline import RawMessage, process_batch

NOW = datetime.now(UTC)

# -- Hypothesis: the gate ------------------------------------------------------------------
texts = st.one_of(st.text(max_size=50), st.sampled_from(
    ["", " ", "a\x00b", "\ud800", "x\n:rotating_light:", "meta-llama/Llama-3.1-8B-Instruct",
     "中文" * 10, "\u202eevil", "z" * 300]))
numbers = st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.floats(),
                    st.booleans(), st.just("12"), st.none())
stamps = st.one_of(st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
                   st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                    "2026-11-30T12:00:00", "yesterday", NOW.isoformat()]))
anything = st.recursive(st.one_of(texts, numbers), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)), max_leaves=20)
messages = st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "tool", "wizard"]), "content": texts}),
    max_size=3)
event_docs = st.fixed_dictionaries(
    {"kind": st.sampled_from(["llm_call", "feedback", "other"]),
     "event_id": st.one_of(texts, st.uuids().map(str)), "timestamp": stamps},
    optional={"app": texts, "model": texts, "model_version": st.one_of(texts, st.none()),
              "prompt": st.one_of(texts, messages, anything), "response": st.one_of(texts,
                                                                                    numbers),
              "latency_ms": numbers, "input_tokens": numbers, "output_tokens": numbers,
              "cost_usd": numbers, "finish_reason": texts, "tags": st.lists(texts, max_size=3),
              "metadata": st.dictionaries(texts, st.one_of(texts, numbers), max_size=3),
              "feedback_id": texts, "thumbs": st.sampled_from(["up", "down", "sideways"]),
              "score": numbers, "extra": anything})


def as_bytes(doc: object) -> bytes:
    return json.dumps(doc, default=str).encode("utf-8", "surrogatepass")


def assert_total(result: object) -> None:
    assert isinstance(result, LLMEvent | FeedbackEvent | Rejected)
    if isinstance(result, Rejected):
        assert result.reason.strip()


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=3000), st.none()))
def test_decode_never_raises_on_any_bytes(raw: bytes | None) -> None:
    assert_total(decode_event(raw, now=NOW))


@settings(max_examples=400, deadline=None)
@given(event_docs)
def test_decode_never_raises_on_json_built_from_the_schema(doc: dict[str, object]) -> None:
    result = decode_event(as_bytes(doc), now=NOW)
    assert_total(result)
    if isinstance(result, LLMEvent):  # what passes is what storage and the tokenizer take
        for text in (result.prompt_text, result.response_text, result.app, result.model):
            assert "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000, b'{"a": ' + b"1" * 5_000 + b"}", b'{"x": 1e999}',
    b'{"kind": "llm_call", "prompt": NaN}', b"\xff" * 10,
])
def test_hostile_shapes_are_rejected_with_a_reason(raw: bytes) -> None:
    result = decode_event(raw, now=NOW)
    assert isinstance(result, Rejected) and result.reason


def test_contract_gaps_are_closed() -> None:
    def reason(**fields: object) -> str:
        doc = {**json.loads(make_event(1, timestamp=NOW).model_dump_json()), **fields}
        result = decode_event(as_bytes(doc), now=NOW)
        assert isinstance(result, Rejected), fields
        return result.reason

    assert "input_tokens" in reason(input_tokens=True)
    assert "input_tokens" in reason(input_tokens="12")
    assert "latency_ms" in reason(latency_ms=1e308)
    assert "at most 200000 characters" in reason(prompt="p" * 200_001)
    assert "more than 365 days old" in reason(timestamp="1970-01-01T00:00:00Z")
    assert "ahead of the worker's clock" in reason(timestamp="2999-01-01T00:00:00Z")
    assert "outside the years" in reason(timestamp="0001-01-01T00:00:00+14:00")


# -- Hypothesis: the ingest path on PostgreSQL ---------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.one_of(event_docs.map(as_bytes), st.binary(max_size=300),
                          st.integers(0, 10**6).map(lambda i: make_event(
                              i, timestamp=NOW).model_dump_json().encode())),
                min_size=1, max_size=12))
def test_every_message_is_stored_or_dead_lettered_never_both(
        embedder: Embedder, postgres_url: str, values: list[bytes]) -> None:
    store = Store(postgres_url)
    upgrade(store.engine)
    batch = [RawMessage("t", 0, i, None, v) for i, v in enumerate(values)]
    out = process_batch(batch, embedder=embedder, store=store, now=NOW)
    lettered = {d.source_offset for d in out.dead_letters}
    stored_calls = {e.source.offset for e in out.embedded if e.source is not None}
    assert not lettered & stored_calls
    for msg in batch:
        decoded = decode_event(msg.value, now=NOW)
        if msg.offset in lettered:
            continue
        assert isinstance(decoded, LLMEvent | FeedbackEvent), decoded
        if isinstance(decoded, LLMEvent):  # stored (this batch or an exact replay of one)
            found = store.event(decoded.event_id)
            assert found is not None and found[0].prompt_text == decoded.prompt_text
    store.dispose()


# -- the real worker -----------------------------------------------------------------------
def test_a_flood_of_bad_messages_loses_nothing_and_stops_nothing(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    """The short version of bench/flood.py: every kind of bad message mixed with valid ones."""
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=20,
                             max_request_size=1_048_000)
    plan = TrafficPlan(events=200, feedback_rate=0, seed=11, start=NOW - timedelta(hours=1))
    valid = [(m.key, m.value) for m in traffic(plan)]
    first, later = valid[:100], valid[100:]
    for key, value in first:
        producer.send(s.topics.events, key=key, value=value)
    producer.flush()
    bad = list(hostile_messages(800, first, seed=3, huge_every=200))
    nested = random.Random(3)
    for at in (100, 400, 700):  # ~800 KB of nested containers, refused before parsing
        bad.insert(at, KINDS["nested"](nested, first))
    sent = []  # (kind, expect, future) in the order produced, valid ones interleaved
    for i, h in enumerate(bad):
        sent.append((h.kind, h.expect, producer.send(s.topics.events, key=h.key,
                                                      value=h.value)))
        if i % 8 == 0 and later:
            key, value = later.pop()
            producer.send(s.topics.events, key=key, value=value)
    for key, value in later:
        producer.send(s.topics.events, key=key, value=value)
    producer.flush()
    positions = [(kind, expect, f.get(30)) for kind, expect, f in sent]
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=worker_env(s),
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    expected_letters = sum(expect == "dead_letter" for _, expect, _ in positions)
    try:
        wait_for(lambda: worker.poll() is None and store.counts().events >= 200,
                 "the 200 valid events", log, timeout_s=300)
        letters = consume(kafka.bootstrap, s.topics.deadletter, expect=expected_letters,
                          timeout_s=120)
        assert worker.poll() is None, log.read_text()[-3000:]  # 0 exits
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    assert store.counts().events == 200  # every valid event, once; no bad one
    records = [DeadLetter.model_validate_json(r.value) for r in letters]
    assert all(len(r.value) < 200_000 for r in letters)  # dead letters always fit
    lettered = {(d.source_partition, d.source_offset) for d in records}
    want = {(md.partition, md.offset) for _, expect, md in positions if expect == "dead_letter"}
    replays = {(md.partition, md.offset) for _, expect, md in positions if expect == "replay"}
    assert lettered == want and not lettered & replays  # 0 lost, none both
    reasons = " | ".join(d.reason for d in records)
    for needle in ("conflict: event_id", "NUL", "lone surrogate", "nested too deeply",
                   "not a number JSON allows", "bytes; the limit is 900,000", "not UTF-8",
                   "too many JSON values"):
        assert needle in reasons, needle
    truncated = [d for d in records if d.truncated]
    assert all(d.original_size > 65_536 and len(d.original_value()) == 65_536
               and len(d.original_sha256) == 64 for d in truncated)
    assert any(d.original_size > 900_000 for d in truncated)  # the near-1-MB ones fit too
    store.dispose()


def test_a_valid_199000_character_cjk_prompt_is_stored_handed_on_and_judged(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all",
                             max_request_size=1_048_000)
    cjk = "漢字かな交じり文の長い質問です。" * 12_438  # 199,008 characters, ~597 KB of UTF-8
    for i in range(200):
        event = make_event(i, prompt=cjk[:199_000] if i == 150 else f"question number {i}",
                           timestamp=NOW - timedelta(minutes=200 - i))
        producer.send(s.topics.events, key=event.partition_key,
                      value=event.model_dump_json().encode())
    producer.close()
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=worker_env(s),
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        def judged() -> bool:
            with store.engine.connect() as conn:
                return any(w >= 1 for w in conn.execute(
                    DriftCursorRow.__table__.select().with_only_columns(
                        DriftCursorRow.windows)).scalars())
        wait_for(judged, "the window holding the CJK prompt to be judged", log, timeout_s=300)
        enriched, _ = consume_enriched(kafka.bootstrap, s.topics.enriched, expect=200)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    found = store.event("evt-000150")
    assert found is not None and len(found[0].prompt_text) == 199_000
    [record] = [r for r in enriched if b"evt-000150" in r.value]
    [item] = [e for e in from_wire_many(record.value) if e.event.event_id == "evt-000150"]
    assert len(record.value) < 1_000_000 and item.event.prompt_text == cjk[:199_000]
    store.dispose()


def test_a_broker_outage_is_a_few_lines_and_the_sdk_catches_up_fast(tmp_path: Path) -> None:
    """The broker is stopped for 60 s under a running worker and an emitting SDK."""
    broker = LocalKafka(port=free_port(), data_dir=tmp_path / "kafka", partitions=3).start()
    worker = None
    try:
        s, worker, log = worker_on_own_broker(broker.bootstrap, tmp_path, "outage")
        store = Store(s.storage.url)
        monitor = Monitor(broker.bootstrap)
        for i in range(20):
            monitor.emit(make_event(i, event_id=f"before-{i}", timestamp=NOW))
        wait_for(lambda: store.counts().events == 20, "the first events", log)
        before = len(log.read_text().splitlines())
        broker.stop()
        for i in range(30):  # the app keeps emitting during the outage
            monitor.emit(make_event(i, event_id=f"during-{uuid.uuid4().hex[:8]}",
                                    timestamp=NOW))
            time.sleep(2)
        broker.start()
        back = time.monotonic()
        assert monitor.flush(timeout_s=30)
        caught_up = time.monotonic() - back
        wait_for(lambda: store.counts().events == 50, "the events sent during the outage", log,
                 timeout_s=120)
        assert worker.poll() is None
        monitor.close()
        stats = monitor.stats()
        assert stats.sent == 50 and stats.failed == 0 and stats.dropped_full == 0
        print(f"SDK delivered its queue {caught_up:.1f}s after the broker was back")
        assert caught_up <= 5.0
        during = log.read_text().splitlines()[before:]
        kafka_lines = [line for line in during if "[WARNING]" in line or "[ERROR]" in line]
        print("\n".join(kafka_lines))
        assert len(kafka_lines) < 20, kafka_lines
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        broker.close()


def test_kafka_log_filter_says_an_outage_in_three_lines() -> None:
    import logging

    from llmwatch.streams.kafka_logs import KafkaLogFilter

    clock = [0.0]
    f = KafkaLogFilter(grace_s=5, remind_every_s=60, clock=lambda: clock[0])

    def record(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("aiokafka.client", level, "x", 1, msg, (), None)

    blip = [f.filter(record("Unable connect to node with id 1")) for _ in range(3)]
    clock[0] = 2
    f.filter(record("Discovered coordinator 1 for group g", logging.INFO))
    assert blip == [False] * 3 and f.since is None  # a 2-second blip says nothing
    shown = []
    for second in range(0, 130):
        clock[0] = 10 + second
        for _ in range(50):  # aiokafka's pace while a broker is down
            r = record("Unable connect to node with id 1: [Errno 111]")
            if f.filter(r):
                shown.append(r.getMessage())
    assert len(shown) == 3  # unreachable, and a reminder a minute
    assert shown[0].startswith("Kafka unreachable for 5s")
    assert "still unreachable after 65s" in shown[1] and "still unreachable after 125s" in shown[2]
    startup = record("Group Coordinator Request failed: GroupCoordinatorNotAvailableError")
    assert f.filter(startup) and startup.levelno == logging.INFO
