"""The producer SDK against a real Apache Kafka broker."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid

import pytest
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
    stats = monitor.stats()  # the 50 queued could not be sent either: exact counts
    assert (stats.dropped_full, stats.unsent, stats.queued, stats.sent) == (30, 50, 0, 0)
    assert monitor.emit(make_event(99)) is None and monitor.stats().unsent == 51


def test_events_queued_while_kafka_is_down_are_sent_when_it_comes_up(
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    monitor = Monitor(f"127.0.0.1:{port}", topic="late")
    for i in range(20):
        assert monitor.emit(make_event(i))
    time.sleep(5)  # a few connection attempts while Kafka is down
    with LocalKafka(port=port) as broker:
        assert monitor.flush(timeout_s=90)
        assert monitor.stats().sent == 20
        assert len(consume(broker.bootstrap, "late", expect=20)) == 20
        monitor.close()
    said = [r.getMessage() for r in caplog.records if r.name == "llmwatch.sdk"]
    # each change of state in one line, not a line per retry
    assert sum("cannot reach Kafka" in m for m in said) == 1, said
    assert sum("reached Kafka" in m for m in said) == 1, said
    assert not [r for r in caplog.records if r.name.startswith("kafka")
                and r.levelno < logging.CRITICAL]  # kafka-python's own lines contained


def test_with_kafka_down_the_app_exits_at_once_and_says_so_in_few_lines() -> None:
    """The app ends; the SDK may hold its exit for sdk.close_timeout_s (2 s) at most, and its
    log stays quiet while it waits (the app's logging at INFO, as many services run)."""
    script = (
        "import logging, sys, time\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        "from llmwatch.sdk import Monitor\n"
        f"m = Monitor('127.0.0.1:{free_port()}', topic='never')\n"
        "m.emit(app='a', model='m', prompt='one'); m.emit(app='a', model='m', prompt='two')\n"
        "time.sleep(20)\n"
        "print(repr(m.stats()), time.monotonic(), flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    ended = time.monotonic()
    stats, script_end = done.stdout.rsplit(" ", 1)
    assert "accepted=2" in stats and "queued=2" in stats and "dropped_full=0" in stats
    assert ended - float(script_end) < 3.0  # the process is gone within 3 s of the script
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 5, lines  # ~22 s of an unreachable Kafka
    assert sum("cannot reach Kafka" in ln for ln in lines) == 1
    assert sum("2 events not sent" in ln for ln in lines) == 1


def test_pending_events_are_flushed_when_the_app_exits(kafka: LocalKafka) -> None:
    name = topic()
    script = (
        "from llmwatch.sdk import Monitor, hash_id\n"
        f"m = Monitor({kafka.bootstrap!r}, topic={name!r})\n"
        "for i in range(200):\n"
        "    m.emit(app='batch-job', model='m', prompt=f'question {i}', event_id=f'x{i}')\n"
        # no close(): the atexit hook must flush
    )
    # a busy machine's first connection can take longer than the default 2 s at exit
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120,
                   env={**os.environ, "LLMWATCH_SDK__CLOSE_TIMEOUT_S": "60"})
    consumer = KafkaConsumer(name, bootstrap_servers=kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    ids = {json.loads(r.value)["event_id"] for r in consumer}
    consumer.close()
    assert ids == {f"x{i}" for i in range(200)}
