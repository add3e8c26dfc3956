"""Threshold rules: "spend above $50 a day for an app", "more than 2,000 tokens a minute from
one user", "refusals above 10 % for a model version" — absolute limits over a rolling window,
decided by the same alert engine as drift (grouping, cooldown, silences, resolve).

Pure: a rule, and each group's value over the window (`Aggregate`, read from storage by
`llmwatch/storage/traffic.py:aggregates`), become findings; a group that fired before and
has no traffic in the window now gets a quiet finding, so its alert resolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .findings import Finding, Window
from .segments import ANY, Segment

By = Literal["app", "model", "version", "segment", "user"]
NUMBERS = ("calls", "cost_usd", "tokens", "error_rate", "latency_p95_ms")


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str  # calls | cost_usd | tokens | error_rate | latency_p95_ms | <check>_rate
    above: float
    window_s: float
    by: By = "app"
    severity: str = "warning"

    def __post_init__(self) -> None:
        if self.metric not in NUMBERS and not self.metric.endswith("_rate"):
            raise ValueError(f"rule {self.name!r}: metric is one of {', '.join(NUMBERS)} or a "
                             f"quality check's rate (refusal_rate, …), not {self.metric!r}")
        if self.window_s <= 0:
            raise ValueError(f"rule {self.name!r}: window_s must be positive")


@dataclass(frozen=True)
class Aggregate:
    """One group's traffic in the window: its segment key (app/model/version, the rest ANY)
    and, when grouped by user, the user hash; the rule's value; how many calls."""

    segment: str
    value: float
    calls: int
    user_hash: str | None = None


def group_segment(by: By, app: str, model: str, version: str | None,
                  prompt_version: str | None) -> str:
    """The segment a group's alert is about (its labels and grouping in the alert engine)."""
    if by == "app" or by == "user":
        return Segment(app, ANY, ANY, ANY).key
    if by == "model":
        return Segment(app, model, ANY, ANY).key
    if by == "version":
        return Segment(app, model, version, ANY).key
    return Segment(app, model, version, prompt_version).key


def metric_name(rule: Rule, user_hash: str | None) -> str:
    """The alert's metric: the rule, and the user for per-user rules (one alert per user)."""
    return f"{rule.name}" + (f" user:{user_hash}" if user_hash else "")


def findings(rule: Rule, groups: Sequence[Aggregate], now: datetime,
             firing: Iterable[tuple[str, str]] = ()) -> list[Finding]:
    """One finding per group over the window, fired when its value is above the rule's;
    `firing` — (segment, metric) of this rule's alerts firing now — get a quiet finding when
    their group had no traffic in the window."""
    start = now - timedelta(seconds=rule.window_s)
    out, seen = [], set()
    for g in groups:
        metric = metric_name(rule, g.user_hash)
        seen.add((g.segment, metric))
        fired = g.value > rule.above
        out.append(_finding(rule, g.segment, metric, g.value, g.calls, fired, start, now,
                            g.user_hash))
    for segment, metric in firing:
        if (segment, metric) not in seen and (metric == rule.name
                                               or metric.startswith(f"{rule.name} user:")):
            out.append(_finding(rule, segment, metric, 0.0, 0, False, start, now, None))
    return out


def _finding(rule: Rule, segment: str, metric: str, value: float, calls: int, fired: bool,
             start: datetime, end: datetime, user_hash: str | None) -> Finding:
    who = f" for user {user_hash}" if user_hash else ""
    words = _words(rule.metric, value)
    explanation = (f"{rule.name}: {words}{who} in the last {_span(rule.window_s)}, above the "
                   f"limit of {_words(rule.metric, rule.above)}" if fired else
                   f"{rule.name}: {words}{who} in the last {_span(rule.window_s)}, within the "
                   f"limit of {_words(rule.metric, rule.above)}")
    return Finding("threshold", segment, metric, "threshold", fired, float(value),
                   float(rule.above), None, None, Window(start, end, calls, 0),
                   rule.severity if fired else "info", explanation,
                   {"rule": rule.name, "rule_metric": rule.metric, "by": rule.by,
                    "window_s": rule.window_s, "user_hash": user_hash, "absolute": True})


def _words(metric: str, value: float) -> str:
    if metric == "cost_usd":
        return f"${value:,.2f}"
    if metric == "latency_p95_ms":
        return f"p95 latency {value:,.0f} ms"
    if metric.endswith("_rate"):
        return f"{metric.removesuffix('_rate').replace('_', ' ')} rate {100 * value:.1f} %"
    return f"{value:,.0f} {metric}"


def _span(seconds: float) -> str:
    if seconds % 86400 == 0:
        days = int(seconds // 86400)
        return "day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds:,.0f} s"
