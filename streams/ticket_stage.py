"""Open or update retraining tickets for alerts that keep firing (database edge).

Trackers (GitHub, Jira) are never called here: each ticket opened or updated adds a notice
per configured tracker to the alert outbox in the same transaction, delivered like every
other notice (alerts/ticket_sinks.TrackerSink) — retried, exactly once, off the drift thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from llmwatch.alerts.decision import Alert, AlertState, fingerprint
from llmwatch.alerts.tickets import Example, TicketPolicy, dataset, should_open, suggested_action
from llmwatch.detectors.explain import NEW, assign
from llmwatch.detectors.findings import Finding
from llmwatch.detectors.second_opinion import overlay
from llmwatch.detectors.segments import Segment
from llmwatch.isolation import SegmentFailures
from llmwatch.schemas import as_chat
from llmwatch.storage import Store
from llmwatch.storage.drift_repo import DriftRepository
from llmwatch.storage.tickets import Tickets, TicketUpdate

DRIFT = ("embedding_drift", "online_drift", "version_change")


class TicketStage:
    def __init__(self, store: Store, policy: TicketPolicy, window: int,
                 trackers: Sequence[str] = ()) -> None:
        """`trackers`: the names of the configured trackers' outbox sinks ("github", "jira")."""
        self.stored = Tickets(store.engine)
        self.repo = DriftRepository(store, overlay)  # second opinions decide flags
        self.policy = policy
        self.window = window
        self.trackers = list(trackers)
        self.failures = SegmentFailures("tickets")

    def process(self, findings: Sequence[Finding], states: dict[str, AlertState],
                now: datetime) -> list[int]:
        """One ticket per segment and problem: embedding drift (prompt or response, window or
        online) is one problem, each quality rate another. Numeric and categorical drift are
        symptoms without a dataset to act on: they are evidence, not tickets."""
        touched, done = [], set()
        ordered = sorted(findings, key=lambda f: f.metric != "prompt_embedding")
        for finding in ordered:
            if finding.detector not in (*DRIFT, "quality_rate"):
                continue
            problem = "drift" if finding.detector in DRIFT else finding.metric
            key = fingerprint("ticket", finding.segment, problem)
            alert = Alert.of(finding)
            state = states.get(alert.fingerprint)
            if key in done or state is None or not should_open(alert, state.streak,
                                                                   self.policy):
                continue
            done.add(key)
            with self.failures.guard(finding.segment):
                touched.append(self._open_or_update(key, finding, state, now))
        return touched

    def _open_or_update(self, key: str, f: Finding, state: AlertState,
                        now: datetime) -> int:
        examples, new_topic = self._examples(f)
        lines = dataset(examples, self.policy.max_examples, self.policy.privacy)
        segment = Segment.from_key(f.segment)
        evidence: dict[str, Any] = {
            "segment": f.segment, "app": segment.app, "model": segment.model,
            "model_version": segment.model_version, "prompt_version": segment.prompt_version,
            "detector": f.detector, "metric": f.metric, "method": f.method,
            "statistic": f.statistic, "threshold": f.threshold, "p_value": f.p_value,
            "effect_size": f.effect_size, "severity": f.severity,
            "window": {"start": _iso(f.window.start), "end": _iso(f.window.end),
                       "events": f.window.n_current, "reference_events": f.window.n_reference},
            "explanation": f.explanation, "shifts": f.details.get("shifts", []),
            "firing_since": _iso(state.since), "consecutive_windows": state.streak,
            "example_event_ids": [e.event_id for e in examples[:20]],
            # every failing call of the window: what `llmwatch replay --ticket` replays
            "dataset_event_ids": [e.event_id for e in examples[:1000]],
        }
        title = f"Retrain/fix {segment.app} on {segment.model}: {f.metric} ({f.detector})"
        return self.stored.save(TicketUpdate(
            key, title[:300], f.segment, f.detector, f.metric,
            suggested_action(f.detector, f.metric, new_topic), evidence, "\n".join(lines),
            len(lines), state.streak), now, self.trackers)

    def _examples(self, f: Finding) -> tuple[list[Example], bool]:
        segment = Segment.from_key(f.segment)
        records, _ = self.repo.records(segment, limit=self.window, newest=True)
        new_topic = any(s.get("kind") == "new" for s in f.details.get("shifts", []))
        chosen: list[tuple[Any, str]] = []
        if f.detector in DRIFT and f.metric == "prompt_embedding" and records:
            stored = self.repo.baseline(f.segment)
            if stored is not None:
                clusters = stored[0].clusters
                grown = {s["label"] for s in f.details.get("shifts", []) if s["kind"] == "grew"}
                ids = assign(clusters, np.stack([r.prompt_vector for r in records]))
                for r, c in zip(records, ids, strict=True):
                    label = "new" if c == NEW else clusters.labels[c]
                    if c == NEW or label in grown:
                        chosen.append((r, label))
        elif f.metric.endswith("_rate"):
            check = f.metric.removesuffix("_rate")
            chosen = [(r, check) for r in records
                      if r.flags.get(check) or (check == "negative_feedback"
                                                and r.negative_feedback)]
        else:
            chosen = [(r, f.metric) for r in records]
        return [Example(r.event_id, as_chat(r.prompt_messages, r.prompt_text),
                        r.response_text or "", label) for r, label in chosen], new_topic


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
