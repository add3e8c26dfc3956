"""Retraining tickets: the policy, the fine-tuning dataset, and tickets from a shifted stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from llmwatch.alerts.tickets import (
    Example,
    TicketPolicy,
    dataset,
    suggested_action,
    validate_line,
)
from llmwatch.storage import Store
from llmwatch.storage.tables import TicketRow


def ex(i: int, prompt: str, cluster: str, response: str = "an answer") -> Example:
    return Example(f"e{i}", [{"role": "user", "content": prompt}], response, cluster)


def test_dataset_is_deduplicated_redacted_stratified_and_valid() -> None:
    examples = ([ex(i, f"stock question {i}", "money") for i in range(6)]
                + [ex(10, "Stock question 1!", "money")]  # a duplicate, modulo case/punctuation
                + [ex(20, "mail me at bob@example.com", "contact", "sure, bob@example.com")]
                + [ex(30, "no answer", "x", response="  ")])  # nothing to learn from
    lines = dataset(examples, max_examples=4)
    for line in lines:
        validate_line(line)
    docs = [json.loads(line)["messages"] for line in lines]
    assert len(docs) == 4
    assert docs[1][0]["content"] == "mail me at [EMAIL]"  # clusters take turns
    assert docs[1][1] == {"role": "assistant", "content": "sure, [EMAIL]"}
    assert len({d[0]["content"] for d in docs}) == 4


@pytest.mark.parametrize("line, error", [
    ('{"messages": [{"role": "user", "content": "hi"}]}', "at least a user and an assistant"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}]}',
     "bad message"),
    ('{"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}',
     "ends with the assistant"),
    ('{"messages": [], "extra": 1}', "only 'messages'"),
])
def test_validator_rejects_what_is_not_a_chat_example(line: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        validate_line(line)


def test_suggested_actions_follow_the_cause() -> None:
    assert "knowledge source" in suggested_action("embedding_drift", "prompt_embedding", True)
    assert "prompt" in suggested_action("quality_rate", "refusal_rate", False)
    assert "guardrail" in suggested_action("quality_rate", "pii_response_rate", False)
    with pytest.raises(ValueError):
        TicketPolicy(consecutive_windows=0)


def test_a_persisting_drift_opens_one_ticket_with_a_dataset(store: Store) -> None:
    from test_drift_stage import Traffic, feed

    from llmwatch.config import AlertSettings, DriftSettings
    from llmwatch.streams.alert_stage import AlertStage
    from llmwatch.streams.drift_stage import DriftStage

    traffic = Traffic()
    drift = DriftStage(store, DriftSettings(reference_size=200, window_size=100, clusters=3,
                                            online=False))
    alerts = AlertStage(store, AlertSettings(ticket_after_windows=3), window=100)
    feed(drift, store, [traffic.batch(100) for _ in range(2)])
    for _ in range(5):
        alerts.process(feed(drift, store, [traffic.batch(100, money_share=0.5)]),
                       datetime.now(UTC))
    with Session(store.engine) as s:
        tickets = s.execute(select(TicketRow)).scalars().all()
    assert len(tickets) == 1  # one problem, one ticket, updated while it persists
    assert tickets[0].metric == "prompt_embedding"
    [ticket] = tickets
    assert ticket.status == "open" and ticket.windows == 5
    assert "knowledge source" in ticket.action
    assert ticket.evidence["consecutive_windows"] == 5 and ticket.evidence["p_value"] < 1e-6
    assert ticket.evidence["model_version"] == "v1"
    lines = ticket.dataset.splitlines()
    assert len(lines) == ticket.examples > 0
    for line in lines:
        validate_line(line)
    assert all("stock" in line or "money" in line or "interest" in line for line in lines)
