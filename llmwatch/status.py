"""`llmwatch status`: counts from the database and the topics, and recent dead letters."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from llmwatch.config import Settings
from llmwatch.storage import Counts, Store


@dataclass
class Status:
    storage_url: str
    counts: Counts | None = None
    storage_error: str | None = None
    topic_messages: dict[str, int] = field(default_factory=dict)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    kafka_error: str | None = None
    recent_findings: list[str] = field(default_factory=list)
    latest_report: str | None = None
    lag: list[dict[str, Any]] = field(default_factory=list)  # per partition of the events
    members: list[dict[str, Any]] = field(default_factory=list)  # of the consumer group
    last_event_stored: str | None = None
    outbox_pending: int | None = None
    second_opinion: dict[str, Any] | None = None  # storage/review.py:summary

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["counts"] = asdict(self.counts) if self.counts is not None else None
        doc["dead_letter_reasons"] = dict(self.dead_letter_reasons)  # asdict garbles a Counter
        doc["lag_total"] = sum(p["records"] for p in self.lag)
        return doc


def collect(settings: Settings) -> Status:
    store = Store(settings.storage.url)
    status = Status(store.engine.url.render_as_string(hide_password=True))
    try:
        status.counts = store.counts()
        status.recent_findings = _recent_findings(store)
        status.latest_report = _latest_report(store)
        status.last_event_stored, status.outbox_pending = _last_and_outbox(store)
        from datetime import UTC, datetime

        from llmwatch.detectors.second_opinion import sample_rates
        from llmwatch.storage import review

        opinion, verdicts = review.summary(store.engine, datetime.now(UTC))
        if opinion["verdicts_by_tier"] or opinion["pending"]:
            status.second_opinion = {**opinion, "sample_rates": sample_rates(verdicts)}
    except Exception as exc:  # noqa: BLE001 - shown to the user, not raised
        status.storage_error = _first_line(exc) + " (run `llmwatch db upgrade`?)"
    finally:
        store.dispose()
    try:
        from llmwatch.streams.topics import read_dead_letters, topic_sizes

        t = settings.topics
        status.topic_messages = topic_sizes(
            settings, [t.events, t.deadletter, t.enriched, t.findings, t.tickets])
        if status.topic_messages[t.deadletter]:
            status.dead_letter_reasons = Counter(
                _short(d.reason) for d in read_dead_letters(settings)
            )
        from llmwatch.observability import group_members, read_lag

        options = settings.kafka.kafka_python_options()
        status.lag = [{"topic": x.topic, "partition": x.partition, "committed": x.committed,
                       "end": x.end, "records": x.records, "seconds": round(x.seconds, 1)}
                      for x in read_lag(options, settings.worker.app_id, [t.events])]
        status.members = group_members(options, settings.worker.app_id)
    except Exception as exc:  # noqa: BLE001
        status.kafka_error = f"{_first_line(exc)} at {settings.kafka.bootstrap_servers}"
    return status


def render(status: Status, console: Console) -> None:
    table = Table(title="llmwatch status", show_header=True)
    table.add_column("where")
    table.add_column("what")
    table.add_column("count", justify="right")
    if status.counts is not None:
        c = status.counts
        for what, n in [("LLM calls stored", c.events), ("embeddings stored", c.embeddings),
                        ("feedback stored", c.feedback), ("findings", c.findings)]:
            table.add_row("database", what, str(n))
    else:
        table.add_row("database", f"[red]{status.storage_error}[/]", "-")
    if status.kafka_error:
        table.add_row("kafka", f"[red]unreachable: {status.kafka_error}[/]", "-")
    for topic, n in status.topic_messages.items():
        table.add_row("kafka", f"messages on {topic}", str(n))
    console.print(table)
    console.print(f"database: {status.storage_url}")
    if status.last_event_stored:
        console.print(f"last call stored: {status.last_event_stored}")
    if status.outbox_pending is not None:
        console.print(f"alert notices waiting in the outbox: {status.outbox_pending}")
    if status.lag:
        behind = sum(p["records"] for p in status.lag)
        lag = Table(title=f"consumer lag of {len(status.members)} worker(s): {behind:,} "
                    "records behind", show_header=True)
        for column in ("partition", "processed up to", "end", "behind", "oldest waiting"):
            lag.add_column(column, justify="right")
        for p in status.lag:
            lag.add_row(f"{p['topic']}[{p['partition']}]", str(p["committed"]), str(p["end"]),
                        str(p["records"]), f"{p['seconds']:.0f}s" if p["records"] else "-")
        console.print(lag)
    for m in status.members:
        console.print(f"worker {m['client']} on {m['host']}: {', '.join(m['partitions'])}",
                      markup=False)
    if status.recent_findings:
        console.print("latest fired findings:")
        for line in status.recent_findings:
            console.print(f"  {line}")
    if status.latest_report:
        console.print(f"latest report: {status.latest_report}")
    if status.second_opinion:
        o = status.second_opinion
        tiers = ", ".join(f"{t} {n}" for t, n in sorted(o["verdicts_by_tier"].items()))
        console.print(f"second opinion: {o['pending']} calls waiting (oldest {o['oldest_s']:.0f}"
                      f" s), {o['failed']} failed; verdicts in {o['days']:.0f} days: "
                      f"{tiers or 'none'}")
        for check, r in o["sample_rates"].items():
            lo, hi = r["interval"]
            console.print(f"  {check}: {r['flagged']} of {r['sampled']} sampled calls "
                          f"({100 * r['flagged'] / r['sampled']:.1f} %, 95 % interval "
                          f"{100 * lo:.1f}–{100 * hi:.1f} %), decided by "
                          f"{', '.join(r['decided_by'])}")
    if status.dead_letter_reasons:
        console.print("dead letters by reason:")
        for reason, n in status.dead_letter_reasons.most_common(10):
            console.print(f"  {n:>5}  {reason}")


def _recent_findings(store: Store, limit: int = 5) -> list[str]:
    from llmwatch.storage.drift_repo import DriftRepository

    rows = DriftRepository(store).findings(fired_only=True, limit=limit)
    return [f"{r.created_at:%Y-%m-%d %H:%M} {r.severity} {r.detector} {r.metric} "
            f"[{r.segment}] {_short(r.explanation or '', 80)}" for r in rows]


def _latest_report(store: Store) -> str | None:
    from llmwatch.storage.reports import Reports

    reports = Reports(store.engine)
    row = reports.latest_done()
    if row is None:
        return None
    text = f"{row.kind} {row.finished_at:%Y-%m-%d %H:%M} → {row.html_path}"
    waiting = reports.digests_pending()
    return text + (f" ({waiting} Slack digest(s) waiting in the outbox)" if waiting else "")


def _last_and_outbox(store: Store) -> tuple[str | None, int]:
    from llmwatch.storage.outbox import pending
    from llmwatch.storage.reports import last_stored

    last = last_stored(store.engine)
    return (f"{last:%Y-%m-%d %H:%M:%S}" if last else None), pending(store.engine)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _short(reason: str, limit: int = 110) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"
