"""The producer SDK against a real Apache Kafka broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

from factories import consume, make_event
from kafka import KafkaConsumer

from llmwatch.local.kafka import LocalKafka, free_port
from llmwatch.sdk import Monitor, hash_id


def topic() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


def test_emitted_events_arrive_keyed_by_id_and_spread(kafka: LocalKafka) -> None:
    name = topic()
    monitor = Monitor(kafka.bootstrap, topic=name)
    for i in range(60):
        assert monitor.emit(make_event(i, model="gpt-a" if i % 2 else "gpt-b"))
    assert monitor.emit(app="support-bot", model="gpt-a", prompt="fields only", response="ok")
    assert monitor.feedback("evt-000001", thumbs="down", comment="wrong answer")
    monitor.close()
    stats = monitor.stats()
    assert (stats.accepted, stats.sent, stats.queued, stats.failed) == (62, 62, 0, 0)
    records = consume(kafka.bootstrap, name, expect=62)
    assert len(records) == 62
    by_key: dict[bytes, list[str]] = {}
    for r in records:
        by_key.setdefault(r.key, []).append(json.loads(r.value)["event_id"])
    for i in range(60):  # each call under its own id: one app/model is not one partition
        assert by_key[f"evt-{i:06d}".encode()] == [f"evt-{i:06d}"]
    assert by_key[b"feedback/evt-000001"] == ["evt-000001"]
    partitions = {r.partition for r in records if r.key.startswith(b"evt-")}
    assert len(partitions) > 1, partitions


def test_raw_user_ids_are_hashed_before_they_leave(kafka: LocalKafka,
                                                    monkeypatch, caplog) -> None:  # noqa: ANN001
    name = topic()
    unsalted = Monitor(kafka.bootstrap, topic=name)
    first = unsalted.emit(app="a", model="m", prompt="hi", user_id="alice@example.com")
    second = unsalted.emit(app="a", model="m", prompt="hi again", session_id="s-0")
    unsalted.close()
    assert first and second and first != second  # the calls go out, without the raw ids
    assert unsalted.stats().ids_not_hashed == 2 and unsalted.stats().sent == 2
    said = [r for r in caplog.records if "LLMWATCH_SDK__ID_SALT" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "ERROR"  # once, loudly
    monkeypatch.setenv("LLMWATCH_SDK__ID_SALT", "pepper")
    monitor = Monitor(kafka.bootstrap, topic=name)
    assert monitor.emit(app="a", model="m", prompt="hi", user_id="alice@example.com",
                        session_id="s-1")
    monitor.close()
    records = consume(kafka.bootstrap, name, expect=3)
    assert all(b"alice" not in r.value and b"s-0" not in r.value for r in records)
    bodies = {json.loads(r.value)["event_id"]: json.loads(r.value) for r in records}
    assert "user_hash" not in bodies[first] and "session_hash" not in bodies[second]
    [body] = [b for k, b in bodies.items() if k not in (first, second)]
    assert body["user_hash"] == hash_id("alice@example.com", "pepper")
    assert body["session_hash"] == hash_id("s-1", "pepper")


def test_invalid_events_are_refused_and_counted_not_raised(kafka: LocalKafka) -> None:
    monitor = Monitor(kafka.bootstrap, topic=topic())
    assert monitor.emit(app="a", model="m", prompt="") is None
    assert monitor.emit(app="a", model="m", prompt="hi", latency_ms=-1) is None
    assert monitor.emit(app="a", prompt="no model") is None
    assert monitor.feedback("evt-1") is None  # says nothing
    monitor.close()
    assert monitor.stats().dropped_invalid == 4 and monitor.stats().sent == 0


def test_a_dead_broker_never_blocks_the_app_and_drops_are_reported() -> None:
    monitor = Monitor(f"127.0.0.1:{free_port()}", topic=topic(), max_buffer=50)
    started = time.monotonic()
    results = [monitor.emit(make_event(i)) for i in range(80)]
    assert time.monotonic() - started < 1.0  # 80 emits, no waiting on Kafka
    assert results == [f"evt-{i:06d}" for i in range(50)] + [None] * 30
    stats = monitor.stats()
    assert (stats.accepted, stats.dropped_full, stats.sent) == (50, 30, 0)
    monitor.close(timeout_s=0.5)
    assert monitor.stats().dropped_full == 80  # the 50 queued could not be sent either


def test_events_queued_while_kafka_is_down_are_sent_when_it_comes_up() -> None:
    port = free_port()
    monitor = Monitor(f"127.0.0.1:{port}", topic="late")
    for i in range(20):
        assert monitor.emit(make_event(i))
    with LocalKafka(port=port) as broker:
        assert monitor.flush(timeout_s=90)
        assert monitor.stats().sent == 20
        assert len(consume(broker.bootstrap, "late", expect=20)) == 20
        monitor.close()


def test_pending_events_are_flushed_when_the_app_exits(kafka: LocalKafka) -> None:
    name = topic()
    script = (
        "from llmwatch.sdk import Monitor, hash_id\n"
        f"m = Monitor({kafka.bootstrap!r}, topic={name!r})\n"
        "for i in range(200):\n"
        "    m.emit(app='batch-job', model='m', prompt=f'question {i}', event_id=f'x{i}')\n"
        # no close(): the atexit hook must flush
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    consumer = KafkaConsumer(name, bootstrap_servers=kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    ids = {json.loads(r.value)["event_id"] for r in consumer}
    consumer.close()
    assert ids == {f"x{i}" for i in range(200)}
