"""`llmwatch demo`: a local Apache Kafka, a worker process and a shifted stream, end to end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmwatch.config import Settings
from llmwatch.local.kafka import KAFKA_VERSION, LocalKafka, free_port
from llmwatch.simulate import SendReport, TrafficPlan, send
from llmwatch.storage import Store, upgrade
from llmwatch.streams.topics import end_offsets, ensure_topics, read_dead_letters

MALFORMED = 3
WAIT_S = 600
REFERENCE = 400
WINDOW = 200


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
        "LLMWATCH_DRIFT__REFERENCE_SIZE": str(REFERENCE),
        "LLMWATCH_DRIFT__WINDOW_SIZE": str(WINDOW),
        # the demo sends its calls in a burst: its windows read every call (a service
        # samples above 20 calls a second per segment)
        "LLMWATCH_DRIFT__SAMPLE_EVERY_CALL_BELOW": "1000000",
        "LLMWATCH_DRIFT__SAMPLE_MAX_PER_S": "1000000",
        # 800 calls after the reference: an online window of 200, checked every 25, fills
        "LLMWATCH_DRIFT__ONLINE_WINDOW": "200",
        "LLMWATCH_DRIFT__ONLINE_CHECK_EVERY": "25",
        "LLMWATCH_WORKER__METRICS_PORT": str(free_port()),
    }
    settings = Settings.model_validate(_nested(env))
    worker_log = (workdir / "worker.log").resolve()
    worker = None
    try:
        ensure_topics(settings)
        upgrade(Store.of(settings).engine)
        worker = _start_worker(env, worker_log)
        console.print(f"[green]✓[/] worker started (pid {worker.pid}, log {worker_log})")
        if not _wait_until_ready(settings, worker, worker_log, console):
            return 1
        plan = TrafficPlan(events=events, shift_at=0.5, shift_topic=shift_topic,
                           shift_fraction=0.4, malformed=MALFORMED, feedback_rate=0.1)
        report = send(plan, topic=settings.topics.events,
                      kafka_options=settings.kafka.kafka_python_options(), rate=rate)
        done = _wait_until_processed(settings, report, worker, worker_log, console)
        windows = max((report.llm_calls - REFERENCE) // WINDOW, 0)
        done = done and _wait_for_drift_windows(settings, plan, windows, console)
        _summary(settings, report, shift_topic, console, db, worker_log)
        _quality_summary(settings, console)
        _drift_summary(settings, console)
        _alert_summary(settings, console)
        _replay(settings, workdir, shift_topic, console)
        _report(settings, workdir, console)
        return 0 if done else 1
    finally:
        if worker is not None:
            stop_worker(worker)
        broker.close()


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "llmwatch", "worker", "--loglevel", "info"],
        env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within `timeout_s`."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _wait_until_ready(settings: Settings, worker: subprocess.Popen[bytes], worker_log: Path,
                      console: Console) -> bool:
    """Produce only once the worker says ready (model loaded, partitions assigned): a backlog
    read one partition at a time would store the calls out of order, and the demo's windows
    are read in stored order."""
    url = f"http://127.0.0.1:{settings.worker.metrics_port}/readyz"
    deadline = time.monotonic() + WAIT_S
    with console.status("waiting for the worker to be ready (model loaded, partitions "
                        "assigned) ..."):
        while time.monotonic() < deadline:
            if _stopped(worker, worker_log, console):
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (loopback)
                    if answer.status == 200:
                        console.print(f"[green]✓[/] worker ready ({url})")
                        return True
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503: not ready
            time.sleep(0.5)
    console.print(f"[red]the worker was not ready within {WAIT_S}s[/]; see {worker_log}")
    return False


def _stopped(worker: subprocess.Popen[bytes], worker_log: Path, console: Console) -> bool:
    """Whether the worker has exited (said, with the end of its log)."""
    if worker.poll() is None:
        return False
    console.print(f"[red]the worker stopped (exit {worker.returncode})[/]; "
                  f"last lines of {worker_log}:\n{_tail(worker_log)}")
    return True


def _wait_until_processed(settings: Settings, report: SendReport,
                          worker: subprocess.Popen[bytes], worker_log: Path,
                          console: Console) -> bool:
    expected = report.produced - report.failed
    store = Store.of(settings)
    columns = [TextColumn("processing"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn()]
    deadline = time.monotonic() + WAIT_S
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("processing", total=expected)
        while time.monotonic() < deadline:
            if _stopped(worker, worker_log, console):
                return False
            c = store.counts()
            seen = c.events + c.feedback + end_offsets(settings, settings.topics.deadletter)
            bar.update(task, completed=seen)
            if seen >= expected:
                return True
            time.sleep(0.5)
    console.print(f"[red]not everything was processed within {WAIT_S}s[/]; see {worker_log}")
    return False


def _wait_for_drift_windows(settings: Settings, plan: TrafficPlan, windows: int,
                            console: Console) -> bool:
    from llmwatch.detectors.segments import Segment
    from llmwatch.storage.drift_repo import DriftRepository

    repo = DriftRepository(Store.of(settings))
    key = Segment(plan.app, plan.model, plan.model_version, plan.prompt_version).key
    deadline = time.monotonic() + WAIT_S
    with console.status(f"drift stage: waiting for {windows} windows of {WINDOW} events ..."):
        while time.monotonic() < deadline:
            cursor = repo.cursor(key)
            if cursor is not None and cursor.windows >= windows:
                return True
            time.sleep(0.5)
    console.print("[red]the drift stage did not evaluate every window in time[/]")
    return False


def _quality_summary(settings: Settings, console: Console) -> None:
    from llmwatch.storage.reports import flagged_counts

    rows = flagged_counts(Store.of(settings).engine)
    flagged = ", ".join(f"{name} {n}" for name, n, _ in rows)
    console.print(f"\n[bold]quality[/] (every call checked): flagged {flagged or 'nothing'}")
    if rows:
        console.print(f"  see one: llmwatch event {rows[0][2]}  "
                      f"(with LLMWATCH_STORAGE__URL={settings.storage.url})")


def _alert_summary(settings: Settings, console: Console) -> None:
    from llmwatch.storage.alerts import firing as firing_alerts
    from llmwatch.storage.outbox import notices as outbox_notices

    store = Store.of(settings)
    notices = outbox_notices(store.engine)
    firing = firing_alerts(store.engine)
    console.print(f"\n[bold]alerts[/]: {len(notices)} Slack message(s) in the outbox for "
                  f"{len(firing)} firing alert(s) (grouped per segment; repeats held by the "
                  "cooldown; no Slack token in the demo, so they wait in table alert_outbox)")
    for n in notices:
        console.print(f"  → {n.channel}: {n.text}", markup=False)
    _ticket_summary(store, console)


def _replay(settings: Settings, workdir: Path, topic: str, console: Console) -> None:
    """The loop closed: the drift ticket's traffic replayed through a candidate that knows the
    new topic (a local OpenAI-compatible server answering from a corpus with that topic in
    it), judged by the worker's checks, and the ticket says so."""
    from datetime import UTC, datetime

    from llmwatch.local.chat_server import ChatServer, topic_model
    from llmwatch.replay import Candidate, Replay, publish, select_ticket
    from llmwatch.storage.tickets import Tickets
    from llmwatch.streams.analysis import local_analyser

    store = Store.of(settings)
    tickets = [t for t in Tickets(store.engine).listing() if t.detector in (
        "embedding_drift", "online_drift")]
    if not tickets:
        console.print("\n[bold]replay[/]: no drift ticket to replay a candidate on")
        return
    ticket = min(tickets, key=lambda t: t.id)
    with console.status(f"replaying ticket #{ticket.id} through a candidate that knows "
                        f"'{topic}' ..."):
        server = ChatServer(topic_model(topic), api_key="demo").start()
        try:
            os.environ.setdefault("LLMWATCH_DEMO_CANDIDATE_KEY", "demo")
            candidate = Candidate(server.base_url, f"{topic}-finetune",
                                  api_key_env="LLMWATCH_DEMO_CANDIDATE_KEY")
            traffic = select_ticket(store, ticket.id, limit=200,
                                    privacy=settings.privacy.policy())
            job = Replay(store, local_analyser(settings.embedding, settings.quality),
                         candidate, f"demo-ticket-{ticket.id}")
            job.start(traffic, datetime.now(UTC))
            result = job.run()
        finally:
            server.stop()
        published = publish(store, job.run_id, privacy=settings.privacy.policy(),
                            out_dir=(workdir / "replays").resolve(),
                            slack_channel=settings.alerts.channel)
    assert result.verdict is not None
    console.print("\n[bold]replay[/]", end=" ")
    console.print(f"of ticket #{ticket.id} through '{topic}-finetune' (a local "
                  f"OpenAI-compatible server that knows '{topic}'), {result.verdict.calls} "
                  f"prompts:\n  {result.verdict.headline}", markup=False)
    content = Tickets(store.engine).content(ticket.id)
    for r in content.replays if content else ():
        console.print(f"  ticket #{ticket.id} now lists: {r['model']} → {r['decision']}",
                      markup=False)
    console.print(f"  {published.html_path}\n  (llmwatch replay --ticket {ticket.id} "
                  "--base-url URL --model NAME does this with your candidate)", markup=False)


def _report(settings: Settings, workdir: Path, console: Console) -> None:
    """The drift report of the demo's stream, written like `llmwatch report` does."""
    from datetime import UTC, datetime, timedelta

    from llmwatch.report.period import Period
    from llmwatch.report.service import write_report
    from llmwatch.storage.reports import event_span

    store = Store.of(settings)
    first, last = event_span(store.engine)
    if first is None or last is None:
        return
    start = first.replace(second=0, microsecond=0)
    end = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    settings = settings.model_copy(update={"report": settings.report.model_copy(
        update={"out_dir": (workdir / "reports").resolve()})})
    with console.status("writing the drift report (with Evidently's sections) ..."):
        result = write_report(store, settings, Period(start, end), now=datetime.now(UTC))
    assert result is not None
    console.print(f"\n[bold]report[/] of the demo's stream ({result.figures['period']['label']}):"
                  f"\n  {result.html_path}\n  {result.json_path}  (the same figures, for "
                  "machines)")


def _ticket_summary(store: Store, console: Console) -> None:
    from llmwatch.alerts.tickets import validate_line
    from llmwatch.storage.tickets import Tickets

    tickets = sorted(Tickets(store.engine).listing(), key=lambda t: t.id)
    console.print(f"\n[bold]retraining tickets[/]: {len(tickets)}")
    for t in tickets:
        lines = t.dataset.splitlines()
        for line in lines:
            validate_line(line)
        console.print(f"  #{t.id} {t.title} — {t.windows} windows in a row; action: {t.action}; "
                      f"dataset: {len(lines)} chat examples, every line valid "
                      f"(llmwatch tickets export {t.id} -o ticket-{t.id}.jsonl)", markup=False)


def _drift_summary(settings: Settings, console: Console) -> None:
    from llmwatch.storage.drift_repo import DriftRepository

    rows = list(reversed(DriftRepository(Store.of(settings)).findings(limit=1000)))
    fired = [r for r in rows if r.fired]
    console.print(f"\n[bold]drift[/] (reference: first {REFERENCE} calls; windows of {WINDOW}; "
                  f"{len(rows)} tests, {len(fired)} fired; false-discovery rate ≤ "
                  f"{settings.drift.fdr_q:.0%} per round)")
    windows = [r for r in rows if r.detector == "embedding_drift"
               and r.metric == "prompt_embedding"]
    for n, w in enumerate(windows, start=1):
        first = REFERENCE + (n - 1) * WINDOW
        moved = sorted({r.metric for r in fired if r.window_end == w.window_end
                        and r.detector != "online_drift" and r.metric != "prompt_embedding"})
        if w.fired:
            q = w.details.get("q_value", w.p_value)
            console.print(f"  calls {first}–{first + WINDOW}: [red]{w.severity}[/] prompt drift "
                          f"(centroid distance {w.effect_size:.3f}, q = {q:.1e}): "
                          f"{w.explanation}")
            for shift in w.details.get("shifts", [])[:1]:
                examples = "; ".join(f'"{e}"' for e in shift["examples"])
                console.print(f"      e.g. {examples}")
        else:
            console.print(f"  calls {first}–{first + WINDOW}: [green]no prompt drift[/] "
                          f"(p = {w.p_value:.2f})")
        if moved:
            console.print(f"      also moved: {', '.join(moved)}")
    for r in (r for r in fired if r.detector == "online_drift"):
        days = r.details.get("false_alarm_every_s", 0) / 86400
        console.print(f"  online detector (calibrated to one false alarm per {days:.0f} days at "
                      f"this traffic) fired: {r.explanation}")


def _summary(settings: Settings, report: SendReport, shift_topic: str, console: Console,
             db: Path, worker_log: Path) -> None:
    c = Store.of(settings).counts()
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
