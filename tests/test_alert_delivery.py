"""Alerts through the outbox to a real local Slack-API server: outages delay, never lose or
double a notice — across retries, rate limits, a lost reply, a restart and two workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from slack_server import TOKEN, SlackAPI

from llmwatch.alerts.decision import AlertState
from llmwatch.alerts.outbox import Notice, deliver, enqueue, load_states, pending, retry_after
from llmwatch.storage import Store

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def slack() -> SlackAPI:
    api = SlackAPI().start()
    yield api
    api.stop()


def client(api: SlackAPI) -> WebClient:
    return WebClient(token=TOKEN, base_url=api.base_url, timeout=5, retry_handlers=[])


def notices(n: int) -> list[Notice]:
    return [Notice(f"fp{i}:fire:1", "#llm-alerts", f"alert {i}",
                   [{"type": "section", "text": {"type": "mrkdwn", "text": f"alert {i}"}}])
            for i in range(n)]


def delivered_ids(api: SlackAPI) -> list[int]:
    return sorted(m["metadata"]["event_payload"]["outbox_id"] for m in api.messages)


def test_outage_rate_limits_and_a_lost_reply_deliver_each_notice_exactly_once(
    store: Store, slack: SlackAPI
) -> None:
    clock = Clock()
    assert enqueue(store.engine, notices(5), {}, clock()) == 5
    assert enqueue(store.engine, notices(5), {}, clock()) == 0  # a replayed round adds nothing
    slack.faults.extend([("429", "7"), ("500", ""), ("lose", "")])
    for _ in range(3):
        deliver(store.engine, client(slack), now=clock)
    assert pending(store.engine) < 5
    port = slack.port
    slack.stop()  # Slack is down
    clock.advance(30)
    assert deliver(store.engine, client(slack), now=clock) == 0
    assert pending(store.engine) > 0  # delayed, not dropped
    slack.port = port
    slack.start()
    for _ in range(10):  # "after recovery", with a fresh client as after a worker restart
        clock.advance(600)
        deliver(store.engine, client(slack), now=clock)
    assert pending(store.engine) == 0
    assert delivered_ids(slack) == [1, 2, 3, 4, 5]  # each exactly once, the lost reply too


def test_retry_after_is_honoured_in_seconds_and_http_date(store: Store, slack: SlackAPI) -> None:
    clock = Clock()
    enqueue(store.engine, notices(1), {}, clock())
    slack.faults.append(("429", "120"))
    deliver(store.engine, client(slack), now=clock)
    clock.advance(100)
    assert deliver(store.engine, client(slack), now=clock) == 0  # still waiting
    clock.advance(30)
    assert deliver(store.engine, client(slack), now=clock) == 1
    assert retry_after({"Retry-After": "Sat, 28 Nov 2026 03:01:30 GMT"}, T0) == timedelta(
        seconds=90)
    assert retry_after({"retry-after": ["15"]}, T0) == timedelta(seconds=15)


def test_two_workers_never_send_the_same_notice(store: Store, slack: SlackAPI) -> None:
    enqueue(store.engine, notices(30), {}, T0)
    threads = [threading.Thread(target=deliver, args=(store.engine, client(slack)),
                                kwargs={"worker": name, "now": lambda: T0})
               for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert delivered_ids(slack) == list(range(1, 31))


def test_states_are_stored_with_the_notices(store: Store) -> None:
    state = AlertState("firing", since=T0, last_notified=T0, notifications=1, segment="s",
                       severity="critical")
    enqueue(store.engine, notices(1), {"fp0": state}, T0)
    assert load_states(store.engine) == {"fp0": state}


def test_a_shifted_stream_gives_one_message_per_segment(store: Store, slack: SlackAPI) -> None:
    """Drift windows → alert stage → outbox → Slack: several firing windows, one message."""
    from test_drift_stage import Traffic, feed

    from llmwatch.config import AlertSettings, DriftSettings
    from llmwatch.streams.alert_stage import AlertStage
    from llmwatch.streams.drift_stage import DriftStage

    traffic = Traffic()
    drift = DriftStage(store, DriftSettings(reference_size=200, window_size=100, clusters=3,
                                            online=False))
    alerts = AlertStage(store, AlertSettings(slack_token=TOKEN, slack_base_url=slack.base_url))
    feed(drift, store, [traffic.batch(100) for _ in range(2)])  # the baseline
    for _ in range(4):  # four shifted windows within minutes
        found = feed(drift, store, [traffic.batch(100, money_share=0.5)])
        alerts.process(found, datetime.now(UTC))
    assert alerts.deliver() == 1
    [message] = slack.messages
    assert message["channel"] == "#llm-oncall"  # critical
    assert "prompt_embedding fire" in message["text"]
    assert any("stock" in str(b) for b in message["blocks"])
