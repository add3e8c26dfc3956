"""Writing a report: gather → figures → Evidently → HTML and JSON files → a row in storage →
the Slack digest in the outbox. And the schedule: `run_due` makes the latest scheduled run's
report unless it exists, so a missed run is caught up and two workers make it once.

A run claims its report row first (a unique key per scheduled run, and a lease): whoever
holds the claim writes; a crashed writer's lease expires and the next check takes over. The
digest notice is stored in the same transaction that marks the report done, and the outbox
delivers it exactly once (llmwatch/storage/outbox.py).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from llmwatch.config import Settings
from llmwatch.storage import Store
from llmwatch.storage.outbox import Notice
from llmwatch.storage.reports import Reports, has_calls_before

from .digest import digest
from .period import Period, last_run, run_key, scheduled_period

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=30)
RETRY_AFTER_FAILURE = timedelta(minutes=5)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReportResult:
    report_id: int
    html_path: Path
    json_path: Path
    figures: dict[str, Any]


def write_report(store: Store, settings: Settings, period: Period, *, key: str | None = None,
                 kind: str = "on_demand", slack: bool = False, now: datetime | None = None,
                 progress: Progress = lambda _: None) -> ReportResult | None:
    """Make the report of `period`; None if another worker holds or finished this key."""
    now = now or datetime.now(UTC)
    key = key or f"on_demand:{period.start:%Y%m%dT%H%M}:{period.end:%Y%m%dT%H%M}:{uuid4().hex}"
    reports = Reports(store.engine)
    report_id = reports.claim(key, kind, period.start, period.end, now, until=now + LEASE)
    if report_id is None:
        return None
    try:
        figures, html = build(store, settings, period, now=now, progress=progress)
        progress("writing the files")
        html_path, json_path = _write_files(settings.report.out_dir, period, figures, html,
                                            ZoneInfo(settings.report.timezone))
    except BaseException:  # let the next check retry, in a few minutes
        reports.retry_after(report_id, datetime.now(UTC) + RETRY_AFTER_FAILURE)
        raise
    notices = []
    if slack:
        text, blocks = digest(figures)
        channel = settings.report.slack_channel or settings.alerts.channel
        notices.append(Notice(f"report:{key}", channel, text, blocks, "slack_report",
                              {"report_id": report_id}))
    reports.finish(report_id, figures=json.loads(json.dumps(figures, default=str)), html=html,
                   html_path=str(html_path), json_path=str(json_path),
                   finished_at=datetime.now(UTC), notices=notices)
    log.info("report %s written: %s", key, html_path)
    return ReportResult(report_id, html_path, json_path, figures)


def build(store: Store, settings: Settings, period: Period, *, now: datetime,
          progress: Progress = lambda _: None) -> tuple[dict[str, Any], str]:
    """The figures (JSON) and the HTML of a report, from storage."""
    from . import evidently_section
    from .figures import compute
    from .gather import gather
    from .html import render

    tz = ZoneInfo(settings.report.timezone)
    inputs = gather(store, period, tz, segment_by=settings.drift.segment_by,
                    max_events=settings.report.max_events, now=now, progress=progress)
    inputs = replace(inputs, privacy=settings.privacy.policy())
    progress("computing drift, topics, quality, latency and cost figures")
    figures = compute(inputs)
    progress("running Evidently's drift sections")
    section = evidently_section.build(inputs.segments,
                                      max_segments=settings.report.evidently_segments)
    figures["evidently"] = section.sections
    note = "; ".join(f"{s['segment']}: {s['skipped']}" for s in section.sections
                     if "skipped" in s) or "disabled"
    progress("rendering the HTML")
    html = render(figures, evidently_html=section.html, evidently_note=note,
                  evidently_version=_evidently_version())
    return figures, html


def run_due(store: Store, settings: Settings, now: datetime | None = None,
            progress: Progress = lambda _: None) -> ReportResult | None:
    """The scheduled report of the latest cron run, unless it is made (or has nothing in it)."""
    now = now or datetime.now(UTC)
    r = settings.report
    tz = ZoneInfo(r.timezone)
    run = last_run(r.cron, tz, now)
    key = run_key(run)
    if Reports(store.engine).is_done(key):
        return None
    period = scheduled_period(run, tz, r.period_days)
    if not has_calls_before(store.engine, period.end):
        return None  # no traffic before the period's end yet: nothing to report
    return write_report(store, settings, period, key=key, kind="scheduled", slack=True, now=now,
                        progress=progress)


def load_html(engine: Engine, report_id: int) -> tuple[str, str, bytes]:
    """(file name, title, HTML bytes) of a stored report, for the Slack upload."""
    found = Reports(engine).html(report_id)
    if found is None:
        raise LookupError(f"report {report_id} has no stored HTML")
    stored, html = found
    name = (Path(stored.html_path).name if stored.html_path
            else f"llmwatch-report-{report_id}.html")
    title = (f"llmwatch report {stored.period_start:%Y-%m-%d} – "
             f"{stored.period_end - timedelta(seconds=1):%Y-%m-%d}")
    return name, title, html


def _write_files(out_dir: Path, period: Period, figures: dict[str, Any], html: str,
                 tz: ZoneInfo) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    last = period.end.astimezone(tz) - timedelta(microseconds=1)
    stem = f"llmwatch-report-{period.start.astimezone(tz):%Y-%m-%d}_{last:%Y-%m-%d}"
    if period.length < timedelta(days=1) or period.start.astimezone(tz).hour:
        stem = f"llmwatch-report-{period.start.astimezone(tz):%Y-%m-%dT%H%M}_{last:%Y-%m-%dT%H%M}"
    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", stem)
    html_path, json_path = out_dir / f"{stem}.html", out_dir / f"{stem}.json"
    html_path.write_text(html, encoding="utf-8")
    json_path.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return html_path.resolve(), json_path.resolve()


def _evidently_version() -> str:
    from importlib.metadata import version

    return version("evidently")
