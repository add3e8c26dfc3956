"""The second-opinion tier's plain logic: which calls to re-judge, within what budget, by
whom, and which verdict counts.

The cheap checks of `quality.py` judge every call in the worker's budget. A bounded stream
of calls gets a second opinion (`streams/review_stage.py`): those a cheap check is unsure of,
those carrying documents or tool output (where planted instructions hide), and a uniform
sample (whose rates estimate every call's, with an interval). Evaluators sit behind one small
interface (`Evaluator`); a tier ranks them, and the best verdict available decides.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# What a second opinion may judge; the names are the cheap checks' (`quality_scores.name`).
CHECKS = ("injection", "refusal", "harmful_answer", "relevance", "toxicity")
# Which verdict decides, best last: the cheap checks ("rules"), the shipped reader, a
# classifier a team supplies, an LLM judge.
TIERS = ("rules", "reader", "classifier", "judge")
TIER_RANK = {t: k for k, t in enumerate(TIERS)}
# Tiers whose verdict can add a flag but never clear the cheap check's: the shipped reader
# catches other planted instructions than the cheap check, not more (bench/
# second_opinion_eval.py: 22 % against 26 % of inspect-evals' planted documents alone, 35 %
# together), so it is a second pair of eyes, not an authority.
ADDS_ONLY = frozenset({"reader"})


class EvaluatorUnavailable(Exception):
    """The evaluator cannot answer now (endpoint down, timeout, rate-limited): try the call
    again later; nothing is decided."""


class EvaluatorError(Exception):
    """The evaluator answered with something unusable for this call (not JSON, no verdict):
    retried a few times, then the call is recorded as failed with this reason."""


@dataclass(frozen=True)
class Call:
    """What an evaluator reads of one LLM call."""

    event_id: str
    prompt: str  # the user's turns (a chat's user messages joined)
    response: str | None
    documents: tuple[str, ...] = ()  # tool output and retrieved documents in the chat
    system: str | None = None
    # the cheap checks' verdicts: check → (score, flagged)
    cheap: Mapping[str, tuple[float, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    event_id: str
    check: str
    tier: str
    evaluator: str
    flagged: bool
    score: float  # the evaluator's confidence that the check applies, 0..1
    reason: str = ""


@dataclass(frozen=True)
class Judgement:
    verdicts: tuple[Verdict, ...]
    cost_usd: float = 0.0


class Evaluator(Protocol):
    """Re-judges one call on the checks it knows; raises `EvaluatorUnavailable` when it
    cannot answer now and `EvaluatorError` when its answer for this call is unusable."""

    @property
    def name(self) -> str: ...

    @property
    def tier(self) -> str: ...

    @property
    def checks(self) -> frozenset[str]: ...

    def judge(self, call: Call) -> Judgement: ...


@dataclass(frozen=True)
class Selection:
    """Which calls get a second opinion. A cheap score in [unsure_low, unsure_high) is
    unsure (the cheap checks flag at 0.5); `sample_rate` of calls are taken uniformly, by a
    hash of the event id (the same calls whichever worker or replay sees them). A cheap flag
    on one of the `flagged` checks is re-judged whatever its score: those are the checks an
    evaluator of the tier can clear (`for_evaluators`), and a false flag is what pages
    on-call — a harm check that read "strangle options" as violence, a refusal read into
    "As an AI I have no opinions. However, …"."""

    unsure_low: float = 0.3
    unsure_high: float = 0.7
    documents: bool = True
    sample_rate: float = 0.01
    checks: tuple[str, ...] = CHECKS
    flagged: tuple[str, ...] = ()


def clearable(evaluators: Iterable[Evaluator]) -> tuple[str, ...]:
    """The checks on which some evaluator's verdict can clear a cheap flag (not the
    `ADDS_ONLY` tiers')."""
    return tuple(c for c in CHECKS
                 if any(c in e.checks and e.tier not in ADDS_ONLY for e in evaluators))


# Reasons, in the order admission prefers them when the budget is short.
PRIORITY = ("flagged", "documents", "unsure", "sample")


def reasons(call: Call, policy: Selection) -> tuple[str, ...]:
    """Why this call deserves a second opinion (empty: it does not)."""
    out = []
    if any(flagged for check, (_score, flagged) in call.cheap.items()
           if check in policy.flagged):
        out.append("flagged")
    if policy.documents and call.documents:
        out.append("documents")
    if any(policy.unsure_low <= score < policy.unsure_high
           for check, (score, _flagged) in call.cheap.items() if check in policy.checks):
        out.append("unsure")
    if in_sample(call.event_id, policy.sample_rate):
        out.append("sample")
    return tuple(out)


def in_sample(event_id: str, rate: float) -> bool:
    """Whether a call is in the uniform sample: a fixed share of ids, chosen by their hash."""
    if rate <= 0:
        return False
    digest = hashlib.blake2b(event_id.encode(), digest_size=8, person=b"llmw-2nd").digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


class RateBudget:
    """A token bucket: `per_s` admissions a second on average, bursts up to `burst`; the
    clock is passed in."""

    def __init__(self, per_s: float, burst: float) -> None:
        if per_s <= 0 or burst < 1:
            raise ValueError("a rate budget needs per_s > 0 and burst >= 1")
        self.per_s, self.burst = per_s, burst
        self.tokens = burst
        self.at: float | None = None

    def take(self, now: float) -> bool:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def admit(candidates: Sequence[tuple[Call, tuple[str, ...]]], budget: RateBudget, now: float,
          room: int) -> tuple[list[tuple[Call, tuple[str, ...]]], int]:
    """The candidates the budget admits, flagged first, then documents, unsure, sampled, and
    how many it turned away. `room`: how many more the queue may hold."""
    rank = {r: k for k, r in enumerate(PRIORITY)}
    ordered = sorted(candidates, key=lambda c: min(rank[r] for r in c[1]))
    taken = []
    for call, why in ordered:
        if len(taken) >= room or not budget.take(now):
            break
        taken.append((call, why))
    return taken, len(candidates) - len(taken)


def best(verdicts: Iterable[Verdict]) -> dict[tuple[str, str], Verdict]:
    """(event id, check) → the verdict of the highest tier (the latest of equals)."""
    out: dict[tuple[str, str], Verdict] = {}
    for v in verdicts:
        key = (v.event_id, v.check)
        if key not in out or TIER_RANK[v.tier] >= TIER_RANK[out[key].tier]:
            out[key] = v
    return out


def decided(cheap: bool | None, verdict: Verdict) -> bool:
    """A call's flag on a check, given the cheap check's and the best second opinion."""
    if verdict.tier in ADDS_ONLY:
        return bool(cheap) or verdict.flagged
    return verdict.flagged


def overlay(flags: dict[str, dict[str, bool]], verdicts: Iterable[Verdict]
            ) -> dict[str, dict[str, str]]:
    """Apply the best second opinion to each call's cheap flags (in place); returns, per
    call and check, the tier that changed a flag (`storage.drift_repo` reads the verdicts,
    the drift, ticket and report stages pass this in)."""
    changed: dict[str, dict[str, str]] = {}
    for (event_id, check), verdict in best(verdicts).items():
        own = flags.setdefault(event_id, {})
        flag = decided(own.get(check), verdict)
        if flag != own.get(check):
            changed.setdefault(event_id, {})[check] = verdict.tier
        own[check] = flag
    return changed


def sample_rates(verdicts: Iterable[tuple[Verdict, Sequence[str]]]) -> dict[str, dict[str, object]]:
    """Each check's flag rate on the uniform sample (verdicts of calls chosen for "sample"),
    by the best verdict of each call, with its 95 % interval and the tiers that decided."""
    sampled = best(v for v, why in verdicts if "sample" in why)
    counts: dict[str, list[int]] = {}
    tiers: dict[str, set[str]] = {}
    for (_, check), v in sampled.items():
        c = counts.setdefault(check, [0, 0])
        c[0] += int(v.flagged)
        c[1] += 1
        tiers.setdefault(check, set()).add(v.tier)
    return {check: {"flagged": k, "sampled": n,
                    "interval": [round(x, 4) for x in wilson(k, n)],
                    "decided_by": sorted(tiers[check])}
            for check, (k, n) in sorted(counts.items())}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a rate k/n (a sample's rate is an estimate)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def day_of(when: datetime) -> str:
    """The UTC day a $/day budget counts in."""
    return when.strftime("%Y-%m-%d")
