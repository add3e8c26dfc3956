"""Threshold rules: absolute limits over a rolling window (spend per user a day, tokens,
errors, latency, quality rates), decided by the alert engine like any finding — pure, on the
database, and end to end on Kafka with a worker: a spend rule per user hash fires once and
resolves."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmwatch.detectors.segments import ANY, Segment
from llmwatch.detectors.thresholds import Aggregate, Rule, findings
from llmwatch.schemas import LLMEvent, hash_id
from llmwatch.storage import Store

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
ALICE, BOB = hash_id("alice@example.com", "salt"), hash_id("bob@example.com", "salt")


def test_a_rule_fires_above_its_limit_and_a_quiet_group_resolves() -> None:
    rule = Rule("user spend", "cost_usd", 1.0, 86_400, "user", "critical")
    seg = Segment("support-bot", ANY, ANY, ANY).key
    found = findings(rule, [Aggregate(seg, 1.6, 4, ALICE), Aggregate(seg, 0.3, 3, BOB)], NOW)
    fired = [f for f in found if f.fired]
    assert [f.metric for f in fired] == [f"user spend user:{ALICE}"]
    assert fired[0].severity == "critical" and "$1.60" in fired[0].explanation
    assert "above the limit of $1.00" in fired[0].explanation
    # alice's alert fires, and her traffic leaves the window: a quiet finding resolves it
    later = findings(rule, [Aggregate(seg, 0.3, 3, BOB)], NOW + timedelta(days=1),
                     firing=[(seg, f"user spend user:{ALICE}"), (seg, "another rule")])
    assert [(f.metric, f.fired) for f in later] == [(f"user spend user:{BOB}", False),
                                                     (f"user spend user:{ALICE}", False)]
    with pytest.raises(ValueError, match="metric is one of"):
        Rule("x", "dollars", 1, 60)


@pytest.mark.parametrize(("metric", "by", "above", "fires"), [
    ("calls", "app", 3, True), ("tokens", "model", 1000, False),
    ("error_rate", "version", 0.1, True), ("latency_p95_ms", "segment", 1500, True),
    ("refusal_rate", "app", 0.2, True),
])
def test_every_metric_is_read_from_storage(store: Store, metric: str, by: str, above: float,
                                           fires: bool) -> None:
    from factories import make_event

    from llmwatch.streams.alert_stage import AlertStage

    events = [make_event(i, timestamp=NOW - timedelta(minutes=i), latency_ms=500.0 + 500 * i,
                         error="timeout" if i == 0 else None,
                         response="I'm sorry, but I can't help with that." if i < 2 else
                         "Open Settings, then Security.") for i in range(5)]
    from llmwatch.detectors.quality import QualityScore

    store.save_events([_embedded(e) for e in events], now=NOW, quality={
        e.event_id: {"refusal": QualityScore("refusal", 1.0 if i < 2 else 0.0, i < 2)}
        for i, e in enumerate(events)})
    stage = AlertStage(store, _settings())
    rule = Rule("r", metric, above, 3600, by)  # type: ignore[arg-type]
    from llmwatch.storage.traffic import aggregates

    [group] = aggregates(store.engine, rule.metric, rule.by, NOW - timedelta(hours=1),
                         NOW + timedelta(seconds=1))
    expected = {"calls": 5, "tokens": 5 * (52 + 14), "error_rate": 0.2,
                "refusal_rate": 0.4}.get(metric)
    if expected is not None:
        assert group.value == pytest.approx(expected)
    stage.evaluate_rules([rule], NOW + timedelta(seconds=1))
    from llmwatch.storage.alerts import firing

    assert bool(firing(store.engine)) is fires


def test_a_quality_rate_counts_each_call_as_its_best_verdict_decided(store: Store) -> None:
    """A refusal rule reads what the drift windows read: the judge clears a cheap flag, the
    reader adds one but never clears one, a higher tier's verdict wins."""
    from factories import make_event

    from llmwatch.detectors.quality import QualityScore
    from llmwatch.detectors.second_opinion import Verdict, overlay
    from llmwatch.storage.review import record
    from llmwatch.storage.traffic import aggregates

    events = [make_event(i, timestamp=NOW - timedelta(minutes=i)) for i in range(6)]
    cheap = [True, True, False, False, True, False]
    store.save_events([_embedded(e) for e in events], now=NOW, quality={
        e.event_id: {"refusal": QualityScore("refusal", float(c), c)}
        for e, c in zip(events, cheap, strict=True)})
    said = [(0, "judge", False),                          # a cheap flag cleared
            (1, "reader", False),                         # the reader cannot clear
            (2, "reader", True),                          # but can add
            (3, "reader", True), (3, "classifier", False),  # the classifier over the reader
            (4, "classifier", False), (4, "judge", True)]   # the judge over the classifier
    for i, tier, flag in said:
        record(store.engine, events[i].event_id,
               [Verdict(events[i].event_id, "refusal", tier, "test", flag, float(flag))],
               ["refusal"], ["unsure"], NOW, finished=True)
    flags = {e.event_id: {"refusal": c} for e, c in zip(events, cheap, strict=True)}
    overlay(flags, [Verdict(events[i].event_id, "refusal", t, "test", f, float(f))
                    for i, t, f in said])
    expected = sum(f["refusal"] for f in flags.values()) / len(events)
    assert expected == pytest.approx(3 / 6)  # calls 1, 2 and 4
    [group] = aggregates(store.engine, "refusal_rate", "app", NOW - timedelta(hours=1),
                         NOW + timedelta(seconds=1))
    assert group.value == pytest.approx(expected) and group.calls == 6


def _embedded(event: LLMEvent) -> Any:
    import numpy as np

    from llmwatch.schemas.embedded import EmbeddedEvent

    return EmbeddedEvent(event, np.zeros(8, dtype=np.float32), np.zeros(8, dtype=np.float32))


def _settings() -> Any:
    from llmwatch.config import AlertSettings

    return AlertSettings(min_sample=100)


def test_a_spend_rule_per_user_fires_once_and_resolves_end_to_end(
    kafka: Any, postgres_url: str, settings_for: Any, tmp_path: Path
) -> None:
    import subprocess
    import sys
    import time

    from kafka import KafkaProducer
    from test_end_to_end import prepared, wait_for, worker_env

    from llmwatch.storage.alerts import alert_states
    from llmwatch.storage.outbox import notices

    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    window = 45
    env = {**worker_env(s), "LLMWATCH_ALERTS__RULES_EVERY_S": "1",
           "LLMWATCH_ALERTS__RULES": json.dumps([{
               "name": "user spend", "metric": "cost_usd", "above": 1.0, "window_s": window,
               "by": "user", "severity": "critical"}])}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=env,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        now = datetime.now(UTC)
        for i, (user, cost) in enumerate([(ALICE, 0.4)] * 4 + [(BOB, 0.1)] * 3):
            e = LLMEvent(event_id=f"spend-{i}", timestamp=now - timedelta(seconds=5 - i / 2),
                         app="support-bot", model="gpt-4o", prompt=f"question {i}",
                         response="an answer", cost_usd=cost, user_hash=user)
            producer.send(s.topics.events, key=e.partition_key,
                          value=e.model_dump_json().encode())
        producer.close()
        wait_for(lambda: store.counts().events == 7, "the calls to be stored", log)

        def alices() -> list[Any]:
            return [a for a in alert_states(store.engine) if a.detector == "threshold"
                    and a.metric == f"user spend user:{ALICE}"]

        wait_for(lambda: any(a.status == "firing" for a in alices()), "the spend alert", log)
        time.sleep(5)  # evaluated again every second: still one notice
        firing_notices = [n for n in notices(store.engine) if ALICE in n.text]
        assert len(firing_notices) == 1, [n.text for n in notices(store.engine)]
        said = json.dumps(firing_notices[0].blocks)
        assert "$1.60" in said and "above the limit of $1.00" in said
        assert not [a for a in alert_states(store.engine) if BOB in (a.metric or "")
                    and a.status == "firing"]
        # her calls leave the window: resolved
        wait_for(lambda: alices() and alices()[0].status != "firing", "the alert to resolve",
                 log, timeout_s=window + 90)
        assert len([n for n in notices(store.engine) if ALICE in n.text]) == 2
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def test_a_threshold_alert_is_shown_in_the_report(store: Store, tmp_path: Path) -> None:
    from factories import make_event

    from llmwatch.config import Settings
    from llmwatch.report.period import Period
    from llmwatch.report.service import write_report
    from llmwatch.streams.alert_stage import AlertStage

    events = [make_event(i, timestamp=NOW - timedelta(minutes=i), cost_usd=0.5)
              for i in range(5)]
    store.save_events([_embedded(e) for e in events], now=NOW)
    rule = Rule("app spend", "cost_usd", 1.0, 3600, "app", "critical")
    AlertStage(store, _settings()).evaluate_rules([rule], NOW + timedelta(seconds=1))
    settings = Settings.model_validate({"storage": {"url": str(store.engine.url)},
                                        "report": {"out_dir": str(tmp_path),
                                                   "evidently_segments": 0}})
    result = write_report(store, settings, Period(NOW - timedelta(days=1),
                                                  NOW + timedelta(hours=1)), now=NOW)
    assert result is not None
    said = json.dumps(result.figures["alerts"], default=str)
    assert "app spend" in said and result.figures["alerts"]["count"] == 1
    assert "app spend" in Path(result.html_path).read_text()
