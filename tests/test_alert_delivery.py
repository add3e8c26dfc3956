"""Alerts through the outbox to a real local Slack-API server: outages delay, never lose or
double a notice — across retries, rate limits, a lost reply, a restart and two workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from slack_server import TOKEN, SlackAPI

from llmwatch.alerts.decision import AlertState
from llmwatch.alerts.sinks import SlackSink
from llmwatch.storage import Store
from llmwatch.storage.outbox import Notice, deliver, enqueue, load_states, pending, retry_after

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


def sinks(api: SlackAPI) -> dict[str, SlackSink]:
    return {"slack": SlackSink(client(api))}


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
        deliver(store.engine, sinks(slack), now=clock)
    assert pending(store.engine) < 5
    port = slack.port
    slack.stop()  # Slack is down
    clock.advance(30)
    assert deliver(store.engine, sinks(slack), now=clock) == 0
    assert pending(store.engine) > 0  # delayed, not dropped
    slack.port = port
    slack.start()
    for _ in range(10):  # "after recovery", with a fresh client as after a worker restart
        clock.advance(600)
        deliver(store.engine, sinks(slack), now=clock)
    assert pending(store.engine) == 0
    assert delivered_ids(slack) == [1, 2, 3, 4, 5]  # each exactly once, the lost reply too


def test_retry_after_is_honoured_in_seconds_and_http_date(store: Store, slack: SlackAPI) -> None:
    clock = Clock()
    enqueue(store.engine, notices(1), {}, clock())
    slack.faults.append(("429", "120"))
    deliver(store.engine, sinks(slack), now=clock)
    clock.advance(100)
    assert deliver(store.engine, sinks(slack), now=clock) == 0  # still waiting
    clock.advance(30)
    assert deliver(store.engine, sinks(slack), now=clock) == 1
    assert retry_after({"Retry-After": "Sat, 28 Nov 2026 03:01:30 GMT"}, T0) == timedelta(
        seconds=90)
    assert retry_after({"retry-after": ["15"]}, T0) == timedelta(seconds=15)


def test_two_workers_never_send_the_same_notice(store: Store, slack: SlackAPI) -> None:
    enqueue(store.engine, notices(30), {}, T0)
    threads = [threading.Thread(target=deliver, args=(store.engine, sinks(slack)),
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


class Receiver:
    """A local HTTP endpoint recording what it is sent; answers 500 `fail` times first."""

    def __init__(self, fail: int = 0) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail > 0:
                    receiver.fail -= 1
                    self.send_response(500)
                else:
                    receiver.requests.append((dict(self.headers), body))
                    self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_is_signed_and_pagerduty_dedups_by_fingerprint(store: Store) -> None:
    import hashlib
    import hmac
    import json

    from llmwatch.alerts.decision import Alert
    from llmwatch.alerts.sinks import PagerDutySink, WebhookSink
    from llmwatch.config import AlertSettings
    from llmwatch.detectors.findings import Finding, Window
    from llmwatch.streams.alert_stage import AlertStage

    hook, pd = Receiver(fail=1), Receiver()
    try:
        settings = AlertSettings(webhook_url=hook.url, webhook_secret="s3cret",
                                 pagerduty_routing_key="R0UT1NG", pagerduty_url=pd.url)
        stage = AlertStage(store, settings)

        def finding(fired: bool) -> Finding:
            return Finding("embedding_drift", "app/m/v1/p1", "prompt_embedding", "centroid",
                           fired, 0.03, 0.004, 1e-9, 0.3, Window(T0, T0, 1000, 1000),
                           "critical" if fired else "info", "new: prompts about 'x'", {})

        stage.process([finding(True)], T0)
        sinks = {"webhook": WebhookSink(hook.url, "s3cret"),
                 "pagerduty": PagerDutySink("R0UT1NG", pd.url)}
        with store.engine.connect() as conn:  # the credential is added at send time only
            stored = conn.exec_driver_sql("SELECT payload FROM alert_outbox").scalars().all()
        assert stored and not any("R0UT1NG" in json.dumps(p) for p in stored)
        clock = Clock()
        assert deliver(store.engine, sinks, now=clock) == 1  # PagerDuty; the webhook got a 500
        clock.advance(10)
        assert deliver(store.engine, sinks, now=clock) == 1  # the webhook, retried
        assert pending(store.engine) == 1  # the Slack notice waits: no token configured
        [(headers, body)] = hook.requests
        t, v1 = (part.split("=", 1)[1] for part in headers["X-Llmwatch-Signature"].split(","))
        expected = hmac.new(b"s3cret", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(v1, expected)
        assert headers["Idempotency-Key"].startswith("llmwatch-outbox-")
        assert json.loads(body)["alerts"][0]["action"] == "fire"
        stage.process([finding(False)], T0 + timedelta(hours=1))
        clock.advance(3600)
        deliver(store.engine, sinks, now=clock)
        events = [json.loads(b) for _, b in pd.requests]
        assert [e["event_action"] for e in events] == ["trigger", "resolve"]
        fp = Alert.of(finding(True)).fingerprint
        assert {e["dedup_key"] for e in events} == {fp}
        assert events[0]["payload"]["severity"] == "critical"
        assert events[0]["routing_key"] == "R0UT1NG"
    finally:
        hook.close()
        pd.close()


def test_incoming_webhook_delivery_backs_off_on_429(store: Store, slack: SlackAPI) -> None:
    from llmwatch.alerts.sinks import SlackWebhookSink

    clock = Clock()
    enqueue(store.engine, notices(2), {}, clock())
    slack.faults.append(("429", "30"))
    webhook = {"slack": SlackWebhookSink(f"http://127.0.0.1:{slack.port}/services/T0/B0/x")}
    assert deliver(store.engine, webhook, now=clock) == 1  # one rate-limited, one sent
    clock.advance(10)
    assert deliver(store.engine, webhook, now=clock) == 0  # Retry-After not over yet
    clock.advance(25)
    assert deliver(store.engine, webhook, now=clock) == 1
    assert sorted(m["text"] for m in slack.messages) == ["alert 0", "alert 1"]
