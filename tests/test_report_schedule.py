"""The scheduled report with two real workers (faust, Apache Kafka, PostgreSQL): every
scheduled run gives exactly one Slack digest with one file — the leader makes it, and the
run's claimed row and the outbox make sure nothing doubles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from report_world import copy_world
from slack_server import TOKEN, SlackAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from llmwatch.local.kafka import LocalKafka
from llmwatch.storage import Store, upgrade
from llmwatch.storage.tables import AlertOutboxRow, ReportRow

CHANNEL = "C0WEEKLY"
RUNS = 2


def test_two_workers_deliver_one_digest_per_scheduled_run(
        kafka: LocalKafka, postgres_url: str, world_db: str, tmp_path: Path) -> None:
    store = Store(postgres_url)
    upgrade(store.engine)
    copy_world(world_db, store)
    slack = SlackAPI().start()
    env = {
        **os.environ,
        "LLMWATCH_WORKER__METRICS_PORT": "off",  # two workers on one host
        "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap,
        "LLMWATCH_STORAGE__URL": postgres_url,
        "LLMWATCH_TOPICS__EVENTS": f"ev-{tmp_path.name}",
        "LLMWATCH_TOPICS__ENRICHED": f"en-{tmp_path.name}",
        "LLMWATCH_TOPICS__PARTITIONS": "2",
        "LLMWATCH_WORKER__APP_ID": f"llmwatch-report-{tmp_path.name}",
        "LLMWATCH_WORKER__SESSION_TIMEOUT_S": "10",
        "LLMWATCH_REPORT__CRON": "* * * * *",  # every minute: a scheduled run per minute
        "LLMWATCH_REPORT__CHECK_EVERY_S": "2",
        "LLMWATCH_REPORT__OUT_DIR": str(tmp_path / "reports"),
        "LLMWATCH_REPORT__SLACK_CHANNEL": CHANNEL,
        "LLMWATCH_REPORT__EVIDENTLY_SEGMENTS": "1",
        "LLMWATCH_ALERTS__SLACK_TOKEN": TOKEN,
        "LLMWATCH_ALERTS__SLACK_BASE_URL": slack.base_url,
        "LLMWATCH_ALERTS__DELIVER_EVERY_S": "1",
    }
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = [subprocess.Popen(
        [sys.executable, "-m", "llmwatch", "worker"], stdout=log.open("ab"),
        stderr=subprocess.STDOUT, env={**env, "LLMWATCH_WORKER__DATA_DIR": str(tmp_path / f"w{i}")})
        for i, log in enumerate(logs)]
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(delivered(store)) < RUNS:
            assert all(w.poll() is None for w in workers), tails(logs)
            time.sleep(1)
        assert len(delivered(store)) >= RUNS, tails(logs)
        time.sleep(5)  # a late double would show up now
        assert all(w.poll() is None for w in workers), tails(logs)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(60)
        slack.stop()
    runs = delivered(store)
    messages = [m for m in slack.messages if m["channel"] == CHANNEL and not m.get("thread_ts")]
    ids = [json.loads(m["metadata"])["event_payload"]["outbox_id"]
           if isinstance(m["metadata"], str) else m["metadata"]["event_payload"]["outbox_id"]
           for m in messages]
    assert sorted(ids) == sorted(runs.values())  # one digest per delivered run, none twice
    for m in messages:  # and one file in each digest's thread
        files = [f for r in slack.messages if r.get("thread_ts") == m["ts"]
                 for f in r.get("files") or []]
        assert len(files) == 1 and files[0]["name"].endswith(".html")
    with Session(store.engine) as s:
        keys = s.execute(select(ReportRow.key).where(ReportRow.kind == "scheduled")).scalars()
        keys = list(keys)
    assert len(keys) == len(set(keys)) >= RUNS  # one report per run, the runs a minute apart
    assert all(k.startswith("scheduled:") for k in keys)
    store.dispose()


def delivered(store: Store) -> dict[str, int]:
    """Scheduled runs whose digest was sent: report key → outbox id."""
    with Session(store.engine) as s:
        rows = s.execute(select(AlertOutboxRow.dedupe_key, AlertOutboxRow.id).where(
            AlertOutboxRow.sink == "slack_report", AlertOutboxRow.status == "sent")).all()
    return {key.removeprefix("report:"): id_ for key, id_ in rows}


def tails(logs: list[Path]) -> str:
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}" for log in logs)
