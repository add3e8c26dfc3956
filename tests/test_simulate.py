"""Simulated traffic from the real conversation packages."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from llmwatch.schemas import LLMEvent, decode_event
from llmwatch.simulate import TrafficPlan, chatterbot_pairs, chitchat_pairs, traffic


def test_the_real_datasets_load() -> None:
    assert len(chitchat_pairs()) > 50_000
    assert ("stock market", "buy low, sell high.") in chatterbot_pairs("money")


def test_a_plan_yields_what_it_says() -> None:
    plan = TrafficPlan(events=2000, shift_at=0.5, shift_topic="money", shift_fraction=0.4,
                       malformed=5, feedback_rate=0.1, seed=3)
    messages = list(traffic(plan))
    kinds = Counter(m.kind for m in messages)
    assert kinds["llm_call"] == 2000 and kinds["malformed"] == 5
    assert 150 < kinds["feedback"] < 250
    calls = [m for m in messages if m.kind == "llm_call"]
    assert not any(m.shifted for m in calls[:1000])
    assert 0.33 < sum(m.shifted for m in calls[1000:]) / 1000 < 0.47
    money_prompts = {p for p, _ in chatterbot_pairs("money")}
    for m in calls:
        event = decode_event(m.value)
        assert isinstance(event, LLMEvent)
        assert (event.prompt in money_prompts) or not m.shifted
    ids = {json.loads(m.value)["event_id"] for m in calls}
    feedback_refs = {json.loads(m.value)["event_id"] for m in messages if m.kind == "feedback"}
    assert len(ids) == 2000 and feedback_refs <= ids
    assert all(not isinstance(decode_event(m.value), LLMEvent)
               for m in messages if m.kind == "malformed")


def test_same_seed_same_stream() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    plan = TrafficPlan(events=50, shift_at=0.2, malformed=2, seed=11, start=start)
    assert [m.value for m in traffic(plan)] == [m.value for m in traffic(plan)]


def test_bad_plans_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="no chatterbot-corpus topic 'astrology'"):
        list(traffic(TrafficPlan(events=5, shift_at=0.5, shift_topic="astrology")))
    with pytest.raises(ValueError, match="between 0 and 1"):
        TrafficPlan(shift_at=1.5)
