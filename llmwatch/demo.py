"""`llmwatch demo`: a local Apache Kafka, a worker process and a shifted stream, end to end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmwatch.config import Settings
from llmwatch.local.kafka import KAFKA_VERSION, LocalKafka
from llmwatch.simulate import SendReport, TrafficPlan, send
from llmwatch.storage import Store, upgrade
from llmwatch.streams.topics import end_offsets, ensure_topics, read_dead_letters

MALFORMED = 3
WAIT_S = 600


def run_demo(*, events: int, rate: float, shift_topic: str, workdir: Path,
             console: Console) -> int:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    db = (workdir / "demo.db").resolve()
    with console.status(f"starting Apache Kafka {KAFKA_VERSION} (KRaft, single node) ..."):
        broker = LocalKafka(data_dir=(workdir / "kafka").resolve()).start()
    console.print(f"[green]✓[/] Kafka up at {broker.bootstrap}")
    env = {
        "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap,
        "LLMWATCH_STORAGE__URL": f"sqlite:///{db}",
        "LLMWATCH_WORKER__DATA_DIR": str((workdir / "worker").resolve()),
        "LLMWATCH_WORKER__APP_ID": "llmwatch-demo",
    }
    settings = Settings.model_validate(_nested(env))
    worker_log = (workdir / "worker.log").resolve()
    worker = None
    try:
        ensure_topics(settings)
        upgrade(Store(settings.storage.url).engine)
        worker = _start_worker(env, worker_log)
        console.print(f"[green]✓[/] worker started (pid {worker.pid}, log {worker_log})")
        plan = TrafficPlan(events=events, shift_at=0.5, shift_topic=shift_topic,
                           shift_fraction=0.4, malformed=MALFORMED, feedback_rate=0.1)
        report = send(plan, topic=settings.topics.events,
                      kafka_options=settings.kafka.kafka_python_options(), rate=rate)
        done = _wait_until_processed(settings, report, worker, worker_log, console)
        _summary(settings, report, shift_topic, console, db, worker_log)
        return 0 if done else 1
    finally:
        if worker is not None:
            _stop(worker)
        broker.close()


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "llmwatch", "worker", "--loglevel", "info"],
        env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _wait_until_processed(settings: Settings, report: SendReport,
                          worker: subprocess.Popen[bytes], worker_log: Path,
                          console: Console) -> bool:
    expected = report.produced - report.failed
    store = Store(settings.storage.url)
    columns = [TextColumn("processing"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn()]
    deadline = time.monotonic() + WAIT_S
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("processing", total=expected)
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                console.print(f"[red]the worker stopped (exit {worker.returncode})[/]; "
                              f"last lines of {worker_log}:\n{_tail(worker_log)}")
                return False
            c = store.counts()
            seen = c.events + c.feedback + end_offsets(settings, settings.topics.deadletter)
            bar.update(task, completed=seen)
            if seen >= expected:
                return True
            time.sleep(0.5)
    console.print(f"[red]not everything was processed within {WAIT_S}s[/]; see {worker_log}")
    return False


def _summary(settings: Settings, report: SendReport, shift_topic: str, console: Console,
             db: Path, worker_log: Path) -> None:
    c = Store(settings.storage.url).counts()
    letters = read_dead_letters(settings)
    table = Table(title="llmwatch demo: what happened", show_header=True)
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_row("produced to Kafka", str(report.produced))
    table.add_row("  LLM calls", str(report.llm_calls))
    table.add_row(f"    of which shifted to '{shift_topic}'", str(report.shifted))
    table.add_row("  feedback events", str(report.feedback))
    table.add_row("  deliberately malformed", str(report.malformed))
    table.add_row("  failed to produce", str(report.failed))
    processed = c.events + c.feedback + len(letters)
    table.add_row("processed by the worker", str(processed))
    table.add_row("  stored LLM calls (with embeddings)", f"{c.events} ({c.embeddings})")
    table.add_row("  stored feedback", str(c.feedback))
    table.add_row("  dead-lettered", str(len(letters)))
    table.add_row("findings", str(c.findings))
    console.print(table)
    adds_up = processed == report.produced - report.failed
    mark = "[green]✓ counts add up[/]" if adds_up else "[red]✗ counts do not add up[/]"
    console.print(f"{mark}: {report.produced - report.failed} produced = {c.events} calls + "
                  f"{c.feedback} feedback + {len(letters)} dead letters")
    for reason, n in Counter(d.reason for d in letters).most_common():
        console.print(f"  dead letter ×{n}: {reason}")
    console.print(
        "findings come from the drift and quality detectors (not built yet); the stored "
        "embeddings are their input.\n"
        f"where to look: database {db} (tables events, embeddings, feedback, findings), "
        f"worker log {worker_log}, topic {settings.topics.deadletter} for rejects."
    )


def _nested(env: dict[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in env.items():
        section, name = key.removeprefix("LLMWATCH_").lower().split("__")
        out.setdefault(section, {})[name] = value
    return out


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
