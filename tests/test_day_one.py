"""A real team's first day: real model ids as names, a fresh broker, the README's SDK snippet
run as written, and the producer side installed on its own."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from factories import consume
from kafka import KafkaProducer
from slack_server import TOKEN, SlackAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_end_to_end import prepared, run_report, wait_for, worker_env, worker_on_own_broker

from llmwatch.detectors.segments import Segment
from llmwatch.local.kafka import LocalKafka
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage import Store
from llmwatch.storage.tables import DriftBaselineRow, EventRow, TicketRow

ROOT = Path(__file__).resolve().parents[1]
# (app, model, model_version): the real ids of Hugging Face/vLLM, OpenRouter, Bedrock and
# Vertex, and a name with spaces and non-ASCII letters
NAMES = [
    ("support-bot", "meta-llama/Llama-3.1-8B-Instruct", "main"),
    ("router/edge", "openai/gpt-4o-mini", None),
    ("bedrock-app", "anthropic.claude-3-5-sonnet-20240620-v1:0", "v1:0"),
    ("vertex-app", "projects/p/locations/us-central1/publishers/google/models/gemini-1.5-pro",
     "gemini-1.5-pro-002"),
    ("Kundenservice Bot – Zürich", "gpt-4o", "gpt-4o-2024-08-06"),
]


def test_real_model_names_reach_alerts_tickets_and_the_report_unchanged(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    slack = SlackAPI().start()
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for n, (app, model, version) in enumerate(NAMES):
        plan = TrafficPlan(events=300, shift_at=0.34, shift_fraction=0.8, feedback_rate=0,
                           app=app, model=model, model_version=version, prompt_version="v1",
                           seed=n, start=start)
        for msg in traffic(plan):
            producer.send(s.topics.events, key=msg.key, value=msg.value)
    producer.close()
    env = {**worker_env(s), "LLMWATCH_ALERTS__SLACK_TOKEN": TOKEN,
           "LLMWATCH_ALERTS__SLACK_BASE_URL": slack.base_url,
           "LLMWATCH_ALERTS__DELIVER_EVERY_S": "1", "LLMWATCH_ALERTS__MIN_SAMPLE": "50",
           "LLMWATCH_ALERTS__GROUP_INTERVAL_S": "0",
           "LLMWATCH_ALERTS__TICKET_AFTER_WINDOWS": "1", "LLMWATCH_REPORT__ENABLED": "false"}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=env,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def headers() -> str:
        return json.dumps([m.get("blocks") for m in slack.messages], ensure_ascii=False)

    def everything_arrived() -> bool:
        assert worker.poll() is None, log.read_text()[-3000:]  # the worker never exits
        with Session(store.engine) as session:
            tickets = session.execute(select(TicketRow.segment)).scalars().all()
        return len(set(tickets)) == len(NAMES) and all(
            Segment(a, m, v, "v1").describe() in headers() for a, m, v in NAMES)

    try:
        wait_for(everything_arrived, "an alert and a ticket for every segment", log,
                 timeout_s=300)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        slack.stop()
    assert worker.returncode == 0, log.read_text()[-3000:]

    keys = {Segment(a, m, v, "v1").key for a, m, v in NAMES}
    with Session(store.engine) as session:
        stored = set(session.execute(select(EventRow.app, EventRow.model,
                                            EventRow.model_version).distinct()).tuples())
        baselines = set(session.execute(select(DriftBaselineRow.segment)).scalars())
        tickets = session.execute(select(TicketRow)).scalars().all()
    assert stored == set(NAMES)
    assert baselines == keys  # every segment has its baseline, under a key that round-trips
    for t in tickets:
        segment = Segment.from_key(t.segment)
        assert (segment.app, segment.model, segment.model_version) in NAMES
        assert (t.evidence["app"], t.evidence["model"]) == (segment.app, segment.model)
        assert segment.app in t.title and segment.model in t.title
    for m in slack.messages:  # the fallback text names the segment too
        assert any(Segment(a, mo, v, "v1").describe() in m["text"] for a, mo, v in NAMES)

    html, figures_json = run_report(env, start.date(), 2)
    figures = json.loads(figures_json)
    assert {Segment.from_key(x["key"]) for x in figures["segments"]} == {
        Segment(a, m, v, "v1") for a, m, v in NAMES}
    for app, model, version in NAMES:
        assert app in html and model in html and (version is None or version in html)
        assert Segment(app, model, version, "v1").describe() in html
    store.dispose()


def readme_snippet() -> str:
    """The SDK example of README.md, exactly as a reader copies it."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Sending events from your app"):]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def test_a_worker_on_a_fresh_broker_stores_the_readme_snippets_event(tmp_path: Path) -> None:
    """No topics, no consumer-offsets topic: the worker creates its topics before it
    subscribes, starts without an ERROR or WARNING line, and stores the first event — sent
    by the README's snippet, run unchanged and without a salt — within seconds."""
    with LocalKafka(partitions=3) as broker:
        s, worker, log = worker_on_own_broker(broker.bootstrap, tmp_path, "fresh")
        try:
            script = tmp_path / "snippet.py"
            script.write_text(readme_snippet())
            sent = time.monotonic()
            app_env = {k: v for k, v in os.environ.items() if not k.startswith("LLMWATCH_")}
            run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                 timeout=120, cwd=tmp_path, env={
                                     **app_env, "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS":
                                     broker.bootstrap})
            assert run.returncode == 0, run.stderr
            assert "LLMWATCH_SDK__ID_SALT" in run.stderr  # said once, loudly
            store = Store(s.storage.url)
            wait_for(lambda: store.counts().events == 1 and store.counts().feedback == 1,
                     "the snippet's call and feedback to be stored", log, timeout_s=15)
            elapsed = time.monotonic() - sent
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    print(f"first event stored {elapsed:.1f}s after the snippet started")
    text = log.read_text()
    noisy = [line for line in text.splitlines()
             if re.search(r"\[(WARNING|ERROR|CRITICAL)\]|^(WARNING|ERROR|CRITICAL) ", line)]
    assert not noisy, noisy  # a healthy start is quiet
    assert worker.returncode == 0


def test_the_producer_side_installs_and_emits_without_pytorch(
        kafka: LocalKafka, tmp_path: Path) -> None:
    venv = tmp_path / "app-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    absent = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    assert absent.returncode != 0  # no PyTorch, no sentence-transformers, no faust
    for module in ("sentence_transformers", "faust", "sqlalchemy", "typer", "rich"):
        assert subprocess.run([str(python), "-c", f"import {module}"],
                              capture_output=True).returncode != 0
    topic = f"sdk-only-{tmp_path.name[-8:]}"
    script = (
        "from llmwatch.sdk import Monitor\n"
        f"m = Monitor({kafka.bootstrap!r}, topic={topic!r})\n"
        "event_id = m.emit(app='shop', model='openai/gpt-4o-mini', prompt='hi', response='hello')\n"
        "m.close(timeout_s=60)\n"  # a busy machine: first connection + ack over 2 s
        "assert m.stats().sent == 1, m.stats()\n"
        "print(event_id)\n")
    run = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    [record] = consume(kafka.bootstrap, topic, expect=1)
    assert json.loads(record.value)["event_id"] == run.stdout.strip()
    assert subprocess.run([str(venv / "bin" / "llmwatch"), "--version"],
                          capture_output=True).returncode == 0
    # the CLI is not in the producer install: the command says what to install
    status = subprocess.run([str(venv / "bin" / "llmwatch"), "status"], capture_output=True,
                            text=True)
    assert status.returncode == 2 and "pip install 'llmwatch[server]'" in status.stderr


def test_a_stop_that_hangs_ends_in_an_exit_without_commit() -> None:
    """faust can wait forever for in-flight events when a rebalance races SIGTERM (seen with
    two workers stopped together): the stop deadline turns that into a prompt exit (70) with
    a line that says what happened, so a supervisor restarts it and nothing is committed."""
    code = ("import time; from llmwatch.streams.app import exit_after; "
            "exit_after(0.5); exit_after(60); time.sleep(30)")  # a stop that never ends
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 70
    assert time.monotonic() - started < 20  # the first deadline counts, not the second
    assert "did not stop within 0.5 s" in done.stderr
