"""The second-opinion stage: admit calls from the enriched stream into the review queue,
then drain the queue through the evaluators, within the budgets.

Admission (`admit`) picks the calls worth a second opinion (`second_opinion.reasons`) and
lets `review.max_per_s` of them a second into the queue (documents first), while it holds
fewer than `review.max_pending`; the rest are counted and left. Draining (`drain`) runs
each queued call through every evaluator that has not answered yet, cheapest tier first;
a judge request also needs the `judge_max_per_s` budget and the day's dollars. An evaluator
that cannot answer now leaves the call queued with back-off; the verdicts already given
stay. Plain Python over the database: `streams/review_app.py` feeds it from Kafka.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from llmwatch.detectors.second_opinion import (
    TIER_RANK,
    Call,
    Evaluator,
    EvaluatorError,
    EvaluatorUnavailable,
    RateBudget,
    Selection,
    admit,
    day_of,
    reasons,
)
from llmwatch.schemas.embedded import EmbeddedEvent
from llmwatch.storage import review

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("llmwatch.review")


@dataclass(frozen=True)
class Budgets:
    max_per_s: float = 2.0
    burst: int = 20
    max_pending: int = 5_000
    judge_max_per_s: float = 1.0
    judge_usd_per_day: float = 5.0
    max_attempts: int = 5


@dataclass
class DrainResult:
    judged: int = 0  # calls every evaluator has answered
    verdicts: int = 0
    waiting: int = 0  # calls put back: an evaluator unavailable, or the budget spent
    failed: int = 0
    usd: float = 0.0


def candidate(event: EmbeddedEvent) -> Call:
    """A call as selection reads it from the enriched stream (its text is read from storage
    again when it is judged)."""
    e = event.event
    documents: tuple[str, ...] = ()
    if not isinstance(e.prompt, str):
        documents = tuple(m.content for m in e.prompt if m.role == "tool")
    return Call(event_id=e.event_id, prompt=e.prompt_text, response=e.response,
                documents=documents, cheap=dict(event.quality or {}))


class ReviewStage:
    def __init__(self, engine: Engine, evaluators: Sequence[Evaluator], policy: Selection,
                 budgets: Budgets, *, redact: Callable[[str], str] = lambda t: t,
                 clock: Callable[[], float] = time.monotonic,
                 lease: timedelta = timedelta(seconds=120)) -> None:
        self.engine, self.policy, self.budgets = engine, policy, budgets
        self.evaluators = sorted(evaluators, key=lambda e: TIER_RANK[e.tier])
        self.redact, self.clock, self.lease = redact, clock, lease
        self.admission = RateBudget(budgets.max_per_s, budgets.burst)
        self.judge_rate = RateBudget(budgets.judge_max_per_s, max(1, int(budgets.judge_max_per_s)))
        self.turned_away = 0

    def admit(self, events: Sequence[EmbeddedEvent], now: datetime) -> int:
        """Queue the calls of a batch that deserve a second opinion, within the budget;
        returns how many were queued (a replayed call is not queued twice)."""
        found = [(c, why) for c in map(candidate, events) if (why := reasons(c, self.policy))]
        if not found:
            return 0
        pending, _ = review.depth(self.engine, now)
        taken, left = admit(found, self.admission, self.clock(),
                            max(0, self.budgets.max_pending - pending))
        self.turned_away += left
        if left:
            log.debug("second opinion: %d calls over the budget not admitted", left)
        return review.enqueue(self.engine, [
            (c.event_id, why, {k: [round(float(s), 4), bool(f)] for k, (s, f) in c.cheap.items()})
            for c, why in taken], now)

    def drain(self, now: Callable[[], datetime], limit: int = 50,
              deadline_s: float = 5.0) -> DrainResult:
        """Judge up to `limit` queued calls, for about `deadline_s` at most."""
        out = DrainResult()
        started = self.clock()
        for event_id in review.due(self.engine, now(), limit):
            if self.clock() - started > deadline_s:
                break
            if not review.claim(self.engine, event_id, now(), self.lease):
                continue  # another review worker has it
            got = review.queued(self.engine, event_id)
            if got is None:
                continue  # erased meanwhile
            self._judge(*got, now, out)
        return out

    def _judge(self, call: Call, why: list[str], answered: list[str], attempts: int,
               now: Callable[[], datetime], out: DrainResult) -> None:
        for evaluator in self.evaluators:
            if evaluator.name in answered:
                continue
            if evaluator.tier == "judge":
                wait = self._judge_budget(now())
                if wait is not None:
                    review.release(self.engine, call.event_id, wait)
                    out.waiting += 1
                    return
            try:
                judgement = evaluator.judge(call)
            except EvaluatorUnavailable as exc:
                review.postpone(self.engine, call.event_id, attempts + 1, now(), str(exc))
                log.warning("second opinion on %s waits: %s", call.event_id, exc)
                out.waiting += 1
                return
            except EvaluatorError as exc:
                cost = float(getattr(exc, "cost_usd", 0.0))
                if evaluator.tier == "judge":
                    review.spend(self.engine, day_of(now()), 1, cost)
                    out.usd += cost
                if attempts + 1 < self.budgets.max_attempts:
                    review.postpone(self.engine, call.event_id, attempts + 1, now(), str(exc))
                    out.waiting += 1
                    return
                log.error("%s gave no usable answer on %s after %d tries (%s); recorded as "
                          "failed", evaluator.name, call.event_id, attempts + 1, exc)
                answered = [*answered, evaluator.name]
                review.record(self.engine, call.event_id, (), answered, why, now(),
                              finished=False)
                out.failed += 1
                continue
            if evaluator.tier == "judge":
                review.spend(self.engine, day_of(now()), 1, judgement.cost_usd)
                out.usd += judgement.cost_usd
            answered = [*answered, evaluator.name]
            review.record(self.engine, call.event_id, judgement.verdicts, answered, why, now(),
                          finished=False, redact=self.redact)
            out.verdicts += len(judgement.verdicts)
        review.record(self.engine, call.event_id, (), answered, why, now(), finished=True)
        out.judged += 1

    def _judge_budget(self, now: datetime) -> datetime | None:
        """None if a judge request may go now; else when to try again."""
        _, usd = review.spent(self.engine, day_of(now))
        if usd >= self.budgets.judge_usd_per_day:
            tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
            return tomorrow
        if not self.judge_rate.take(self.clock()):
            return now + timedelta(seconds=1 / self.budgets.judge_max_per_s)
        return None
