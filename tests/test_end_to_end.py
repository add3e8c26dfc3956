"""The whole spine on real parts: Apache Kafka → faust worker process → PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from factories import consume, consume_enriched, make_event
from kafka import KafkaProducer

from llmwatch.config import Settings
from llmwatch.local.kafka import LocalKafka
from llmwatch.schemas import DeadLetter
from llmwatch.storage import Store, upgrade
from llmwatch.streams.topics import ensure_topics

N = 300


def worker_env(s: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": s.kafka.bootstrap_servers,
        "LLMWATCH_STORAGE__URL": s.storage.url,
        "LLMWATCH_TOPICS__EVENTS": s.topics.events,
        "LLMWATCH_TOPICS__DEADLETTER": s.topics.deadletter,
        "LLMWATCH_TOPICS__ENRICHED": s.topics.enriched,
        "LLMWATCH_TOPICS__FINDINGS": s.topics.findings,
        "LLMWATCH_WORKER__APP_ID": s.worker.app_id,
        "LLMWATCH_WORKER__DATA_DIR": str(s.worker.data_dir),
        "LLMWATCH_WORKER__SESSION_TIMEOUT_S": str(s.worker.session_timeout_s),
        "LLMWATCH_REPORT__OUT_DIR": str(s.report.out_dir),
        "LLMWATCH_EMBEDDING__BATCH_SIZE": "32",
        "LLMWATCH_DRIFT__REFERENCE_SIZE": "100",
        "LLMWATCH_DRIFT__WINDOW_SIZE": "100",
        # every call in the drift space: a sample drawn by arrival rate would depend on
        # how fast a busy machine delivers the burst
        "LLMWATCH_DRIFT__SAMPLE_EVERY_CALL_BELOW": "1000000",
        "LLMWATCH_DRIFT__SAMPLE_MAX_PER_S": "1000000",
        "LLMWATCH_WORKER__METRICS_PORT": "off",  # tests run several workers on one host
    }


def start_worker(s: Settings, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=worker_env(s),
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def prepared(s: Settings) -> Store:
    """The test's topics created and its database migrated; returns its store."""
    ensure_topics(s)
    store = Store(s.storage.url)
    upgrade(store.engine)
    return store


def worker_on_own_broker(bootstrap: str, tmp_path: Path, name: str
                         ) -> tuple[Settings, subprocess.Popen[bytes], Path]:
    """A worker with llmwatch's default topics and SQLite, on a broker of the test's own;
    returned once its model is loaded."""
    s = Settings.model_validate({
        "kafka": {"bootstrap_servers": bootstrap},
        "storage": {"url": f"sqlite:///{tmp_path / f'{name}.db'}"},
        "worker": {"app_id": f"llmwatch-{name}", "data_dir": str(tmp_path / "w"),
                   "session_timeout_s": 10},
        "report": {"out_dir": str(tmp_path / "reports")}})
    env = {k: v for k, v in worker_env(s).items() if not k.startswith("LLMWATCH_TOPICS")}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=env,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "llmwatch worker ready" in log.read_text(), "the worker", log)
    except BaseException:
        worker.kill()
        raise
    return s, worker, log


def run_report(env: dict[str, str], first: date, days: int, *, evidently_segments: int = 1
               ) -> tuple[str, str]:
    """`llmwatch report` over `days` days from `first`, run as a user runs it; returns the
    HTML and the JSON it wrote."""
    out = subprocess.run(
        [sys.executable, "-m", "llmwatch", "report", "--from", f"{first}",
         "--to", f"{first + timedelta(days=days)}", "--tz", "UTC"],
        env={**env, "LLMWATCH_REPORT__EVIDENTLY_SEGMENTS": str(evidently_segments),
             "COLUMNS": "400"},
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return (Path(re.search(r"HTML: (\S+)", out.stdout)[1]).read_text(),  # type: ignore[index]
            Path(re.search(r"JSON: (\S+)", out.stdout)[1]).read_text())  # type: ignore[index]


def wait_for(condition: Callable[[], bool], what: str, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


def test_n_events_become_n_rows_across_a_worker_crash(
    kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path  # noqa: ANN001
) -> None:
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    payloads = [(e.partition_key, e.model_dump_json().encode())
                for e in (make_event(i, prompt=f"question number {i}") for i in range(N))]
    for key, value in payloads[: N // 2]:
        producer.send(s.topics.events, key=key, value=value)
    producer.flush()
    log = tmp_path / "worker.log"

    first = start_worker(s, log)
    wait_for(lambda: store.counts().events >= 40, "the first worker to store some events", log)
    first.send_signal(signal.SIGKILL)  # a crash: no graceful commit
    first.wait()
    stored_before_crash = store.counts().events
    assert 0 < stored_before_crash < N

    for key, value in payloads[N // 2:]:
        producer.send(s.topics.events, key=key, value=value)
    malformed = b'{"kind": "llm_call", "event_id": "bad-1", "app": "support-bot"}'
    meta = producer.send(s.topics.events, key=b"support-bot/gpt-test", value=malformed).get(30)
    producer.close()

    second = start_worker(s, log)
    try:
        wait_for(lambda: store.counts().events >= N, "all events to be stored", log)
        letters = consume(kafka.bootstrap, s.topics.deadletter, expect=1, timeout_s=60)
        # every call has one timestamp: drift judges them once event time settles (no new
        # call for drift.idle_partition_s), not while partitions may still bring older ones
        wait_for(lambda: _windows_judged(store) == 2, "the drift stage's two windows", log)
        # the windows' findings reach the findings topic while the worker runs (stopped the
        # moment a window's cursor is committed, its findings may be in SQL only: they are
        # sent after the commit, and a worker shutting down sends nothing more)
        found = [json.loads(r.value) for r in consume(kafka.bootstrap, s.topics.findings,
                                                      expect=20, timeout_s=120)]
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    assert sorted(store.event_ids()) == sorted(f"evt-{i:06d}" for i in range(N))
    assert store.counts().events == N and store.counts().embeddings == N
    assert len(letters) == 1
    letter = DeadLetter.model_validate_json(letters[0].value)
    assert letter.original_value() == malformed
    assert (letter.source_partition, letter.source_offset) == (meta.partition, meta.offset)
    assert "timestamp: Field required" in letter.reason and letter.stage == "decode"
    enriched, handed_on = consume_enriched(kafka.bootstrap, s.topics.enriched, expect=N)
    assert {r.key for r in enriched} == {b'["support-bot", "gpt-test"]'}  # state: app, model
    assert {e.event.event_id for e in handed_on} == set(store.event_ids())  # all handed on
    assert len(enriched) < N / 2  # packed: a record per segment and batch, not per call
    # the drift stage: reference = first 100 calls, then windows of 100 → 2 windows
    windows = [f for f in found
               if f["detector"] == "embedding_drift" and f["metric"] == "prompt_embedding"]
    assert len(windows) == 2 and all(w["window"]["n_current"] == 100 for w in windows)
    store.dispose()


def _windows_judged(store: Store) -> int:
    from sqlalchemy import func, select

    from llmwatch.storage.tables import DriftCursorRow

    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(DriftCursorRow.windows), 0))
                                ).scalar_one())


def test_a_worker_that_cannot_work_exits_and_says_why(
    kafka: LocalKafka, settings_for, tmp_path: Path  # noqa: ANN001
) -> None:
    s = settings_for(kafka.bootstrap, f"sqlite:///{tmp_path / 'w.db'}")
    # the model the minilm backend runs, missing (the static backend reads only what is shipped)
    env = {**worker_env(s), "LLMWATCH_EMBEDDING__BACKEND": "minilm",
           "LLMWATCH_EMBEDDING__MODEL_PATH": str(tmp_path / "no-model")}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=env,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        assert worker.wait(120) == 70
    finally:  # a worker that did start is not left running after the test
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    text = log.read_text()
    assert "embedding model not found" in text and "LLMWATCH_EMBEDDING__MODEL_PATH" in text
