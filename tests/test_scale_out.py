"""Scale-out: one busy app/model is ingested by every worker of the group, while its drift
state (windows, findings) lives with one worker."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_end_to_end import prepared, wait_for, worker_env

from llmwatch.local.kafka import LocalKafka
from llmwatch.observability import group_members
from llmwatch.schemas.events import LLMEvent
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage.tables import EventRow, FindingRow

EVENTS = 800


def _stored_by(log: Path) -> int:
    """The worker's own count of the calls it stored (its last 'totals' line)."""
    found = re.findall(r"'new_events': (\d+)", log.read_text(errors="replace"))
    return int(found[-1]) if found else 0


def test_two_workers_share_one_hot_model_and_judge_its_windows_once(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    s = settings_for(kafka.bootstrap, postgres_url)
    s = s.model_copy(update={"topics": s.topics.model_copy(update={"partitions": 4})})
    store = prepared(s)
    workers, logs = [], []
    for n in range(2):
        log = tmp_path / f"worker-{n}.log"
        env = {**worker_env(s), "LLMWATCH_WORKER__DATA_DIR": str(tmp_path / f"w{n}"),
               "LLMWATCH_EMBEDDING__BATCH_SIZE": "16"}
        workers.append(subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=env,
                                        stdout=log.open("ab"), stderr=subprocess.STDOUT))
        logs.append(log)
    try:
        wait_for(lambda: all("llmwatch worker ready" in lg.read_text(errors="replace")
                             for lg in logs), "both workers ready", logs[0], timeout_s=180)
        events = s.topics.events

        def both_hold_events_partitions() -> bool:  # the group rebalanced after the 2nd joined
            try:
                members = group_members(s.kafka.kafka_python_options(), s.worker.app_id)
            except Exception:  # noqa: BLE001 - the coordinator may not answer yet
                return False
            return len(members) == 2 and all(
                any(p.startswith(f"{events}[") for p in m["partitions"]) for m in members)

        wait_for(both_hold_events_partitions, "both workers holding partitions", logs[1],
                 timeout_s=120)
        time.sleep(3)
        plan = TrafficPlan(events=EVENTS, shift_at=0.5, shift_fraction=0.6, feedback_rate=0,
                           app="support-bot", model="gpt-4o", seed=4,
                           start=datetime.now(UTC) - timedelta(hours=1))
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        for msg in traffic(plan):
            key = LLMEvent.model_validate_json(msg.value).partition_key
            producer.send(s.topics.events, key=key, value=msg.value)
        producer.close()

        def stored() -> int:
            for w, lg in zip(workers, logs, strict=True):
                assert w.poll() is None, lg.read_text()[-3000:]
            with Session(store.engine) as session:
                return int(session.scalar(select(func.count()).select_from(EventRow)) or 0)

        wait_for(lambda: stored() == EVENTS, "every call stored", logs[0], timeout_s=420)
        def windows() -> int:
            with Session(store.engine) as session:
                return int(session.scalar(select(func.count()).select_from(FindingRow).where(
                    FindingRow.detector == "embedding_drift",
                    FindingRow.metric == "prompt_embedding")) or 0)

        wait_for(lambda: windows() >= 5, "the drift windows judged", logs[0], timeout_s=180)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(60)

    shares = [_stored_by(lg) / EVENTS for lg in logs]
    assert all(share >= 0.3 for share in shares), shares  # both workers did the work
    assert sum(_stored_by(lg) for lg in logs) == EVENTS
    with Session(store.engine) as session:
        judged = Counter(session.execute(
            select(FindingRow.detector, FindingRow.metric, FindingRow.window_start,
                   FindingRow.window_end).where(FindingRow.detector == "embedding_drift")
        ).tuples())
    assert judged and max(judged.values()) == 1, judged  # each window once, not per worker
    assert sum(judged.values()) >= 5
    store.dispose()
