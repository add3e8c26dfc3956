"""The alert decision, table by table, with a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from llmwatch.alerts.decision import (
    Alert,
    AlertState,
    Context,
    Policy,
    Silence,
    decide,
    decide_round,
    fingerprint,
)
from llmwatch.detectors.segments import Segment, app_pattern

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
POLICY = Policy(cooldown=30 * MIN, repeat_every=240 * MIN, min_sample=100)
SEGMENT = Segment("support-bot", "gpt-4o", "2024-08", "v7").key


def alert(firing: bool = True, severity: str = "warning", metric: str = "prompt_embedding",
          sample: int = 1000, segment: str = SEGMENT) -> Alert:
    return Alert(fingerprint("embedding_drift", segment, metric), "embedding_drift", segment,
                 metric, severity, firing, sample, "new: prompts about 'refund' 4% → 19%")


FIRING_NOTIFIED = AlertState("firing", since=T0, last_notified=T0, notifications=1,
                             segment=SEGMENT, severity="warning")


@pytest.mark.parametrize("name, a, state, now, action", [
    ("new alert fires", alert(), AlertState(), T0, "fire"),
    ("suppressed inside the cooldown", alert(), FIRING_NOTIFIED, T0 + 10 * MIN, "none"),
    ("no repeat before repeat_every", alert(), FIRING_NOTIFIED, T0 + 60 * MIN, "none"),
    ("repeats after repeat_every", alert(), FIRING_NOTIFIED, T0 + 241 * MIN, "repeat"),
    ("resolves once", alert(firing=False), FIRING_NOTIFIED, T0 + 5 * MIN, "resolve"),
    ("quiet after resolving", alert(firing=False),
     replace(FIRING_NOTIFIED, status="resolved"), T0 + 6 * MIN, "none"),
    ("too few samples", alert(sample=40), AlertState(), T0, "none"),
    ("not firing, never fired", alert(firing=False), AlertState(), T0, "none"),
    ("fires again after a resolution", alert(),
     replace(FIRING_NOTIFIED, status="resolved"), T0 + 20 * MIN, "fire"),
])
def test_decision_table(name: str, a: Alert, state: AlertState, now: datetime,
                        action: str) -> None:
    assert decide(a, state, now, POLICY).action == action, name


def test_state_after_fire_and_repeat() -> None:
    first = decide(alert(), AlertState(), T0, POLICY)
    assert first.state.status == "firing" and first.state.since == T0
    assert first.state.notifications == 1
    again = decide(alert(), first.state, T0 + 241 * MIN, POLICY)
    assert again.action == "repeat" and again.state.notifications == 2
    assert again.state.since == T0  # still the same incident


def test_inhibited_by_a_critical_on_the_segment() -> None:
    context = Context(critical_segments=frozenset({SEGMENT}))
    assert decide(alert(severity="warning"), AlertState(), T0, POLICY, context).action == "none"
    assert decide(alert(severity="critical"), AlertState(), T0, POLICY, context).action == "fire"
    other = alert(segment=Segment("other", "app").key)
    assert decide(other, AlertState(), T0, POLICY, context).action == "fire"


def test_silence_mutes_inside_its_window_only() -> None:
    silence = Silence(T0, T0 + 60 * MIN, segment=app_pattern("support-bot"),
                      reason="model rollout")
    policy = replace(POLICY, silences=(silence,))
    muted = decide(alert(), AlertState(), T0 + 5 * MIN, policy)
    assert muted.action == "none" and "model rollout" in muted.reason
    assert muted.state.status == "firing"  # the truth is still tracked
    after = decide(alert(), muted.state, T0 + 61 * MIN, policy)
    assert after.action == "fire"  # never notified yet: it fires when the silence ends
    quiet = decide(alert(firing=False), muted.state, T0 + 10 * MIN, policy)
    assert quiet.action == "none"  # it fired and resolved unseen: nothing to recover from


def test_a_round_groups_by_segment_and_inhibits_warnings() -> None:
    crit = alert(severity="critical")
    warn = alert(metric="latency_ms")
    elsewhere = alert(segment=Segment("search-bot", "claude").key, metric="refusal_rate")
    groups, states = decide_round([crit, warn, elsewhere], {}, T0, POLICY)
    by_segment = {g.segment: g for g in groups}
    assert set(by_segment) == {SEGMENT, Segment("search-bot", "claude").key}
    assert [a.metric for a, _ in by_segment[SEGMENT].decisions] == ["prompt_embedding"]
    assert by_segment[SEGMENT].severity == "critical"
    assert states[warn.fingerprint].status == "firing"  # inhibited, not forgotten
    later, _ = decide_round([warn], states, T0 + 300 * MIN, POLICY)
    assert later == []  # the critical is still firing (from its state): still inhibited


def test_fingerprint_is_stable_and_distinct() -> None:
    assert fingerprint("d", "s", "m") == fingerprint("d", "s", "m")
    assert fingerprint("d", "s", "m") != fingerprint("d", "s", "m2")


def test_bad_policy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="repeat_every"):
        Policy(repeat_every=timedelta(0))
    with pytest.raises(ValueError, match="min_sample"):
        Policy(min_sample=0)


def test_a_new_alert_on_a_just_notified_segment_waits_for_the_group_interval() -> None:
    first, states = decide_round([alert()], {}, T0, POLICY)
    assert len(first) == 1
    late = alert(metric="language")
    held, states = decide_round([late], states, T0 + 2 * MIN, POLICY)
    assert held == [] and states[late.fingerprint].status == "firing"
    released, _ = decide_round([late], states, T0 + 6 * MIN, POLICY)
    assert [a.metric for g in released for a, _ in g.decisions] == ["language"]


def test_online_and_window_prompt_drift_are_one_alert() -> None:
    from llmwatch.detectors.findings import Finding, Window

    def finding(detector: str) -> Finding:
        return Finding(detector, SEGMENT, "prompt_embedding", "m", True, 1.0, 0.5, None, 0.2,
                       Window(None, None, 1000, 1000), "warning")

    assert Alert.of(finding("online_drift")).fingerprint == Alert.of(
        finding("embedding_drift")).fingerprint


def test_the_message_says_what_where_since_and_how_sure() -> None:
    from llmwatch.alerts.slack_message import render
    from llmwatch.detectors.findings import Finding, Window

    finding = Finding("embedding_drift", SEGMENT, "prompt_embedding", "centroid", True, 0.031,
                      0.004, 1e-20, 0.35, Window(T0, T0, 1000, 1000), "critical",
                      "new: prompts about 'refund, order' 4% → 19%",
                      {"q_value": 2e-19, "fdr_q": 0.05, "tests_in_round": 40})
    groups, _ = decide_round([Alert.of(finding)], {}, T0, POLICY)
    text, blocks = render(groups[0], {Alert.of(finding).fingerprint: ["my order 123 <x>"]})
    shown = str(blocks)
    assert "support-bot on gpt-4o, model version 2024-08, prompt v7" in shown
    assert "refund" in shown and "since 2026-11-28 03:00" in shown
    assert "statistic 0.031 vs threshold 0.004" in shown and "q=2.0e-19" in shown
    assert "false-discovery rate ≤ 5% over 40 tests" in shown and "my order 123" in shown
    assert "llmwatch tickets list" in shown and text.startswith("[critical]")
    fp = Alert.of(finding).fingerprint
    assert f"llmwatch alerts silence --like {fp} --for 2h" in shown  # names never pasted
    assert "<x>" not in shown and "&lt;x&gt;" in shown  # user text cannot ping or link


def test_acknowledged_alerts_do_not_remind_until_they_resolve() -> None:
    acked = replace(FIRING_NOTIFIED, acknowledged=True)
    assert decide(alert(), acked, T0 + 300 * MIN, POLICY).action == "none"
    resolved = decide(alert(firing=False), acked, T0 + 301 * MIN, POLICY)
    assert resolved.action == "resolve" and not resolved.state.acknowledged


def test_text_we_did_not_write_cannot_format_ping_or_forge_lines_in_slack() -> None:
    from llmwatch.alerts.slack_message import slack_escape

    hostile = ("<!channel> <@U123> hi\n:rotating_light: *CRITICAL* `x` ~y~ "
               "https://evil.example/x & co")
    shown = slack_escape(hostile)
    for live in ("<!channel>", "<@U123>", "\n", "*CRITICAL*", "`", "~y~", "https://"):
        assert live not in shown, live
    assert "&lt;!channel&gt;" in shown and "&amp; co" in shown and "CRITICAL" in shown


def test_an_alert_firing_in_several_windows_of_one_round_counts_each_window() -> None:
    """A worker catching up judges several windows of a segment in one round: the same alert
    firing in three of them is three windows in a row (what retraining tickets count), and
    on-call gets one notice, not three."""
    groups, states = decide_round([alert(), alert(), alert()], {}, T0, POLICY)
    assert states[alert().fingerprint].streak == 3
    assert [d.action for g in groups for _, d in g.decisions] == ["fire"]
    _, after_quiet = decide_round([alert(), alert(firing=False)], {}, T0, POLICY)
    assert after_quiet[alert().fingerprint].streak == 0


def test_the_evidence_says_when_a_window_read_a_sample_of_the_calls() -> None:
    from llmwatch.alerts.decision import evidence
    from llmwatch.detectors.findings import Finding, Window

    finding = Finding(detector="embedding_drift", segment=SEGMENT, metric="prompt_embedding",
                      method="centroid", fired=True, statistic=3.0, threshold=1.0,
                      p_value=1e-6, effect_size=0.05, window=Window(T0, T0 + MIN, 1000, 1000),
                      details={"sample": {"read": 1000, "calls": 48_210}})
    assert "a sample: 1,000 of the period's 48,210 calls" in evidence(finding)
    every = replace(finding, details={"sample": {"read": 1000, "calls": 1000}})
    assert "sample" not in evidence(every)
