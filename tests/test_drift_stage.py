"""The drift stage on a real database (SQLite and PostgreSQL): baselines, windows, restarts,
version changes, and findings that say what moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import numpy as np
from factories import make_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from llmwatch.config import DriftSettings
from llmwatch.detectors.findings import Finding
from llmwatch.detectors.segments import Segment
from llmwatch.schemas.embedded import EmbeddedEvent
from llmwatch.storage import Store
from llmwatch.storage.tables import DriftBaselineRow, FindingRow
from llmwatch.streams.drift_stage import DriftStage

D = 32
T0 = datetime(2026, 11, 2, tzinfo=UTC)
TOPICS = {
    "chat": ["what movie did you watch", "favourite food to cook", "how was your weekend",
             "any plans for the holidays", "do you like hiking"],
    "money": ["how do I invest in the stock market", "what is a good interest rate",
              "stock market tips for money"],
}
SETTINGS = DriftSettings(reference_size=200, window_size=100, online_window=50,
                         online_check_every=10, clusters=3)


class Traffic:
    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.centres = {name: self.rng.normal(size=D) for name in TOPICS}
        self.ids = count()

    def batch(self, n: int, money_share: float = 0.0, version: str = "v1") -> list[EmbeddedEvent]:
        out = []
        for _ in range(n):
            i = next(self.ids)
            topic = "money" if self.rng.random() < money_share else "chat"
            v = self.centres[topic] + 0.8 * self.rng.normal(size=D)
            v = (v / np.linalg.norm(v)).astype(np.float32)
            text = TOPICS[topic][i % len(TOPICS[topic])]
            event = make_event(i, prompt=text, model_version=version,
                               timestamp=T0 + timedelta(seconds=i))
            out.append(EmbeddedEvent(event, v, v))
        return out


def feed(stage: DriftStage, store: Store, batches: list[list[EmbeddedEvent]]) -> list[Finding]:
    found: list[Finding] = []
    for b in batches:
        store.save_events(b)
        found += stage.process(b, now=datetime.now(UTC))
    return found


def prompt_findings(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.detector == "embedding_drift" and f.metric == "prompt_embedding"]


def test_baseline_windows_restart_and_version_change(store: Store) -> None:
    traffic = Traffic()
    stage = DriftStage(store, SETTINGS)
    before = feed(stage, store, [traffic.batch(50) for _ in range(4)])
    assert before == []  # the reference (200 events) is being collected: nothing to say yet
    with Session(store.engine) as s:
        created = s.execute(select(DriftBaselineRow.created_at)).scalar_one()

    clean = prompt_findings(feed(stage, store, [traffic.batch(50), traffic.batch(50)]))
    assert len(clean) == 1 and not clean[0].fired  # one window of 100, no drift
    assert clean[0].window.n_current == 100 and clean[0].window.n_reference == 200

    found = feed(stage, store, [traffic.batch(50, money_share=0.4) for _ in range(2)])
    [drift] = prompt_findings(found)
    assert drift.fired and drift.severity in ("warning", "critical")
    assert "new: prompts about" in drift.explanation and "stock" in drift.explanation
    assert drift.p_value is not None and drift.p_value < 1e-6
    assert drift.details["fdr_q"] == 0.05 and drift.details["tests_in_round"] >= 5
    assert any(f.detector == "online_drift" and f.fired for f in found)

    restarted = DriftStage(store, SETTINGS)  # a new worker: state comes from the database
    again = prompt_findings(feed(restarted, store, [traffic.batch(100, money_share=0.4)]))
    assert len(again) == 1 and again[0].fired  # the next window, not a repeat of old ones
    with Session(store.engine) as s:
        assert s.execute(select(DriftBaselineRow.created_at)).scalar_one() == created
        windows = s.execute(select(FindingRow).where(
            FindingRow.detector == "embedding_drift",
            FindingRow.metric == "prompt_embedding")).scalars().all()
    assert len(windows) == 3

    v2 = [traffic.batch(100, 0.5, "v2"), traffic.batch(100, 0.5, "v2")]
    version = feed(restarted, store, v2)
    changes = [f for f in version if f.detector == "version_change"
               and f.metric == "prompt_embedding"]
    assert len(changes) == 1 and changes[0].fired
    assert changes[0].segment == Segment("support-bot", "gpt-test", "v2", "v1").key
    assert changes[0].details["compared_with"] == Segment("support-bot", "gpt-test", "v1",
                                                          "v1").key
    assert "stock" in changes[0].explanation


def test_findings_are_stored_with_their_evidence(store: Store) -> None:
    traffic = Traffic()
    stage = DriftStage(store, SETTINGS)
    feed(stage, store, [traffic.batch(100) for _ in range(2)] + [traffic.batch(100, 0.5)])
    with Session(store.engine) as s:
        row = s.execute(select(FindingRow).where(
            FindingRow.fired.is_(True), FindingRow.metric == "prompt_embedding",
            FindingRow.detector == "embedding_drift")).scalar_one()
    assert row.method == "centroid" and row.threshold is not None and row.p_value is not None
    assert row.statistic > row.threshold
    assert row.window_start is not None and row.window_end is not None
    assert row.details["shifts"][0]["examples"] and "q_value" in row.details


def test_a_backlog_read_at_once_decides_each_window_on_its_own(store: Store) -> None:
    """A worker catching up reads many windows in one batch. Its later windows' true drift
    must not lend false-discovery budget to an earlier window of the same segment: pooled in
    one Benjamini–Hochberg round, 20 discoveries lift the cut-off twentyfold, and a quiet
    window before the shift fires (the demo's first window did, at p = 0.16)."""
    from llmwatch.detectors.drift_monitor import round_weights
    from llmwatch.detectors.fdr import weighted_adjusted

    traffic = Traffic()
    stage = DriftStage(store, SETTINGS)
    backlog = traffic.batch(300) + [e for _ in range(3) for e in traffic.batch(100, 0.5)]
    found = [f for f in feed(stage, store, [backlog]) if f.detector != "online_drift"]
    by_window: dict[datetime, list[Finding]] = {}
    for f in found:
        by_window.setdefault(f.window.end, []).append(f)
    assert len(by_window) == 4
    first, *shifted = (by_window[end] for end in sorted(by_window))
    assert all(f.details["tests_in_round"] == len(first) for f in first)
    p = [f.p_value if f.p_value is not None else 1.0 for f in first]
    expected = weighted_adjusted(p, round_weights(first, SETTINGS.primary_weight))
    assert [f.details["q_value"] for f in first] == expected
    assert not any(f.fired for f in prompt_findings(first))
    assert all(any(f.fired for f in prompt_findings(w)) for w in shifted)


def test_a_jump_in_a_quality_rate_is_a_finding(store: Store) -> None:
    from llmwatch.detectors.quality import QualityScore

    traffic = Traffic()
    stage = DriftStage(store, DriftSettings(reference_size=200, window_size=200,
                                            online=False, clusters=3))
    rng = np.random.default_rng(1)

    def feed_with_refusals(n: int, rate: float) -> list[Finding]:
        batch = traffic.batch(n)
        scores = {e.event.event_id: {"refusal": QualityScore(
            "refusal", 1.0, bool(rng.random() < rate))} for e in batch}
        store.save_events(batch, quality=scores)
        return stage.process(batch, now=datetime.now(UTC))

    feed_with_refusals(200, 0.02)  # the baseline: 2 % refusals
    quiet = [f for f in feed_with_refusals(200, 0.02) if f.detector == "quality_rate"]
    assert len(quiet) == 1 and not quiet[0].fired
    [jump] = [f for f in feed_with_refusals(200, 0.15) if f.detector == "quality_rate"]
    assert jump.fired and jump.metric == "refusal_rate"
    assert jump.details["reference_rate"] < 0.05 < 0.1 < jump.details["current_rate"]
    assert "refusal rate" in jump.explanation


def test_negative_feedback_rate_is_joined_to_its_calls(store: Store) -> None:
    from llmwatch.schemas import FeedbackEvent

    traffic = Traffic()
    stage = DriftStage(store, DriftSettings(reference_size=200, window_size=200,
                                            online=False, clusters=3))
    rng = np.random.default_rng(2)

    def feed_with_feedback(n: int, down_rate: float) -> list[Finding]:
        batch = traffic.batch(n)
        store.save_events(batch)
        store.save_feedback([FeedbackEvent(
            feedback_id=f"fb-{e.event.event_id}", event_id=e.event.event_id,
            timestamp=e.event.timestamp, thumbs="down" if rng.random() < down_rate else "up")
            for e in batch])
        return stage.process(batch, now=datetime.now(UTC))

    feed_with_feedback(200, 0.05)
    [quiet] = [f for f in feed_with_feedback(200, 0.05) if f.metric == "negative_feedback_rate"]
    assert not quiet.fired and quiet.details["current_checked"] == 200
    [worse] = [f for f in feed_with_feedback(200, 0.3) if f.metric == "negative_feedback_rate"]
    assert worse.fired and worse.details["current_rate"] > 0.2


def test_one_failing_segment_does_not_stop_the_others(store: Store, caplog,  # noqa: ANN001
                                                       monkeypatch) -> None:  # noqa: ANN001
    """A segment whose drift work raises is contained: logged once, counted, retried later;
    the other segment's findings and alerts still come."""
    import logging

    from llmwatch.config import AlertSettings
    from llmwatch.storage.outbox import load_states
    from llmwatch.streams.alert_stage import AlertStage

    traffic = Traffic()
    stage = DriftStage(store, SETTINGS)
    alerts = AlertStage(store, AlertSettings(min_sample=50), window=SETTINGS.window_size)

    def two_apps(n: int, money: float) -> list[EmbeddedEvent]:
        out = []
        for app in ("good-bot", "meta-llama/Llama-3.1-8B-Instruct bot"):
            for e in traffic.batch(n, money):
                event = e.event.model_copy(update={"app": app,
                                                   "event_id": f"{app}-{e.event.event_id}"})
                out.append(EmbeddedEvent(event, e.prompt_vector, e.response_vector))
        return out

    bad = Segment("meta-llama/Llama-3.1-8B-Instruct bot", "gpt-test", "v1", "v1").key
    real_windows = DriftStage._windows

    def broken(self, segment, baseline, cursor):  # noqa: ANN001, ANN202
        if segment.key == bad:
            raise RuntimeError("a bug this segment's data tickles")
        return real_windows(self, segment, baseline, cursor)

    monkeypatch.setattr(DriftStage, "_windows", broken)
    found: list[Finding] = []
    with caplog.at_level(logging.ERROR, logger="llmwatch.isolation"):
        for batch in [two_apps(100, 0.0) for _ in range(3)] + [two_apps(100, 0.6)]:
            store.save_events(batch)
            round_ = stage.process(batch, now=datetime.now(UTC))
            alerts.process(round_, datetime.now(UTC))
            found += round_
    good = Segment("good-bot", "gpt-test", "v1", "v1").key
    assert {f.segment for f in found} == {good}  # the good segment went on, windows and all
    assert any(f.fired for f in prompt_findings(found))
    fired = [n for n in load_states(store.engine).values() if n.status == "firing"]
    assert fired and all(st.segment == good for st in fired)  # and its alerts were decided
    assert stage.failures.counts[bad] >= 2 and stage.failures.total == stage.failures.counts[bad]
    logged = [r for r in caplog.records if "drift failed for segment" in r.getMessage()]
    assert len(logged) == 1 and "meta-llama/Llama-3.1-8B-Instruct bot" in logged[0].getMessage()

    monkeypatch.setattr(DriftStage, "_windows", real_windows)  # fixed: retried next round
    batch = two_apps(100, 0.6)
    store.save_events(batch)
    later = stage.process(batch, now=datetime.now(UTC))
    assert bad in {f.segment for f in later} and not stage.failures.is_failing(bad)
