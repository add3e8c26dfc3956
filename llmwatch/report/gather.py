"""Read what a report needs from storage: the calls of this period, the period before and each
segment's baseline (with embeddings, quality flags and feedback), its topic clusters, the
findings and alert episodes of the period, and the open retraining tickets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from llmwatch.detectors.second_opinion import overlay
from llmwatch.detectors.segments import ANY, SEGMENT_FIELDS, Segment, segment_name
from llmwatch.isolation import SegmentFailures
from llmwatch.storage import Store
from llmwatch.storage.drift_repo import DriftRepository
from llmwatch.storage.reports import (
    baseline_spans,
    episodes,
    fired_findings,
    open_tickets,
    segment_values,
)

from .figures import ReportInputs, SegmentData
from .period import Period

Progress = Callable[[str], None]


def gather(store: Store, period: Period, tz: ZoneInfo, *, segment_by: Sequence[str],
           max_events: int, now: datetime, progress: Progress = lambda _: None,
           failures: SegmentFailures | None = None) -> ReportInputs:
    failures = failures or SegmentFailures("report")
    period = Period(period.start.astimezone(UTC), period.end.astimezone(UTC))
    previous = period.previous()
    repo = DriftRepository(store, overlay)  # second opinions decide flags
    segments = _segments(store, previous.start, period.end, segment_by)
    baselines = baseline_spans(store.engine)
    data = []
    for n, segment in enumerate(segments, start=1):
        progress(f"reading segment {n}/{len(segments)}: {segment.describe()}")
        with failures.guard(segment.key):  # one unreadable segment does not sink the report
            data.append(_segment_data(repo, segment, period, previous, baselines, max_events))
    progress("reading findings, alerts and tickets")
    present = {d.key for d in data}
    older = []  # predecessors without traffic in either period: compared by their baseline
    for key in sorted({d.predecessor for d in data if d.predecessor} - present):
        start, end = baselines[key]["start"], baselines[key]["end"]
        if start is None or end is None:
            continue
        reference, n = repo.records_between(Segment.from_key(key), start,
                                            end + timedelta(microseconds=1), limit=max_events)
        older.append(SegmentData(key, [], [], reference, counts={"baseline": n}))
    return ReportInputs(period=period, tz=tz, segments=data, predecessors=older,
                        findings=fired_findings(store.engine, period.start, period.end),
                        episodes=_episodes(store, period),
                        tickets=_tickets(store), generated_at=now)


def _segment_data(repo: DriftRepository, segment: Segment, period: Period, previous: Period,
                  baselines: dict[str, dict[str, Any]], max_events: int) -> SegmentData:
    current, n_cur = repo.records_between(segment, period.start, period.end, limit=max_events)
    before, n_prev = repo.records_between(segment, previous.start, previous.end,
                                          limit=max_events)
    base_row = baselines.get(segment.key)
    baseline: list[Any] = []
    n_base, clusters, size, predecessor = 0, None, 0, None
    if base_row is not None and base_row["start"] is not None:
        baseline, n_base = repo.records_between(  # the reference's last event included
            segment, base_row["start"], base_row["end"] + timedelta(microseconds=1),
            limit=max_events)
        state = repo.baseline(segment.key)
        if state is not None:
            clusters, size = state[0].clusters, state[0].size
        predecessor = _predecessor(baselines, segment.key)
    return SegmentData(segment.key, current, before, baseline, clusters, size, predecessor,
                       {"current": n_cur, "previous": n_prev, "baseline": n_base})


def _segments(store: Store, start: datetime, end: datetime,
              segment_by: Sequence[str]) -> list[Segment]:
    keys = set()
    for row in segment_values(store.engine, start, end):
        values = dict(zip(SEGMENT_FIELDS, row, strict=True))
        keys.add(Segment(**{f: values[f] if f in segment_by else ANY for f in SEGMENT_FIELDS}))
    return sorted(keys, key=lambda s: s.key)


def _predecessor(baselines: dict[str, dict[str, Any]], key: str) -> str | None:
    """The version of the same app and model whose baseline was made just before this one's."""
    mine = baselines[key]
    older = [(b["created_at"], k) for k, b in baselines.items()
             if k != key and b["lineage"] == mine["lineage"]
             and b["created_at"] < mine["created_at"]]
    return max(older)[1] if older else None


def _episodes(store: Store, period: Period) -> list[dict[str, Any]]:
    """Alerts that fired in the period (by the event time of their first firing window), and
    those still firing from before."""
    out = []
    for e in episodes(store.engine):
        first = e["first_window_end"]
        in_period = first is not None and period.contains(first)
        open_before = e["status"] == "firing" and first is not None and first < period.start
        if in_period or open_before:
            out.append(e)
    return out


def _tickets(store: Store) -> list[dict[str, Any]]:
    return [{**t, "name": segment_name(t["segment"])} for t in open_tickets(store.engine)]
