"""The drift stage: stored events in, findings out. Synchronous and faust-free; the worker
calls `DriftStage.process` off the event loop for each batch from the enriched topic.

Per segment: the first `reference_size` events (or a time range) become its baseline, kept in
the database across restarts; a new model or prompt version's baseline is first compared
with its predecessor's ("version_change"). Then every `window_size` events, in event time up
to the watermark (the slowest partition's progress, `detectors/watermark.py`), form a
window tested against the baseline (embedding drift explained by topic clusters, numeric
and categorical drift), with false-discovery control across the segments' windows of one
step (a backlog read in one batch is several steps: a later window's drift never lends its
budget to an earlier window of the same segment); and the online
detector checks every micro-batch, calibrated to one false alarm per `false_alarm_every_s`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from llmwatch.config import DriftSettings
from llmwatch.detectors.drift_monitor import (
    Baseline,
    DriftConfig,
    EventSample,
    decide,
    evaluate_window,
    fit_baseline,
)
from llmwatch.detectors.explain import explain
from llmwatch.detectors.findings import Finding, Window
from llmwatch.detectors.online import Alarm, OnlineCentroidDetector, OnlineState, run_length
from llmwatch.detectors.redact import DEFAULT_PRIVACY, Privacy
from llmwatch.detectors.second_opinion import overlay
from llmwatch.detectors.segments import Segment, segment_of
from llmwatch.detectors.watermark import UNKNOWN, Watermark
from llmwatch.isolation import SegmentFailures
from llmwatch.schemas.embedded import EmbeddedEvent
from llmwatch.storage import Store
from llmwatch.storage.drift_repo import Cursor, DriftRepository, EventRecord, Position

log = logging.getLogger(__name__)

ONLINE_PAGE = 2_000  # calls the online detector reads from storage at a time
ONLINE_REPLAY = 20  # on a restart it reads again at most this many windows of calls


def drift_config(s: DriftSettings, privacy: Privacy = DEFAULT_PRIVACY) -> DriftConfig:
    return DriftConfig(privacy=privacy,
        method=s.method, fdr_q=s.fdr_q, primary_weight=s.primary_weight,
        embedding_min_effect=s.embedding_min_effect,
        critical_effect=s.critical_effect, numeric_effect=s.numeric_effect,
        numeric_min_effect=s.numeric_min_effect, categorical_min_effect=s.categorical_min_effect,
        clusters=s.clusters,
        online=OnlineCentroidDetector(
            window=s.online_window, check_every=s.online_check_every,
            # the floor of two windows until a reference's traffic is known: the stage sets
            # each segment's from it (`_online_detector`)
            expected_run_length=run_length(s.online_window)),
    )


class DriftStage:
    def __init__(self, store: Store, settings: DriftSettings,
                 privacy: Privacy = DEFAULT_PRIVACY, partitions: int = 0) -> None:
        """`partitions`: how many partitions the events topic has (the watermark waits to
        hear from each, or for `idle_partition_s`); 0 when calls come without sources."""
        self.repo = DriftRepository(store, overlay)  # second opinions decide flags
        self.settings = settings
        self.config = drift_config(settings, privacy)
        self._baselines: dict[str, Baseline] = {}
        self._online: dict[str, OnlineState] = {}
        # the online detector's reading: the last window of calls and how far it read
        self._online_tail: dict[str, list[EventRecord]] = {}
        self._online_read: dict[str, Position | None] = {}
        self.failures = SegmentFailures("drift")
        self.watermark = Watermark(idle_s=settings.idle_partition_s,
                                   lateness_s=settings.lateness_s, partitions=partitions)
        self._seen: set[Segment] = set()  # segments with calls since start
        self.late = 0  # calls that arrived after their window was judged (in no window)
        self.until: datetime | None = None  # the watermark of the round
        # calls per events-topic partition not yet ingested (the group's lag), when known:
        # a partition with calls waiting is behind, never idle (`Watermark.value`)
        self.waiting: dict[int, int] | None = None
        self.sampled = self.repo.vectors is not self.repo.per_call

    def observe(self, arrived: Sequence[EmbeddedEvent], now: datetime) -> None:
        """Every call that reached the stage, sampled or not: how far each partition got,
        and which segments a tick goes over."""
        for item in arrived:
            partition = item.source.partition if item.source else UNKNOWN
            self.watermark.observe(partition, item.event.timestamp, now)
            self._seen.add(segment_of(item.event, self.settings.segment_by))

    def process(self, batch: Sequence[EmbeddedEvent], now: datetime,
                arrived: Sequence[EmbeddedEvent] | None = None) -> list[Finding]:
        """A round over `batch` (the calls in the drift space); `arrived` (default: the
        batch) are all the calls that came in with it, sampled or not."""
        self.observe(batch if arrived is None else arrived, now)
        self.until = self.watermark.value(now, self.waiting)
        by_segment: dict[Segment, list[EmbeddedEvent]] = {}
        if not batch:  # a tick: the watermark may have moved with the clock alone
            by_segment = {segment: [] for segment in self._seen}
        for item in batch:
            by_segment.setdefault(segment_of(item.event, self.settings.segment_by), []).append(item)
        steps: list[list[Finding]] = []  # step k: the k-th window of every segment
        decided: list[Finding] = []
        cursors: list[Cursor] = []
        version_changes: list[Finding] = []
        for segment, items in by_segment.items():
            with self.failures.guard(segment.key):
                step = self._segment_round(segment, items, now, version_changes)
                if step is None:
                    continue
                cursor, windows, alarms = step
                steps.extend([] for _ in range(len(windows) - len(steps)))
                for k, found in enumerate(windows):
                    steps[k].extend(found)
                decided.extend(alarms)
                cursors.append(cursor)
            if self.failures.is_failing(segment.key):
                self._forget(segment)  # rebuilt from storage when it is retried
        findings = [f for step in steps for f in decide(step, self.config)] + decided
        if cursors or findings:
            self.repo.save_round(cursors, findings, now)
        return version_changes + findings  # version changes were stored with their baseline

    def _segment_round(self, segment: Segment, items: Sequence[EmbeddedEvent], now: datetime,
                       version_changes: list[Finding]
                       ) -> tuple[Cursor, list[list[Finding]], list[Finding]] | None:
        """One segment's part of the round: the candidate findings of each of its windows, in
        order (decided with the other segments' windows of the same step), and its online
        alarms; None while it has no baseline yet."""
        before = self.repo.cursor(segment.key)
        if before is not None:  # calls of windows judged in earlier rounds come too late
            self.late += sum((i.event.timestamp, i.event.event_id) <= before.position
                             for i in items)
        baseline = self._baseline(segment, items, now, version_changes)
        if baseline is None:
            return None
        cursor = before or self.repo.cursor(segment.key)
        if cursor is None:
            return None
        alarms: list[Finding] = []
        if self.settings.online:
            cursor, alarms = self._online_step(segment, baseline, cursor)
        cursor, found = self._windows(segment, self._comparison(segment, baseline), cursor)
        return cursor, found, alarms

    def _forget(self, segment: Segment) -> None:
        self._baselines.pop(segment.key, None)
        self._online.pop(segment.key, None)
        self._online_tail.pop(segment.key, None)
        self._online_read.pop(segment.key, None)

    # -- baselines -------------------------------------------------------------------------
    def _baseline(self, segment: Segment, items: Sequence[EmbeddedEvent], now: datetime,
                  version_changes: list[Finding]) -> Baseline | None:
        if segment.key in self._baselines:
            return self._baselines[segment.key]
        stored = self.repo.baseline(segment.key)
        if stored is not None:
            self._baselines[segment.key] = stored[0]
            return stored[0]
        records, last = self._reference_records(segment, items)
        if not records or last is None:
            return None
        sample = EventSample.of(records)
        online = self._online_detector(sample)
        baseline = fit_baseline(segment.key, sample, self.config, online=online)
        version = self._version_change(segment, sample)
        self.repo.save_baseline(segment, baseline, last, version, now)
        version_changes.extend(version)
        self._baselines[segment.key] = baseline
        log.info("baseline of %s: %d events; online detector calibrated to one false alarm "
                 "per %d events", segment.key, baseline.size, online.expected_run_length)
        return baseline

    def _reference_records(self, segment: Segment, items: Sequence[EmbeddedEvent]
                           ) -> tuple[list, Position | None]:  # type: ignore[type-arg]
        s = self.settings
        if s.reference_from is not None and s.reference_to is not None:
            if self.until is None or self.until < s.reference_to:
                return [], None  # the reference period is not over yet
            records, last = self.repo.records(segment, limit=20 * s.reference_size,
                                              until=self.until)
            in_range = [r for r in records if s.reference_from <= r.timestamp < s.reference_to]
            return (in_range, last) if len(in_range) >= 50 else ([], None)
        if self.repo.count_after(segment, None, self.until) < s.reference_size:
            return [], None
        return self.repo.records(segment, limit=s.reference_size, until=self.until)

    def _online_detector(self, sample: EventSample) -> OnlineCentroidDetector:
        s = self.settings
        rate = s.default_events_per_s
        if sample.start and sample.end and sample.end > sample.start:
            rate = sample.size / (sample.end - sample.start).total_seconds()
        return replace(self.config.online, expected_run_length=run_length(
            s.online_window, rate, s.false_alarm_every_s))

    def _version_change(self, segment: Segment, sample: EventSample) -> list[Finding]:
        """A new version's reference against its predecessor's: 'same traffic, new model'."""
        previous = self.repo.predecessor(segment.lineage, segment.key)
        if previous is None:
            return []
        found = evaluate_window(previous, sample, self.config, detector="version_change")
        found = [replace(f, segment=segment.key,
                         details={**f.details, "compared_with": previous.segment}) for f in found]
        return decide(found, self.config)

    def _comparison(self, segment: Segment, own: Baseline) -> Baseline:
        chosen = self.settings.reference_model_version
        if not chosen or segment.model_version == chosen:
            return own
        other = Segment(segment.app, segment.model, chosen, segment.prompt_version)
        return self._baselines.get(other.key) or own

    # -- windows -----------------------------------------------------------------------------
    def _windows(self, segment: Segment, baseline: Baseline,
                 cursor: Cursor) -> tuple[Cursor, list[list[Finding]]]:
        s = self.settings
        found: list[list[Finding]] = []
        if self.until is None:
            return cursor, found
        while True:
            waiting = self.repo.count_after(segment, cursor.position, self.until)
            if waiting >= s.window_size:
                size = s.window_size
            elif waiting >= s.min_window and self._window_too_old(segment, cursor):
                size = waiting
            else:
                return cursor, found
            records, last = self.repo.records(segment, after=cursor.position, limit=size,
                                              until=self.until)
            assert last is not None
            sample = EventSample.of(records)
            found.append([self._with_sample(f, segment, sample)
                          for f in evaluate_window(baseline, sample, self.config)])
            cursor = replace(cursor, position=last, windows=cursor.windows + 1)

    def _with_sample(self, finding: Finding, segment: Segment, sample: EventSample) -> Finding:
        """A window's finding says how many of the period's calls drift read."""
        if not self.sampled or sample.start is None or sample.end is None:
            return finding
        calls = self.repo.calls_between(segment, sample.start, sample.end)
        return replace(finding, details={**finding.details,
                                         "sample": {"read": sample.size, "calls": calls}})

    def _window_too_old(self, segment: Segment, cursor: Cursor) -> bool:
        max_age = self.settings.window_max_age_s
        if max_age is None or self.until is None:
            return False
        oldest, _ = self.repo.records(segment, after=cursor.position, limit=1,
                                      until=self.until)
        return bool(oldest) and self.until - oldest[0].timestamp >= timedelta(seconds=max_age)

    # -- online ------------------------------------------------------------------------------
    def _online_step(self, segment: Segment, baseline: Baseline,
                     cursor: Cursor) -> tuple[Cursor, list[Finding]]:
        """The online detector reads the segment's calls in event time up to the watermark,
        as the windows do, so how they arrive never changes where it fires. It starts after
        the reference (or its last alarm, `cursor.online_from`); on a restart it reads again
        from there (at most `ONLINE_REPLAY` windows of calls: a longer quiet stretch was read
        by the run before, and only its newest window matters)."""
        detector = replace(self.config.online,
                           expected_run_length=baseline.online.expected_run_length)
        if self.until is None:
            return cursor, []
        state = self._online.get(segment.key)
        tail = self._online_tail.get(segment.key, [])
        read = self._online_read.get(segment.key)
        pending: list[EventRecord] = []
        if state is None:  # first touch since start
            state, tail, read = detector.initial_state(baseline.online), [], cursor.online_from
            waiting = self.repo.count_after(segment, read, self.until)
            if waiting > ONLINE_REPLAY * detector.window:
                pending, read = self.repo.records(segment, after=read, until=self.until,
                                                  limit=detector.window, newest=True)
        findings = []
        while True:
            if pending:
                records, last, pending = pending, read, []
            else:
                records, last = self.repo.records(segment, after=read, until=self.until,
                                                  limit=ONLINE_PAGE)
            if not records or last is None:
                break
            seen = state.events_seen
            state, alarms = detector.step(state, np.stack([r.prompt_vector for r in records]))
            stream = tail + records
            offset = seen - len(tail)  # events_seen of stream[0], less one
            for alarm in alarms:
                end = alarm.event_index - offset  # the alarm's window ends at stream[end - 1]
                window = stream[max(end - detector.window, 0):end]
                findings.append(self._online_finding(segment, baseline, detector, alarm,
                                                     window))
                at = window[-1]
                cursor = replace(cursor, online_from=(at.timestamp, at.event_id))
            tail, read = stream[-detector.window:], last
        self._online[segment.key] = state
        self._online_tail[segment.key] = tail
        self._online_read[segment.key] = read
        return cursor, findings

    def _online_finding(self, segment: Segment, baseline: Baseline,
                        detector: OnlineCentroidDetector, alarm: Alarm,
                        records: Sequence[EventRecord]) -> Finding:
        sample = EventSample.of(records)
        why = explain(baseline.clusters, sample.prompt_vectors, sample.prompt_texts,
                      reference_size=baseline.size, privacy=self.config.privacy,
                      reference_mean=baseline.online.mean)
        rate = baseline.events_per_second or self.settings.default_events_per_s
        return Finding(
            detector="online_drift", segment=segment.key, metric="prompt_embedding",
            method=detector.name, fired=True, statistic=alarm.statistic,
            threshold=alarm.threshold, p_value=None, effect_size=alarm.effect_size,
            window=Window(sample.start, sample.end, baseline.size, sample.size),
            severity="warning", explanation=why.summary,
            details={"expected_run_length_events": detector.expected_run_length,
                     "false_alarm_every_s": detector.expected_run_length / rate,
                     "shifts": [vars(s) for s in why.shifts]},
        )
