"""Does the candidate fix it? The verdict of a replay, paired on the same prompts.

Pure: each replayed prompt carries the serving model's answer and the candidate's, both
scored by the same checks (`PairedCall`); `verdict` compares them. Per answer check: both
rates with Wilson intervals and McNemar's exact test on the discordant pairs (the calls one
model failed and the other passed). For a ticket's finding: "fixes k of n failing examples,
regresses j of m others". For a drift ticket: how many of the new topic's answers are on
topic (relevance) and how far they are from the serving answers. Length, latency p50/p95,
cost per call and per 1,000 calls, and the candidate's errors.

The overall decision is one of:
- `regression`: an answer check got worse with p < alpha — over all the prompts, or over the
  prompts other than a finding's examples (a fix there must not hide a break elsewhere) —
  or the candidate failed more calls (errors, timeouts) with p < alpha;
- `fixed`: no regression, and most of the finding's failing examples pass now (the check's
  McNemar p says how sure), or for a drift finding its answers are on topic;
- `not_fixed`: no regression, and the finding was not fixed;
- `no_worse`: no regression and no finding to fix (a cheaper model weighed, a prompt change).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scipy.stats import binomtest

# the checks of an answer (prompt-only checks read the same prompt twice; latency and cost
# are compared as numbers, not as flags)
ANSWER_CHECKS = ("refusal", "pii_response", "toxicity", "harmful_answer", "relevance",
                 "empty", "truncated", "repetition", "invalid_json", "language_mismatch")
DRIFT_DETECTORS = ("embedding_drift", "online_drift", "version_change")
Role = Literal["finding", "other"]
Decision = Literal["regression", "fixed", "not_fixed", "no_worse"]


@dataclass(frozen=True)
class Finding:
    """What a ticket found: its detector and metric ("refusal_rate", "prompt_embedding")."""

    detector: str
    metric: str
    ticket_id: int | None = None

    @property
    def drift(self) -> bool:
        return self.detector in DRIFT_DETECTORS

    @property
    def check(self) -> str | None:
        """The quality check a rate finding is about ("refusal"), None for drift."""
        if self.drift or not self.metric.endswith("_rate"):
            return None
        return self.metric.removesuffix("_rate")


@dataclass(frozen=True)
class Side:
    """One model's answer to a prompt, as the checks saw it."""

    flags: Mapping[str, bool]
    chars: int
    latency_ms: float | None = None
    cost_usd: float | None = None
    error: bool = False
    relatedness: float | None = None  # cosine of the prompt's and the answer's vectors


@dataclass(frozen=True)
class PairedCall:
    source_id: str
    role: Role
    cluster: str
    serving: Side
    candidate: Side
    similarity: float | None = None  # cosine of the two answers' vectors
    preferred: str | None = None  # the pairwise judge's: serving | candidate | tie


@dataclass(frozen=True)
class Rate:
    failed: int
    n: int

    @property
    def value(self) -> float | None:
        return self.failed / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.failed, self.n) if self.n else None

    def as_dict(self) -> dict[str, Any]:
        ci = self.interval
        return {"failed": self.failed, "n": self.n, "rate": self.value,
                "ci": None if ci is None else [round(ci[0], 4), round(ci[1], 4)]}


@dataclass(frozen=True)
class Paired:
    """One check over the same calls: serving and candidate rates, the discordant pairs and
    McNemar's exact p."""

    check: str
    serving: Rate
    candidate: Rate
    fixed: int  # serving failed, candidate passed
    broke: int  # serving passed, candidate failed
    p_value: float

    def worse(self, alpha: float) -> bool:
        return self.broke > self.fixed and self.p_value < alpha

    def better(self, alpha: float) -> bool:
        return self.fixed > self.broke and self.p_value < alpha

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "serving": self.serving.as_dict(),
                "candidate": self.candidate.as_dict(), "fixed": self.fixed,
                "regressed": self.broke, "p_value": round(self.p_value, 6)}


@dataclass
class Verdict:
    decision: Decision
    headline: str
    calls: int
    checks: list[Paired]
    finding: dict[str, Any] | None
    errors: Paired
    numbers: dict[str, Any]
    alpha: float
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "headline": self.headline, "calls": self.calls,
                "alpha": self.alpha, "reasons": self.reasons, "finding": self.finding,
                "checks": [c.as_dict() for c in self.checks],
                "errors": self.errors.as_dict(), "numbers": self.numbers}


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson's 95 % interval of k successes in n.

    >>> [round(x, 3) for x in wilson(0, 20)]
    [0.0, 0.161]
    """
    if n == 0:
        raise ValueError("no trials")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(fixed: int, broke: int) -> float:
    """McNemar's exact two-sided p of the discordant pairs (1.0 when there are none).

    >>> round(mcnemar(9, 1), 4)
    0.0215
    """
    n = fixed + broke
    return 1.0 if n == 0 else float(binomtest(fixed, n, 0.5).pvalue)


def paired(check: str, calls: Sequence[PairedCall]) -> Paired:
    """The check over the calls both sides answered (a call the candidate failed to get an
    answer for counts in `errors`, not here)."""
    both = [c for c in calls if not c.candidate.error and not c.serving.error]
    s = [bool(c.serving.flags.get(check)) for c in both]
    k = [bool(c.candidate.flags.get(check)) for c in both]
    fixed = sum(1 for a, b in zip(s, k, strict=True) if a and not b)
    broke = sum(1 for a, b in zip(s, k, strict=True) if b and not a)
    return Paired(check, Rate(sum(s), len(both)), Rate(sum(k), len(both)), fixed, broke,
                  mcnemar(fixed, broke))


def _errors(calls: Sequence[PairedCall]) -> Paired:
    s = [c.serving.error for c in calls]
    k = [c.candidate.error for c in calls]
    fixed = sum(1 for a, b in zip(s, k, strict=True) if a and not b)
    broke = sum(1 for a, b in zip(s, k, strict=True) if b and not a)
    return Paired("error", Rate(sum(s), len(calls)), Rate(sum(k), len(calls)), fixed, broke,
                  mcnemar(fixed, broke))


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by linear interpolation, None for no values.

    >>> quantile([10, 20, 30, 40], 0.5)
    25.0
    """
    xs = sorted(values)
    if not xs:
        return None
    at = q * (len(xs) - 1)
    lo, hi = math.floor(at), math.ceil(at)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (at - lo))


def _numbers(calls: Sequence[PairedCall]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("serving", "candidate"):
        sides: list[Side] = [getattr(c, name) for c in calls]
        answered = [s for s in sides if not s.error]
        latency = [s.latency_ms for s in answered if s.latency_ms is not None]
        costs = [s.cost_usd for s in answered if s.cost_usd is not None]
        per_call = sum(costs) / len(costs) if costs else None
        out[name] = {
            "answers": len(answered),
            "chars_mean": (sum(s.chars for s in answered) / len(answered)) if answered else None,
            "latency_ms_p50": quantile(latency, 0.5), "latency_ms_p95": quantile(latency, 0.95),
            "cost_usd_total": round(sum(costs), 8) if costs else None,
            "cost_usd_per_call": per_call,
            "cost_usd_per_1000": None if per_call is None else per_call * 1000,
            "priced_calls": len(costs),
        }
    return out


def _changes(calls: Sequence[PairedCall], checks: Sequence[str]) -> tuple[int, int]:
    """Calls where the candidate failed a check the serving answer passed (regressions), and
    calls where it passed every check the serving answer failed (fixes), over `checks`."""
    broke = fixed = 0
    for c in calls:
        if c.candidate.error:
            broke += 1
            continue
        s = {k for k in checks if c.serving.flags.get(k)}
        k = {k for k in checks if c.candidate.flags.get(k)}
        if k - s:
            broke += 1
        elif s and not k:
            fixed += 1
    return fixed, broke


def verdict(calls: Sequence[PairedCall], finding: Finding | None = None, *,
            alpha: float = 0.05, on_topic_bar: float = 0.8) -> Verdict:
    """Compare the candidate with the serving model on the same prompts."""
    if not calls:
        raise ValueError("no replayed calls to judge")
    checks = [paired(c, calls) for c in ANSWER_CHECKS
              if any(c in p.serving.flags or c in p.candidate.flags for p in calls)]
    errors = _errors(calls)
    reasons: list[str] = []
    for c in checks:
        if c.worse(alpha):
            reasons.append(f"{c.check} got worse: {_pct(c.serving.value)} → "
                           f"{_pct(c.candidate.value)} (McNemar p = {c.p_value:.2g}; "
                           f"{c.broke} answers newly flagged, {c.fixed} cleared)")
    rest = [c for c in calls if c.role == "other"]
    if finding is not None and rest:
        # a fix on the finding's examples must not hide what broke on the rest of the traffic
        for name in ANSWER_CHECKS:
            c = paired(name, rest)
            if c.worse(alpha) and not any(r.startswith(f"{name} got worse") for r in reasons):
                reasons.append(f"on the other prompts {name} got worse: "
                               f"{_pct(c.serving.value)} → {_pct(c.candidate.value)} (McNemar "
                               f"p = {c.p_value:.2g}; {c.broke} answers newly flagged)")
    if errors.worse(alpha):
        reasons.append(f"the candidate failed {errors.candidate.failed} of {len(calls)} calls "
                       f"(errors or timeouts; p = {errors.p_value:.2g})")
    regressed = bool(reasons)
    found = _finding_part(calls, finding, alpha, on_topic_bar) if finding else None
    numbers = _numbers(calls)
    preferences = [c.preferred for c in calls if c.preferred]
    if preferences:
        numbers["pairwise"] = tally(preferences)
    if regressed:
        decision: Decision = "regression"
    elif found is None:
        decision = "no_worse"
    else:
        decision = "fixed" if found["fixed"] else "not_fixed"
    headline = _headline(decision, found, reasons, len(calls))
    if "pairwise" in numbers:
        t = numbers["pairwise"]
        headline += (f"; the pairwise judge preferred the candidate in {t['candidate']} of "
                     f"{t['judged']}, the serving answer in {t['serving']} (sign test p = "
                     f"{t['p_value']:.2g})")
    return Verdict(decision, headline, len(calls), checks, found, errors, numbers, alpha,
                   reasons)


def _finding_part(calls: Sequence[PairedCall], finding: Finding, alpha: float,
                  on_topic_bar: float) -> dict[str, Any]:
    failing = [c for c in calls if c.role == "finding"]
    others = [c for c in calls if c.role == "other"]
    out: dict[str, Any] = {"detector": finding.detector, "metric": finding.metric,
                           "ticket_id": finding.ticket_id, "examples": len(failing),
                           "others": len(others)}
    # regressions among the rest of the traffic: any answer check newly failed
    _, broke_others = _changes(others, ANSWER_CHECKS)
    out["regressed_others"] = broke_others
    if finding.drift:
        return {**out, **_on_topic(failing, others, on_topic_bar, alpha)}
    assert finding.check is not None
    on_failing = [c for c in failing if c.serving.flags.get(finding.check)]
    fixes = sum(1 for c in on_failing if not c.candidate.error
                and not c.candidate.flags.get(finding.check))
    check = paired(finding.check, failing + others)
    out.update({"kind": "rate", "check": finding.check, "failing": len(on_failing),
                "fixes": fixes, "paired": check.as_dict()})
    # fixed: most failing examples pass now, and over all the prompts the check is not worse
    # (`paired.p_value` says how sure; with under 6 failing examples no fix reaches p < 0.05)
    out["fixed"] = bool(on_failing) and fixes * 2 > len(on_failing) and not check.worse(alpha)
    return out


def _headline(decision: Decision, found: dict[str, Any] | None, reasons: list[str],
              n: int) -> str:
    parts = []
    if found is not None:
        if found["kind"] == "drift":
            parts.append(f"on topic in {found['on_topic']} of {found['answered']} answers "
                         "to the new topic's prompts")
        else:
            parts.append(f"fixes {found['fixes']} of {found['failing']} failing examples "
                         f"({found['check']})")
        parts.append(f"regresses {found['regressed_others']} of {found['others']} others")
    words = {"regression": "REGRESSION", "fixed": "fixes the finding",
             "not_fixed": "does not fix the finding", "no_worse": "no worse"}[decision]
    text = f"{words} on {n} replayed calls"
    if parts:
        text += ": " + ", ".join(parts)
    if reasons:
        text += "; " + "; ".join(reasons)
    return text


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


MIN_FOR_BAR = 20


def relatedness_bar(failing: Sequence[PairedCall], others: Sequence[PairedCall]
                    ) -> float | None:
    """How related to its prompt an answer must be to count as on topic: the 10th
    percentile of the serving answers' prompt–answer cosine over the rest of the traffic
    (what the segment's normal answers look like), else over every serving answer."""
    for pool in (others, [*failing, *others]):
        values = [c.serving.relatedness for c in pool
                  if not c.serving.error and c.serving.relatedness is not None]
        if len(values) >= MIN_FOR_BAR:
            return quantile(values, 0.1)
    return None


def _on_topic(failing: Sequence[PairedCall], others: Sequence[PairedCall],
              on_topic_bar: float, alpha: float) -> dict[str, Any]:
    """A drift finding's new-topic prompts: is each answer on topic — not flagged irrelevant
    or a refusal, and as related to its prompt as the segment's normal answers are?"""
    bar = relatedness_bar(failing, others)

    def on(side: Side) -> bool:
        return (not side.error and not side.flags.get("relevance")
                and not side.flags.get("refusal")
                and (bar is None or side.relatedness is None or side.relatedness >= bar))

    answered = [c for c in failing if not c.candidate.error]
    on_topic = sum(1 for c in answered if on(c.candidate))
    off = paired("relevance", answered)
    sims = [c.similarity for c in answered if c.similarity is not None]
    rate = on_topic / len(answered) if answered else 0.0
    return {
        "kind": "drift", "on_topic": on_topic, "answered": len(answered), "fixes": on_topic,
        "relatedness_bar": bar,
        "on_topic_rate": Rate(on_topic, len(answered)).as_dict(),
        "serving_on_topic_rate": Rate(sum(1 for c in answered if on(c.serving)),
                                      len(answered)).as_dict(),
        "relatedness_median": {
            "serving": quantile([c.serving.relatedness for c in answered
                                 if c.serving.relatedness is not None], 0.5),
            "candidate": quantile([c.candidate.relatedness for c in answered
                                   if c.candidate.relatedness is not None], 0.5)},
        "relevance": off.as_dict(), "refusal": paired("refusal", answered).as_dict(),
        "similarity_to_serving_median": quantile(sims, 0.5),
        "fixed": bool(answered) and rate >= on_topic_bar and not off.worse(alpha),
    }


def tally(winners: Sequence[str]) -> dict[str, Any]:
    """Wins of each side, ties, and the sign test's two-sided p (ties left out).

    >>> tally(["candidate"] * 9 + ["serving"] + ["tie"] * 3)["p_value"] < 0.05
    True
    """
    wins = sum(1 for w in winners if w == "candidate")
    losses = sum(1 for w in winners if w == "serving")
    ties = sum(1 for w in winners if w == "tie")
    decided = wins + losses
    p = 1.0 if decided == 0 else float(binomtest(wins, decided, 0.5).pvalue)
    return {"candidate": wins, "serving": losses, "tie": ties, "judged": len(winners),
            "p_value": round(p, 6)}
