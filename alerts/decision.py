"""Alert ≠ notification: whether a finding becomes a message, decided by a pure function.

A finding becomes an `Alert` with a fingerprint (detector, segment, metric): identical
fingerprints are the same alert. `decide(alert, state, now, policy, context)` returns what to
send (nothing, a firing notice, a repeat, a recovery notice) and the alert's next state. The
clock is passed in, so every rule is tested table by table without sleeping.

Rules, in order:
1. too few samples behind the finding → nothing, state unchanged;
2. silenced (a matching silence or maintenance window is active) → nothing, but the state
   follows the truth, so the alert resolves or fires normally once the silence ends;
3. a warning on a segment that has a critical alert firing is inhibited;
4. firing and new → notify; firing and already notified → repeat only after `repeat_every`
   and only if the previous notice is older than the `cooldown`;
5. not firing after firing → one recovery notice, then quiet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from llmwatch.detectors.findings import Finding

Action = Literal["none", "fire", "repeat", "resolve"]
Status = Literal["inactive", "firing", "resolved"]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    detector: str
    segment: str
    metric: str
    severity: str
    firing: bool
    sample_size: int
    summary: str
    evidence: str = ""  # how sure: statistic vs threshold, p/q, the calibrated false-alarm rate

    @classmethod
    def of(cls, finding: Finding) -> Alert:
        # the online detector and the window test watch the same thing: one alert
        family = "embedding_drift" if finding.detector == "online_drift" else finding.detector
        return cls(
            fingerprint=fingerprint(family, finding.segment, finding.metric),
            detector=finding.detector, segment=finding.segment, metric=finding.metric,
            severity=finding.severity, firing=finding.fired,
            # an absolute limit (a threshold rule) needs no sample: $80 spent is $80 spent
            sample_size=(2**31 if finding.details.get("absolute")
                         else finding.window.n_current),
            summary=finding.explanation or f"{finding.metric}: {finding.method}",
            evidence=evidence(finding),
        )


def evidence(f: Finding) -> str:
    """One line saying how sure the finding is, in the finding's own terms."""
    parts = [f"{f.method} statistic {f.statistic:.4g} vs threshold {f.threshold:.4g}"]
    if f.effect_size is not None:
        parts.append(f"effect {f.effect_size:.3g}")
    if f.p_value is not None:
        q = f.details.get("q_value")
        fdr = f.details.get("fdr_q")
        parts.append(f"p={f.p_value:.1e}" + (f", q={q:.1e} (false-discovery rate ≤ {fdr:.0%} "
                                              f"over {f.details.get('tests_in_round')} tests)"
                                              if q is not None and fdr else ""))
    every = f.details.get("false_alarm_every_s")
    if every:
        parts.append(f"calibrated to one false alarm per {every / 86400:.1f} days")
    sample = f.details.get("sample")
    read = (f" (a sample: {sample['read']:,} of the period's {sample['calls']:,} calls)"
            if isinstance(sample, dict) and sample.get("calls", 0) > sample.get("read", 0)
            else "")
    parts.append(f"window of {f.window.n_current} calls vs {f.window.n_reference} in the "
                 f"reference{read}")
    return "; ".join(parts)


def fingerprint(detector: str, segment: str, metric: str) -> str:
    return hashlib.sha256(f"{detector}\x1f{segment}\x1f{metric}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class AlertState:
    status: Status = "inactive"
    since: datetime | None = None  # when it started firing
    last_notified: datetime | None = None
    notifications: int = 0
    segment: str = ""
    severity: str = "info"
    streak: int = 0  # consecutive rounds (windows) in which it was firing
    acknowledged: bool = False  # someone is on it: no reminders until it resolves
    detector: str = ""  # what the alert is about, for people listing alerts
    metric: str = ""


@dataclass(frozen=True)
class Silence:
    """Mutes alerts whose fields match every given matcher, between start and end."""

    start: datetime
    end: datetime
    segment: str | None = None  # exact match, or a prefix ending in '*'
    detector: str | None = None
    metric: str | None = None
    reason: str = ""

    def matches(self, alert: Alert, now: datetime) -> bool:
        if not self.start <= now < self.end:
            return False
        return all(_match(pattern, value) for pattern, value in (
            (self.segment, alert.segment), (self.detector, alert.detector),
            (self.metric, alert.metric)))


def _match(pattern: str | None, value: str) -> bool:
    if pattern is None:
        return True
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


@dataclass(frozen=True)
class Policy:
    cooldown: timedelta = timedelta(minutes=30)  # no two notices of one alert closer than this
    repeat_every: timedelta = timedelta(hours=4)  # remind while it keeps firing
    min_sample: int = 100  # findings on fewer events never notify
    group_interval: timedelta = timedelta(minutes=5)  # new alerts of a notified segment wait
    silences: tuple[Silence, ...] = ()

    def __post_init__(self) -> None:
        if self.cooldown < timedelta(0) or self.repeat_every <= timedelta(0):
            raise ValueError("cooldown must be ≥ 0 and repeat_every > 0")
        if self.min_sample < 1:
            raise ValueError("min_sample must be at least 1")


@dataclass(frozen=True)
class Context:
    """What decide needs to know about other alerts: critical ones firing, by segment."""

    critical_segments: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    state: AlertState


def decide(alert: Alert, state: AlertState, now: datetime, policy: Policy,
           context: Context = Context()) -> Decision:
    if alert.firing and alert.sample_size < policy.min_sample:  # state untouched, streak too
        return Decision("none", f"only {alert.sample_size} events (< {policy.min_sample})", state)
    truth = _follow(alert, state, now)
    silence = next((s for s in policy.silences if s.matches(alert, now)), None)
    if silence is not None:
        return Decision("none", f"silenced until {silence.end:%Y-%m-%d %H:%M} "
                                f"({silence.reason or 'maintenance'})", truth)
    if alert.firing:
        if alert.severity != "critical" and alert.segment in context.critical_segments:
            return Decision("none", "inhibited by a critical alert on the segment", truth)
        if state.status != "firing" or state.last_notified is None:
            return Decision("fire", "new", _notified(truth, now))
        since_last = now - state.last_notified
        if since_last < policy.cooldown:
            return Decision("none", "in cooldown", truth)
        if state.acknowledged:
            return Decision("none", "acknowledged", truth)
        if since_last >= policy.repeat_every:
            return Decision("repeat", f"still firing since {state.since:%Y-%m-%d %H:%M}",
                            _notified(truth, now))
        return Decision("none", "already notified", truth)
    if state.status == "firing":
        if state.last_notified is None:  # it fired and resolved unseen (silenced): stay quiet
            return Decision("none", "resolved while silenced", truth)
        return Decision("resolve", "no longer firing", truth)
    return Decision("none", "not firing", truth)


def _follow(alert: Alert, state: AlertState, now: datetime) -> AlertState:
    """The state the alert is in, notices aside."""
    if alert.firing:
        if state.status == "firing":
            return replace(state, severity=alert.severity, streak=state.streak + 1)
        return AlertState("firing", since=now, last_notified=None, notifications=0,
                          segment=alert.segment, severity=alert.severity, streak=1)
    if state.status == "firing":
        return replace(state, status="resolved", streak=0, acknowledged=False)
    return replace(state, streak=0)


def _notified(state: AlertState, now: datetime) -> AlertState:
    return replace(state, last_notified=now, notifications=state.notifications + 1)


@dataclass(frozen=True)
class Group:
    """Notices that go out in one message: same segment, same round."""

    segment: str
    decisions: list[tuple[Alert, Decision]] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return max((a.severity for a, _ in self.decisions), key=lambda s: SEVERITY_RANK.get(s, 0))


def decide_round(alerts: Iterable[Alert], states: Mapping[str, AlertState], now: datetime,
                 policy: Policy) -> tuple[list[Group], dict[str, AlertState]]:
    """Decide a round of alerts together: inhibition sees the criticals firing now (in this
    round or still firing from earlier), and the notices are grouped by segment into one
    message each."""
    alerts = list(alerts)
    in_round = {a.fingerprint for a in alerts}
    criticals = frozenset(
        [a.segment for a in alerts
         if a.firing and a.severity == "critical" and a.sample_size >= policy.min_sample]
        + [s.segment for fp, s in states.items()
           if fp not in in_round and s.status == "firing" and s.severity == "critical"])
    context = Context(critical_segments=criticals)
    last_notice: dict[str, datetime] = {}
    for s in states.values():
        if s.last_notified is not None and s.segment:
            previous = last_notice.get(s.segment, s.last_notified)
            last_notice[s.segment] = max(s.last_notified, previous)
    groups: dict[str, Group] = {}
    new_states: dict[str, AlertState] = {}
    for alert in alerts:
        # one alert can be judged in several windows of a round (a worker catching up on a
        # backlog): each window follows the state the previous one left — three windows
        # firing are three in a row (retraining tickets count them), and one notice
        state = new_states.get(alert.fingerprint) or states.get(alert.fingerprint, AlertState())
        decision = decide(alert, state, now, policy, context)
        held = last_notice.get(alert.segment)
        if (decision.action == "fire" and held is not None
                and now - held < policy.group_interval
                and alert.segment not in groups):  # the segment's message went out just now
            wait = f"grouped: waits until {held + policy.group_interval:%H:%M}"
            decision = Decision("none", wait, _follow(alert, state, now))
        new_states[alert.fingerprint] = replace(decision.state, segment=alert.segment,
                                                detector=alert.detector, metric=alert.metric)
        if decision.action != "none":
            groups.setdefault(alert.segment, Group(alert.segment)).decisions.append(
                (alert, decision))
    return list(groups.values()), new_states
