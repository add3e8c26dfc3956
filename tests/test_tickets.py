"""Retraining tickets: the policy, the fine-tuning dataset, and tickets from a shifted stream."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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
    # its dataset holds the harmful answers: the ticket says not to train on them as they are
    assert "never train on them" in suggested_action("quality_rate", "harmful_answer_rate", False)
    with pytest.raises(ValueError):
        TicketPolicy(consecutive_windows=0)


def drifting(store: Store, settings: Any, rounds: int,
             after_round: Callable[[Any], object] = lambda _: None) -> Any:
    """A reference of 200 calls, then `rounds` windows of 100 with half of them about money
    (`after_round` is given the alert stage after each): the stage and its last round."""
    from test_drift_stage import Traffic, feed

    from llmwatch.config import DriftSettings
    from llmwatch.streams.alert_stage import AlertStage
    from llmwatch.streams.drift_stage import DriftStage

    traffic = Traffic()
    drift = DriftStage(store, DriftSettings(reference_size=200, window_size=100, clusters=3,
                                            online=False))
    alerts = AlertStage(store, settings, window=100)
    feed(drift, store, [traffic.batch(100) for _ in range(2)])
    round_ = None
    for _ in range(rounds):
        round_ = alerts.process(feed(drift, store, [traffic.batch(100, money_share=0.5)]),
                                datetime.now(UTC))
        after_round(alerts)
    return alerts, round_


def test_a_persisting_drift_opens_one_ticket_with_a_dataset(store: Store) -> None:
    from llmwatch.config import AlertSettings

    alerts, round_ = drifting(store, AlertSettings(ticket_after_windows=3), rounds=5)
    [doc] = alerts.ticket_documents(round_.tickets)  # what goes to the tickets topic
    assert doc["windows"] == 5 and doc["status"] == "open" and doc["evidence"]["shifts"]
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


class IssueTracker:
    """A local HTTP server speaking GitHub's and Jira's issue REST shapes."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.created: list[dict] = []  # type: ignore[type-arg]
        self.updated: list[tuple[str, dict]] = []  # type: ignore[type-arg]
        self.searched: list[str] = []
        self.drop_replies = 0  # replies to creates lost (the issue is made, the answer never comes)
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> dict:  # type: ignore[type-arg]
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def _reply(self, status: int, doc: dict) -> None:  # type: ignore[type-arg]
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                doc = self._body()
                tracker.created.append({"path": self.path, "auth": self.headers["Authorization"],
                                        **doc})
                n = len(tracker.created)
                if tracker.drop_replies:
                    tracker.drop_replies -= 1
                    self.close_connection = True
                    self.connection.shutdown(2)  # made, but the caller never hears of it
                    return
                self._reply(201, {"number": n} if "/repos/" in self.path else {"key": f"ML-{n}"})

            def do_GET(self) -> None:  # noqa: N802
                tracker.searched.append(self.path)
                made = [(n, c) for n, c in enumerate(tracker.created, 1)]
                if "/repos/" in self.path:
                    self._reply(200, [{"number": n, "body": c.get("body")}  # type: ignore[arg-type]
                                      for n, c in made if "/repos/" in c["path"]])
                else:
                    self._reply(200, {"issues": [{"key": f"ML-{n}"} for n, c in made
                                                 if "/rest/" in c["path"]]})

            def do_PATCH(self) -> None:  # noqa: N802
                tracker.updated.append((self.path, self._body()))
                self._reply(200, {})

            do_PUT = do_PATCH  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_tickets_open_once_and_update_in_github_and_jira(store: Store) -> None:
    from llmwatch.config import AlertSettings

    tracker = IssueTracker()
    try:
        settings = AlertSettings(ticket_after_windows=2, github_repo="acme/ml",
                                 github_token="ghs_test", github_api_url=tracker.url,
                                 jira_url=tracker.url, jira_project="ML", jira_user="a@b.c",
                                 jira_token="jt")
        # after each round, the worker's delivery timer: trackers only through the outbox
        drifting(store, settings, rounds=4, after_round=lambda alerts: alerts.deliver())
        paths = sorted(c["path"] for c in tracker.created)
        assert paths == ["/repos/acme/ml/issues", "/rest/api/2/issue"]  # each created once
        github = next(c for c in tracker.created if "/repos/" in c["path"])
        assert github["auth"] == "Bearer ghs_test" and "retraining" in github["labels"]
        assert "Suggested action" in github["body"] and "llmwatch tickets export" in github["body"]
        jira = next(c for c in tracker.created if "/rest/" in c["path"])
        assert jira["fields"]["project"] == {"key": "ML"}
        updated = {p for p, _ in tracker.updated}
        assert updated == {"/repos/acme/ml/issues/1", "/rest/api/2/issue/ML-2"}
        with Session(store.engine) as s:
            [ticket] = s.execute(select(TicketRow)).scalars().all()
        assert ticket.external == {"github": "1", "jira": "ML-2"}
    finally:
        tracker.close()


def test_a_tracker_whose_reply_is_lost_gets_one_issue_and_nothing_waits_on_it(
        store: Store) -> None:
    """The round only writes the outbox (no tracker call in the drift thread); the create's
    reply is lost, the retry finds the issue by the ticket's marker and updates it."""
    from test_alert_delivery import Clock

    from llmwatch.config import AlertSettings
    from llmwatch.storage.outbox import deliver, pending

    tracker = IssueTracker()
    tracker.drop_replies = 1
    try:
        settings = AlertSettings(ticket_after_windows=2, github_repo="acme/ml",
                                 github_token="ghs_test", github_api_url=tracker.url)
        alerts, _ = drifting(store, settings, rounds=2)
        assert not tracker.created  # the round wrote the outbox; nobody called GitHub yet
        sinks = {"github": alerts.sinks()["github"]}
        clock = Clock()
        clock.now = datetime.now(UTC)
        assert deliver(store.engine, sinks, now=clock) == 0  # made, reply lost: postponed
        clock.advance(3600)
        assert deliver(store.engine, sinks, now=clock) == 1
        assert len(tracker.created) == 1 and tracker.searched  # found by its marker, not remade
        assert [p for p, _ in tracker.updated] == ["/repos/acme/ml/issues/1"]
        assert "llmwatch ticket " in tracker.created[0]["body"]
        assert pending(store.engine) == 1  # the Slack notice waits: no token configured
        with Session(store.engine) as s:
            [ticket] = s.execute(select(TicketRow)).scalars().all()
        assert ticket.external == {"github": "1"}
    finally:
        tracker.close()


def test_names_and_labels_cannot_write_markup_into_github_or_jira() -> None:
    from llmwatch.alerts.markdown import tracker_title
    from llmwatch.alerts.ticket_sinks import render_body

    hostile = "bot @octocat ![x](https://evil.example/p.png) `code` [link](http://a.b) | # h"
    evidence = {"app": hostile, "model": "meta-llama/Llama-3.1-8B-Instruct",
                "model_version": None, "prompt_version": "v1", "detector": "embedding_drift",
                "metric": "prompt_embedding", "explanation": f"new: prompts about '{hostile}'",
                "method": "centroid", "statistic": 0.1, "threshold": 0.01, "p_value": 1e-9,
                "effect_size": 0.3, "consecutive_windows": 3, "firing_since": "2026-11-30",
                "shifts": [{"kind": "new", "label": hostile, "reference_share": 0.0,
                            "current_share": 0.3}]}
    body = render_body(evidence, "fine-tune", 12, 7)
    for live in ("@octocat", "![x]", "(https://", "`code`", "[link]", "| #"):
        assert live not in body, live
    assert "octocat" in body and "evil" in body  # shown, as text
    assert "llmwatch tickets export 7" in body  # our own markup stays markup
    assert "@octocat" not in tracker_title(f"Retrain/fix {hostile} on m")
