"""Who watches the watcher: metrics over HTTP, lag, readiness, status --json, self-alerts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer
from slack_server import TOKEN, SlackAPI
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session
from test_end_to_end import prepared, run_report, wait_for, worker_env

from llmwatch.local.kafka import LocalKafka, free_port
from llmwatch.observability import Metrics, metric_names
from llmwatch.schemas.events import LLMEvent
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage.tables import EventRow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("LLMWATCH_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def scrape(port: int) -> dict[str, float]:
    """Samples of /metrics: 'name{labels}' → value."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def total(samples: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in samples.items() if k == prefix or k.startswith(prefix + "{"))


def get(port: int, path: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def produce(bootstrap: str, topic: str, plan: TrafficPlan, bad: int = 0) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    n = 0
    for msg in traffic(plan):
        key = LLMEvent.model_validate_json(msg.value).partition_key
        producer.send(topic, key=key, value=msg.value)
        n += 1
    for i in range(bad):
        producer.send(topic, key=f"bad-{i}".encode(), value=b"\xff not json")
    producer.close()
    return n


def start(s, tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
    log = tmp_path / "worker.log"
    port = free_port()
    full = {**worker_env(s), "LLMWATCH_WORKER__METRICS_PORT": str(port),
            "LLMWATCH_WORKER__LAG_EVERY_S": "1", **env}
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=full,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wait_for(lambda: _ready(port), "/readyz", log, timeout_s=180)
    return worker, port, log, full


def _ready(port: int) -> bool:
    try:
        return get(port, "/readyz")[0] == 200
    except OSError:
        return False


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    worker.wait(60)


def test_metrics_move_by_what_was_produced_and_lag_drains(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    # lag read 5× a second and a backlog of 2,000 calls: the worker drains ~600 a second,
    # and a backlog gone between two readings never shows as lag
    worker, port, log, env = start(s, tmp_path, LLMWATCH_WORKER__LAG_EVERY_S="0.2")
    try:
        assert get(port, "/healthz") == (200, {"alive": True})
        before = scrape(port)
        plan = TrafficPlan(events=2000, feedback_rate=0, seed=9,
                           start=datetime.now(UTC) - timedelta(hours=1))
        produced = produce(kafka.bootstrap, s.topics.events, plan, bad=20)
        most_lag = 0.0

        def stored() -> bool:
            nonlocal most_lag
            assert worker.poll() is None, log.read_text()[-3000:]
            most_lag = max(most_lag, total(scrape(port), "llmwatch_consumer_lag_records"))
            with Session(store.engine) as session:
                return session.scalar(select(func.count()).select_from(EventRow)) == produced

        wait_for(stored, "every call stored", log, timeout_s=300)
        assert most_lag > 0  # the backlog showed as lag ...
        wait_for(lambda: total(scrape(port), "llmwatch_consumer_lag_records") == 0,
                 "the lag back to 0", log, timeout_s=60)  # ... and drained
        after = scrape(port)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "metrics.txt").write_bytes(body)  # what an operator's Prometheus sees
        moved = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        assert moved["llmwatch_messages_consumed_total"] == produced + 20
        assert moved["llmwatch_events_stored_total"] == produced
        assert moved['llmwatch_dead_letters_total{stage="decode"}'] == 20
        assert moved["llmwatch_batch_size_sum"] == produced + 20
        assert moved["llmwatch_batch_size_count"] >= 2
        assert moved['llmwatch_batch_seconds_count{stage="embed"}'] >= 2
        assert after["llmwatch_assigned_partitions"] == s.topics.partitions
        assert after["llmwatch_texts_embedded_total"] >= produced

        out = subprocess.run([sys.executable, "-m", "llmwatch", "status", "--json"], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert {p["partition"] for p in doc["lag"]} == set(range(s.topics.partitions))
        assert doc["lag_total"] == 0 and doc["counts"]["events"] == produced
        assert len(doc["members"]) == 1 and doc["members"][0]["partitions"]
        assert doc["last_event_stored"] and isinstance(doc["outbox_pending"], int)
    finally:
        stop(worker)
    store.dispose()


def test_a_stalled_worker_turns_not_ready_and_says_it_is_falling_behind_once(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    slack = SlackAPI().start()
    worker, port, log, _ = start(
        s, tmp_path, LLMWATCH_WORKER__STALL_AFTER_S="5",
        LLMWATCH_ALERTS__SLACK_TOKEN=TOKEN, LLMWATCH_ALERTS__SLACK_BASE_URL=slack.base_url,
        LLMWATCH_ALERTS__DELIVER_EVERY_S="1", LLMWATCH_ALERTS__GROUP_INTERVAL_S="0",
        LLMWATCH_WATCHDOG__EVERY_S="2", LLMWATCH_WATCHDOG__MAX_LAG="30")
    blocker = create_engine(postgres_url).connect()
    try:
        plan = TrafficPlan(events=150, feedback_rate=0, seed=2,
                           start=datetime.now(UTC) - timedelta(hours=1))
        # writes to the events table wait (reads go on): the worker cannot store anything
        tx = blocker.begin()
        blocker.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        produce(kafka.bootstrap, s.topics.events, plan)
        stalled_at = time.monotonic()
        wait_for(lambda: get(port, "/readyz")[0] == 503, "/readyz not ready", log, timeout_s=60)
        code, doc = get(port, "/readyz")
        assert any("stalled" in r for r in doc["reasons"]), doc
        assert time.monotonic() - stalled_at < 60
        assert get(port, "/healthz")[0] == 200  # alive all the same

        def behind() -> list[str]:
            return [m["text"] for m in slack.messages if "consumer_lag" in (m["text"] or "")]

        wait_for(lambda: len(behind()) >= 1, "the falling-behind alert", log, timeout_s=90)
        tx.rollback()  # the database lets the writes through again
        wait_for(lambda: _ready(port), "/readyz ready again", log, timeout_s=120)
        wait_for(lambda: any("resolve" in t for t in behind()), "the alert resolved", log,
                 timeout_s=90)
        time.sleep(5)
        fired = [t for t in behind() if "fire" in t]
        resolved = [t for t in behind() if "resolve" in t]
        assert len(fired) == 1 and len(resolved) == 1, behind()
    finally:
        blocker.close()
        stop(worker)
        slack.stop()
    store.dispose()


def test_traffic_that_stops_is_one_critical_alert_and_leads_the_report(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    slack = SlackAPI().start()
    worker, port, log, env = start(
        s, tmp_path, LLMWATCH_ALERTS__SLACK_TOKEN=TOKEN,
        LLMWATCH_ALERTS__SLACK_BASE_URL=slack.base_url, LLMWATCH_ALERTS__DELIVER_EVERY_S="1",
        LLMWATCH_ALERTS__GROUP_INTERVAL_S="0", LLMWATCH_WATCHDOG__EVERY_S="2",
        LLMWATCH_WATCHDOG__TRAFFIC_STOP_S="20", LLMWATCH_REPORT__ENABLED="false",
        LLMWATCH_LOG__FORMAT="json")
    start_at = datetime.now(UTC) - timedelta(minutes=5)
    try:
        plan = TrafficPlan(events=300, feedback_rate=0, seed=5, start=start_at, spacing_s=0.5,
                           app="checkout-bot", model="gpt-4o")
        produced = produce(kafka.bootstrap, s.topics.events, plan)

        def stopped() -> list[str]:
            return [m["text"] for m in slack.messages if "traffic_stopped" in (m["text"] or "")]

        wait_for(lambda: len(stopped()) >= 1, "the traffic-stopped alert", log, timeout_s=180)
        time.sleep(8)  # later checks find it still stopped: no second message
        assert len(stopped()) == 1, stopped()
        blocks = json.dumps([m["blocks"] for m in slack.messages])
        assert "traffic stopped" in blocks and "checkout-bot" in blocks and "CRITICAL" in blocks
        assert not [m for m in slack.messages if "traffic_rate" in (m["text"] or "")]
    finally:
        stop(worker)
        slack.stop()
    assert produced == 300
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    docs = [json.loads(ln) for ln in lines]  # LLMWATCH_LOG__FORMAT=json: every line an object
    batches = [d for d in docs if d["message"].startswith("batch:")]
    assert batches and all(d["batch"]["calls"] >= 0 and d["level"] == "INFO" for d in batches)
    assert sum(d["batch"]["new"] for d in batches) == 300
    _, figures_json = run_report(env, start_at.date() + timedelta(days=1), 7,
                                 evidently_segments=0)
    figures = json.loads(figures_json)
    first = figures["summary"][0]
    assert first["severity"] == "critical" and first["text"].startswith("Traffic stopped")
    store.dispose()


def test_the_dashboard_and_the_rules_query_only_exported_metrics() -> None:
    exported = metric_names(Metrics()) | {"up"}
    exported |= {n.removesuffix("_bucket") for n in exported}
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "llmwatch.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    rules = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    exprs += re.findall(r"expr:\s*(.+)", rules)
    assert len(exprs) >= 10
    used = {m for e in exprs for m in re.findall(r"\b(llmwatch_[a-z_]+)", e)}
    assert used and used <= exported, used - exported
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "prometheus" in compose and "grafana" in compose and "/readyz" in compose


def test_every_alerting_rule_fires_when_it_must_and_not_otherwise() -> None:
    """`promtool check rules` and `promtool test rules` (Debian's prometheus, installed by
    `scripts/setup.sh --test`) on the shipped rules: each rule has a case where it fires and
    one where it stays quiet — among them every worker gone, targets and all."""
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `bash scripts/setup.sh --test` installs prometheus"
    folder = ROOT / "deploy" / "prometheus"
    check = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=folder,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    rules = re.findall(r"^\s*- alert: (\w+)", (folder / "alerts.yml").read_text(), re.M)
    assert f"SUCCESS: {len(rules)} rules found" in check.stdout
    cases = (folder / "alerts.test.yml").read_text()
    for rule in rules:  # a firing and a quiet case for each
        assert re.search(rf"alertname: {rule}\n\s+exp_alerts:\n", cases), rule
        assert re.search(rf"alertname: {rule}\n\s+exp_alerts: \[\]", cases), rule
    test = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert test.returncode == 0, test.stdout + test.stderr
