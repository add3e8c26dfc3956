"""Self-checks: llmwatch judging its own health, as findings that go the same alert path
(dedupe, grouping, silences, resolve) as drift. Pure functions of observations and a clock.

Each check returns one finding, fired or not, so an alert that fired resolves when its
condition clears. The segment of the group-wide checks is `SERVICE` (app "llmwatch").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from scipy import stats

from llmwatch.detectors.findings import Finding, Window
from llmwatch.detectors.segments import Segment

SERVICE = Segment("llmwatch", "worker group", None, None).key
DETECTOR = "watchdog"
# findings of the watchdog are about the whole group, not a sample: never below min_sample
_ALWAYS = 1_000_000


def _finding(segment: str, metric: str, method: str, fired: bool, statistic: float,
             threshold: float, now: datetime, severity: str, explanation: str,
             n: int = _ALWAYS, **details: object) -> Finding:
    return Finding(DETECTOR, segment, metric, method, fired, float(statistic),
                   float(threshold), None, None, Window(now, now, 0, n),
                   severity if fired else "info", explanation, dict(details))  # type: ignore[arg-type]


def falling_behind(history: Sequence[tuple[datetime, int]], now: datetime, *, max_lag: int,
                   growing_s: float, stage: str = "ingest") -> Finding:
    """The group is behind when its lag is above `max_lag`, or has only grown for
    `growing_s` (every reading at least the one before, the last above the first).
    `stage`: "ingest" (the events topic) or "drift" (the enriched topic: drift, and the
    drift space's sampled embedding, are late; their verdicts are not wrong)."""
    lag = history[-1][1] if history else 0
    span = [(t, n) for t, n in history if t >= now - timedelta(seconds=growing_s)]
    covered = bool(history) and history[0][0] <= now - timedelta(seconds=growing_s)
    growing = (covered and len(span) >= 3 and span[-1][1] > span[0][1] > 0
               and all(b[1] >= a[1] for a, b in zip(span, span[1:], strict=False)))
    fired = lag > max_lag or growing
    who = ("the workers are" if stage == "ingest" else
           "drift (and its sampled embedding) is late: findings wait; the drift stage is")
    why = (f"{who} {lag:,} records behind" + (
        f" and the lag grew for {growing_s / 60:.0f} min" if growing else "")
        if fired else f"caught up ({lag:,} records behind)")
    metric = "consumer_lag" if stage == "ingest" else "drift_lag"
    return _finding(SERVICE, metric, "lag", fired, lag, max_lag, now,
                    "critical" if lag > max_lag and growing else "warning", why, lag=lag)


def traffic(segment: str, *, usual_per_s: float | None, since_last_s: float | None,
            recent: int, window_s: float, stop_s: float, now: datetime) -> list[Finding]:
    """A segment's traffic stopped (no call for `stop_s` where its usual rate promised
    20+: critical), or collapsed (far below its usual rate over `window_s`, the time it has
    been seen if shorter: warning). Two alerts, the second quiet while the first fires."""
    known = bool(usual_per_s and usual_per_s > 0 and since_last_s is not None)
    rate = usual_per_s or 0.0
    stopped = known and rate * stop_s >= 20 and (since_last_s or 0) >= stop_s
    expected = rate * window_s
    p = float(stats.poisson.cdf(recent, expected)) if expected > 0 else 1.0
    collapsed = known and not stopped and expected >= 50 and recent < expected / 10 and p < 1e-3
    per_min = rate * 60
    return [
        _finding(segment, "traffic_stopped", "silence", stopped, since_last_s or 0, stop_s,
                 now, "critical",
                 f"traffic stopped: no call for {(since_last_s or 0) / 60:.0f} min (usually "
                 f"{per_min:,.1f} a minute)" if stopped else "traffic flows"),
        _finding(segment, "traffic_rate", "poisson", collapsed, recent, expected / 10, now,
                 "warning",
                 f"traffic fell to {recent:,} calls in {window_s / 60:.0f} min (usually "
                 f"{expected:,.0f})" if collapsed else "traffic as usual",
                 expected=round(expected, 1), p=p),
    ]


def dead_letters(letters: int, consumed: int, now: datetime, *, max_rate: float) -> Finding:
    """More than `max_rate` of the messages since the last check were dead-lettered."""
    rate = letters / consumed if consumed else 0.0
    fired = consumed >= 100 and rate > max_rate
    why = (f"{rate:.0%} of messages dead-lettered ({letters:,} of {consumed:,}): a producer "
           "sends what the contract refuses" if fired else f"dead letters {rate:.1%}")
    return _finding(SERVICE, "dead_letter_rate", "share", fired, rate, max_rate, now,
                    "warning", why, letters=letters, consumed=consumed)


def delivery(oldest_pending_s: float, pending: int, now: datetime, *,
             failing_s: float) -> Finding:
    """Alert notices waited longer than `failing_s`: Slack, the webhook or PagerDuty is
    failing (other sinks still carry this alert)."""
    fired = pending > 0 and oldest_pending_s > failing_s
    why = (f"{pending} alert notices waiting, the oldest for {oldest_pending_s / 60:.0f} min: "
           "delivery is failing" if fired else "alert delivery works")
    return _finding(SERVICE, "alert_delivery", "age", fired, oldest_pending_s, failing_s, now,
                    "critical", why, pending=pending)

