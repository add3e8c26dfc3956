"""Prompts are other people's data: what leaves the service is redacted (failing closed), no
name can write into Slack, a shell or a page, credentials stay out of printouts and the
outbox, and one user's data can be erased."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import consume
from kafka import KafkaProducer
from slack_server import TOKEN, SlackAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_alert_delivery import Receiver
from test_end_to_end import prepared, run_report, wait_for, worker_env
from test_tickets import IssueTracker

from bench.redaction_eval import leaked, planted
from llmwatch.detectors.redact import Privacy, redact
from llmwatch.local.kafka import LocalKafka
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage.tables import (
    AlertOutboxRow,
    EventRow,
    FindingRow,
    ReportRow,
    TicketRow,
)

# One value of each kind the review found passing through (issue: "Redaction fails open").
PLANTED = {
    "name": "Oluwaseun Fairweather-Okafor",
    "address": "4821 Quillfeather Lane",
    "dotted card": "4111.1111.1111.1111",
    "slashed card": "5500/0000/0000/0004",
    "lowercase iban": "gb82 west 1234 5698 7654 32",
    "stripe key": "sk_live_51HqLyjWDarjtT1zdp7dcQxZ",
    "github token": "github_pat_11AAQZ7NQ0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdefghijk",
    "gitlab token": "glpat-Zx81kQpW3mNvB7tYhL2c",
    "aws secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYZQ8e2Lw9Hd",
    "bearer": "Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "password": "Tr0ub4dor&3xq",
    "phone7": "867-5309",
    "email": "oluwaseun.fo@quillmail-inbox.net",
    # the forms of the second review: split, spelled, other scripts, lower case, KEY=value
    "card over lines": "4532\n0151\n1283\n0366",
    "card with zero-width spaces": "4929\u200b4188\u200b1212\u200b2223",
    "spelled phone": "four one five six six two zero one nine seven",
    "chinese name": "王秀英",
    "arabic name": "محمد الشهري",
    "db password": "Zq8!vR2@kLm",
    "lowercase name": "priya ramaswamy",
    "spoken email": "p.ramaswamy at quillmail dot com",
}
# pieces that identify on their own: names as words (a topic label is lowercase), the rest as
# substrings
WORDS = ["Oluwaseun", "Fairweather", "Okafor", "Quillfeather", "quillmail", "priya",
         "ramaswamy", "王秀英", "الشهري"]
PIECES = ["4111.1111", "5500/0000", "5698 7654", "867-5309", "oluwaseun.fo",
          "51HqLyjWDarjtT1zdp7dcQxZ", "AAQZ7NQ0aBcDeFgHiJkL", "Zx81kQpW3mNvB7tYhL2c",
          "bPxRfiCYZQ8e2Lw9Hd", "9f8e7d6c5b4a39281706", "Tr0ub4dor", "0151 1283", "0151\n1283",
          "0151\\n1283", "4188 1212", "41881212", "4188\u200b1212", "4188\\u200b1212",
          "zero one nine seven", "Zq8!vR2@kLm", "王秀英", "محمد"]


def pii_prompts() -> list[tuple[str, str]]:
    """(prompt, answer) pairs of a new topic, each carrying planted values."""
    p = PLANTED
    prompts = [
        f"Hi, I'm {p['name']}, my card {p['dotted card']} was charged twice for the annual "
        f"plan, please refund it to {p['lowercase iban']}",
        f"Please update my billing address to {p['address']}, Springfield and call me on "
        f"{p['phone7']} about the duplicate invoice",
        f"The refund for card {p['slashed card']} never arrived, write to {p['email']} "
        "with the invoice and the refund status",
        f"our payments integration broke: stripe key {p['stripe key']} and the deploy token "
        f"{p['github token']} stopped working after the billing change",
        f"CI cannot publish invoices: gitlab token {p['gitlab token']} and AWS secret "
        f"{p['aws secret']} fail, header Authorization: {p['bearer']}",
        f"my password is {p['password']} and I still cannot see my invoices or refund, "
        f"I am {p['name']}",
        f"Refund card\n{p['card over lines']}\nplease, and call me back on {p['spelled phone']}"
        " about the duplicate invoice",
        f"Please send the refund invoice to {p['chinese name']} and {p['arabic name']}, the "
        "annual plan was charged twice",
        f"billing export fails: DB_PASSWORD={p['db password']} in the .env and the refund job "
        "stopped",
        f"my colleague {p['lowercase name']} ({p['spoken email']}) asked about the refund for "
        f"card {p['card with zero-width spaces']}",
    ]
    answer = (f"Thanks {p['name']}, I have noted card {p['dotted card']} and will call "
              f"{p['phone7']} about the refund.")
    return [(prompt, answer) for prompt in prompts]


def test_each_kind_the_review_found_is_redacted() -> None:
    for prompt, answer in pii_prompts():
        for text in (prompt, answer):
            out = redact(text)
            for kind, value in PLANTED.items():
                assert value not in out, (kind, out)
            assert not [w for w in WORDS if re.search(rf"\b{w}\b", out, re.I)], out
            assert not [p for p in PIECES if p in out], out


def test_recall_on_fresh_samples_and_ordinary_prompts_are_left_alone() -> None:
    total = leaks = 0
    per_kind: dict[str, list[int]] = {}
    for kind, sentence, value in planted(20, seed=2026):  # fixed: a verdict, not a lottery
        bad = leaked(sentence, value, redact(sentence))
        total, leaks = total + 1, leaks + bad
        per_kind.setdefault(kind, [0, 0])[bad] += 1
    assert 1 - leaks / total >= 0.97, per_kind
    for kind, (ok, bad) in per_kind.items():
        assert ok / (ok + bad) >= 0.85, (kind, per_kind)
    plain = ["How do I sort a list of dictionaries by a key in Python?",
             "Explain recursion to a ten year old with an example.",
             "Why does my sourdough bread come out flat after baking?",
             "Write a polite reply declining the meeting invitation for next week."]
    assert [redact(t) for t in plain] == plain


def test_redaction_is_idempotent_and_follows_the_policy() -> None:
    text = pii_prompts()[0][0]
    once = redact(text)
    assert redact(once) == once
    assert Privacy("none").show(text) is None
    assert Privacy("raw").show(text) == text
    assert Privacy("redacted").show(text) == once
    assert "Priya" in Privacy(keep_words=frozenset({"Priya"})).redact("ship it to Priya please")
    assert "Priya" not in redact("ship it to Priya please")
    assert "Springfield" in redact("ship it to Springfield please")  # a place, not a person


def _outputs_of(worker_log: Path, slack: SlackAPI, receivers: list[Receiver],
                tracker: IssueTracker) -> dict[str, str]:
    return {
        "slack": json.dumps(slack.messages, ensure_ascii=False),
        "slack uploads": repr(list(slack.uploads.values())),
        **{f"http {i}": repr([body for _, body in r.requests])
           for i, r in enumerate(receivers)},
        "trackers": json.dumps([tracker.created, tracker.updated], ensure_ascii=False),
        "worker log": worker_log.read_text(errors="replace"),
    }


def _leaks(outputs: dict[str, str]) -> list[tuple[str, str]]:
    found = []
    for where, text in outputs.items():
        for kind, value in PLANTED.items():
            if value in text or json.dumps(value)[1:-1] in text:
                found.append((where, kind))
        found += [(where, w) for w in WORDS if re.search(rf"\b{w}\b", text, re.I)]
        found += [(where, p) for p in PIECES if p in text]
    return found


def test_planted_personal_data_reaches_no_output(
        kafka: LocalKafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    s = settings_for(kafka.bootstrap, postgres_url)
    tickets_topic = f"ti-{uuid.uuid4().hex[:8]}"
    s = s.model_copy(update={"topics": s.topics.model_copy(update={"tickets": tickets_topic})})
    store = prepared(s)
    slack, hook, pd, tracker = SlackAPI().start(), Receiver(), Receiver(), IssueTracker()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    plan = TrafficPlan(events=700, feedback_rate=0, app="billing-bot", model="gpt-4o",
                       model_version="v1", prompt_version="v1", seed=3, start=start)
    planted_ids = []
    pairs = pii_prompts()
    for n, msg in enumerate(traffic(plan)):
        doc = json.loads(msg.value)
        if n >= 300 and n % 2 == 0 and "prompt" in doc:  # half the traffic after the baseline
            doc["prompt"], doc["response"] = pairs[n % len(pairs)]
            planted_ids.append(doc["event_id"])
        producer.send(s.topics.events, key=msg.key, value=json.dumps(doc).encode())
    producer.close()
    env = {**worker_env(s), "LLMWATCH_TOPICS__TICKETS": tickets_topic,
           "LLMWATCH_ALERTS__SLACK_TOKEN": TOKEN,
           "LLMWATCH_ALERTS__SLACK_BASE_URL": slack.base_url,
           "LLMWATCH_ALERTS__WEBHOOK_URL": hook.url, "LLMWATCH_ALERTS__WEBHOOK_SECRET": "whs",
           "LLMWATCH_ALERTS__PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY",
           "LLMWATCH_ALERTS__PAGERDUTY_URL": pd.url,
           "LLMWATCH_ALERTS__GITHUB_REPO": "acme/ml", "LLMWATCH_ALERTS__GITHUB_TOKEN": "ghs_x",
           "LLMWATCH_ALERTS__GITHUB_API_URL": tracker.url,
           "LLMWATCH_ALERTS__DELIVER_EVERY_S": "1", "LLMWATCH_ALERTS__MIN_SAMPLE": "50",
           "LLMWATCH_ALERTS__GROUP_INTERVAL_S": "0",
           "LLMWATCH_ALERTS__TICKET_AFTER_WINDOWS": "1", "LLMWATCH_REPORT__ENABLED": "false",
           "LLMWATCH_DRIFT__REFERENCE_SIZE": "200", "LLMWATCH_DRIFT__CLUSTERS": "4",
           "LLMWATCH_DRIFT__SAMPLE_EVERY_CALL_BELOW": "1000000",
           "LLMWATCH_DRIFT__SAMPLE_MAX_PER_S": "1000000"}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=env,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)

    seen: dict[str, object] = {}

    def arrived() -> bool:
        assert worker.poll() is None, log.read_text()[-3000:]
        with Session(store.engine) as session:
            ticket = session.execute(select(TicketRow).where(
                TicketRow.examples > 0)).scalars().first()
            pending = session.execute(select(AlertOutboxRow.sink, AlertOutboxRow.last_error).where(
                AlertOutboxRow.status != "sent")).all()
        seen.update(ticket=ticket is not None and bool(ticket.dataset), pending=pending,
                    slack=len(slack.messages), hook=len(hook.requests),
                    tracker=len(tracker.created))
        return (ticket is not None and bool(ticket.dataset) and not pending
                and bool(slack.messages) and bool(hook.requests) and bool(tracker.created))

    try:
        wait_for(arrived, "alerts, a ticket with its dataset and the tracker issue", log,
                 timeout_s=300)
    except AssertionError as exc:
        raise AssertionError(f"{seen}\n{exc}") from None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        slack.stop()
        hook.close()
        pd.close()
    assert worker.returncode == 0, log.read_text()[-3000:]

    outputs = _outputs_of(log, slack, [hook, pd], tracker)
    tracker.close()
    with Session(store.engine) as session:
        tickets = session.execute(select(TicketRow)).scalars().all()
        assert any(t.examples > 0 for t in tickets)
        outputs["ticket dataset"] = "\n".join(t.dataset for t in tickets)
        outputs["ticket evidence"] = json.dumps([t.evidence for t in tickets],
                                                ensure_ascii=False)
        outputs["outbox"] = json.dumps([[r.text, r.blocks, r.payload] for r in session.execute(
            select(AlertOutboxRow)).scalars()], ensure_ascii=False)
        outputs["findings"] = json.dumps([[f.explanation, f.details] for f in session.execute(
            select(FindingRow)).scalars()], ensure_ascii=False, default=str)
    assert "R0UT1NGKEY" not in outputs["outbox"]  # the routing key is added at send time
    outputs["tickets topic"] = repr([r.value for r in consume(
        kafka.bootstrap, tickets_topic, expect=1)])
    outputs["report html"], outputs["report json"] = run_report(env, start.date(), 2)
    shown = subprocess.run([sys.executable, "-m", "llmwatch", "event", planted_ids[0]],
                           env={**env, "COLUMNS": "400"}, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    outputs["llmwatch event"] = shown.stdout + shown.stderr

    # the planted data did reach the places it could leak through, redacted
    assert "[CARD]" in outputs["ticket dataset"] and "[NAME]" in outputs["ticket dataset"]
    assert "[SECRET]" in outputs["llmwatch event"] or "[NAME]" in outputs["llmwatch event"]
    assert "e.g." in outputs["slack"]  # alerts carry (redacted) examples
    assert _leaks(outputs) == []
    with Session(store.engine) as session:  # while the database keeps them as sent
        stored = session.execute(select(EventRow.prompt_text).where(
            EventRow.event_id == planted_ids[0])).scalar_one()
    assert PLANTED["name"] in stored or PLANTED["stripe key"] in stored or "card" in stored
    store.dispose()


@pytest.fixture
def erase_world(store, embedder):  # noqa: ANN001, ANN201
    """Two users' calls in one segment, drift run to a finding, a ticket and a report."""
    from test_drift_stage import Traffic, feed

    from llmwatch.config import AlertSettings, DriftSettings
    from llmwatch.streams.alert_stage import AlertStage
    from llmwatch.streams.drift_stage import DriftStage

    traffic = Traffic()
    drift = DriftStage(store, DriftSettings(reference_size=200, window_size=100, clusters=3,
                                            online=False))
    alerts = AlertStage(store, AlertSettings(ticket_after_windows=1, min_sample=10), window=100)
    feed(drift, store, [traffic.batch(100) for _ in range(2)])
    for _ in range(2):
        alerts.process(feed(drift, store, [traffic.batch(100, money_share=0.6)]),
                       datetime.now(UTC))
    return store, drift, alerts, traffic, feed


def test_erasing_a_user_removes_their_text_and_hash_everywhere_and_drift_still_runs(
        erase_world, tmp_path: Path) -> None:  # noqa: ANN001
    from llmwatch.storage.retention import erase

    store, drift, alerts, traffic, feed = erase_world
    with Session(store.engine) as s:
        rows = s.execute(select(EventRow).where(EventRow.timestamp.is_not(None))).scalars().all()
        money = [r for r in rows if r.event_id >= "evt-000200"]
        victim = money[len(money) // 2]
        victim_hash = f"u{uuid.uuid4().hex[:12]}"
        mine = [r.event_id for r in rows if r.prompt_text == victim.prompt_text]
        for r in rows:
            if r.event_id in mine:
                r.user_hash = victim_hash
        s.commit()
        victim_text = victim.prompt_text
        assert s.execute(select(TicketRow)).scalars().first() is not None
    removed = erase(store.engine, user_hash=victim_hash)
    assert removed.counts["events"] == len(mine) and removed.counts["vectors"] == len(mine)

    forms = {victim_text, redact(victim_text), json.dumps(victim_text)[1:-1]}
    with store.engine.connect() as conn:  # every table, every text-like column
        for table in ("events", "embeddings", "feedback", "quality_scores", "findings",
                      "alert_outbox", "tickets", "reports", "alert_episodes", "alert_states",
                      "drift_baselines", "drift_cursors"):
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}"):
                dumped = repr(tuple(row))
                assert victim_hash not in dumped, table
                if table != "drift_baselines":  # vectors and terms only, checked below
                    assert not any(f in dumped for f in forms if len(f) > 20), table
    # drift still runs on the remaining data and the baseline
    found = feed(drift, store, [traffic.batch(100, money_share=0.6)])
    assert found, "drift ran after the erasure"
    with Session(store.engine) as s:
        assert s.execute(select(ReportRow)).first() is None  # none was made in this world
        ticket = s.execute(select(TicketRow)).scalars().first()
        assert ticket is not None and all(i not in mine
                                          for i in ticket.evidence.get("example_event_ids", []))


def test_retention_clears_text_then_vectors_and_the_baseline_keeps_working(erase_world) -> None:  # noqa: ANN001
    from test_drift_stage import T0

    from llmwatch.storage.retention import RetentionPolicy, apply_retention
    from llmwatch.storage.tables import EmbeddingRow

    store, drift, _, traffic, feed = erase_world
    later = T0 + timedelta(days=31)
    removed = apply_retention(store.engine, RetentionPolicy(), later)
    assert removed.counts["texts cleared"] >= 400
    with Session(store.engine) as s:
        assert s.execute(select(EventRow).where(EventRow.prompt_text != "")).first() is None
        assert s.execute(select(EmbeddingRow)).first() is not None  # vectors last 90 days
    removed = apply_retention(store.engine, RetentionPolicy(), later + timedelta(days=60))
    assert removed.counts["vectors"] >= 400
    assert feed(drift, store, [traffic.batch(100, money_share=0.6)])  # the baseline still judges


HOSTILE_APP = "bot'$(touch PWNED)' <!channel> `x` <@U123>"
HOSTILE_MODEL = "m</script><script>window.__pwned=1;document.title='pwned'</script>"


def test_hostile_names_cannot_ping_forge_lines_run_commands_or_scripts(
        store, tmp_path: Path, kafka: LocalKafka) -> None:  # noqa: ANN001
    import shlex

    from playwright.sync_api import sync_playwright
    from test_drift_stage import T0, Traffic, feed
    from test_report import chromium

    from llmwatch.config import AlertSettings, DriftSettings, Settings
    from llmwatch.report.period import Period
    from llmwatch.report.service import write_report
    from llmwatch.schemas.decode import Rejected, decode_event
    from llmwatch.schemas.embedded import EmbeddedEvent
    from llmwatch.storage.outbox import deliver
    from llmwatch.streams.alert_stage import AlertStage
    from llmwatch.streams.drift_stage import DriftStage

    # a newline (or any control character) in a name never gets past the gate
    forged = json.dumps({**json.loads(_event_json()), "app": "bot\n:rotating_light: *CRITICAL*"})
    assert isinstance(decode_event(forged.encode()), Rejected)

    class Hostile(Traffic):
        def batch(self, n: int, money_share: float = 0.0, version: str = "v1"
                  ) -> list[EmbeddedEvent]:
            return [EmbeddedEvent(e.event.model_copy(update={"app": HOSTILE_APP,
                                                             "model": HOSTILE_MODEL}),
                                  e.prompt_vector, e.response_vector)
                    for e in super().batch(n, money_share, version)]

    slack = SlackAPI().start()
    try:
        traffic = Hostile()
        drift = DriftStage(store, DriftSettings(reference_size=200, window_size=100,
                                                clusters=3, online=False))
        settings = AlertSettings(slack_token=TOKEN, slack_base_url=slack.base_url,
                                 min_sample=10, group_interval_s=0)
        alerts = AlertStage(store, settings, window=100)
        feed(drift, store, [traffic.batch(100) for _ in range(2)])
        for _ in range(2):
            alerts.process(feed(drift, store, [traffic.batch(100, money_share=0.6)]),
                           datetime.now(UTC))
        assert deliver(store.engine, alerts.sinks()) >= 1
    finally:
        slack.stop()
    assert slack.messages
    for message in slack.messages:
        blocks = message["blocks"] or []
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        texts = [message["text"]] + [t for b in blocks for t in _mrkdwn(b)]
        for text in texts:
            assert "<!channel>" not in text and "<@U123>" not in text, text  # no live mention
            assert "\n" not in text, text  # no forged line
        commands = re.findall(r"`(llmwatch [^`]+)`", " ".join(texts))
        assert commands, texts
        for command in commands:  # what on-call pastes: only our words and a hex fingerprint
            words = shlex.split(command)
            assert all(re.fullmatch(r"[a-z0-9\-]+", w) for w in words), command

    # the report, opened in Chromium, runs no script from a name
    s = Settings.model_validate({
        "storage": {"url": store.engine.url.render_as_string(hide_password=False)},
        "report": {"out_dir": str(tmp_path / "reports"), "evidently_segments": 1}})
    result = write_report(store, s, Period(T0 - timedelta(days=1), T0 + timedelta(days=1)),
                          now=T0 + timedelta(days=1))
    assert result is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(),
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(result.html_path.as_uri())
        page.wait_for_timeout(3000)
        pwned = [f.evaluate("window.__pwned") for f in page.frames]
        title, text = page.title(), page.inner_text("body")
        browser.close()
    assert pwned == [None] * len(pwned) and "pwned" not in title
    assert "bot'$(touch PWNED)'" in text  # shown, as text


def _mrkdwn(block: dict) -> list[str]:  # type: ignore[type-arg]
    out = []
    if isinstance(block.get("text"), dict):
        out.append(block["text"].get("text", ""))
    for e in block.get("elements", []):
        if isinstance(e, dict) and "text" in e:
            out.append(e["text"] if isinstance(e["text"], str) else e["text"].get("text", ""))
    return out


def _event_json() -> str:
    from factories import make_event

    return make_event(1).model_dump_json()


def test_erase_says_what_it_cannot_reach_and_until_when(settings_for) -> None:  # noqa: ANN001
    from llmwatch.cli import beyond_reach

    s = settings_for("127.0.0.1:1", "sqlite://")
    s = s.model_copy(update={"retention": s.retention.model_copy(
        update={"raw_topic_hours": 2.0})})
    now = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    lines = beyond_reach(s, now)
    topics = [s.topics.events, s.topics.enriched, s.topics.deadletter]
    for topic in topics:
        line = next(x for x in lines if topic in x)
        # 2 h of retention, a half-hour segment, Kafka's 5-minute check
        assert "retention 2 h" in line and "gone by 2026-12-07 02:35 UTC" in line, line
    assert any("Slack" in x for x in lines) and any("export" in x for x in lines)


@pytest.mark.kafka
def test_raw_text_topics_take_the_shorter_retention_even_when_they_exist(
        kafka: LocalKafka, settings_for) -> None:  # noqa: ANN001
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    from llmwatch.streams.topics import ensure_topics

    s = settings_for(kafka.bootstrap, "sqlite://")
    ensure_topics(s)  # created with topic_days (7)
    s = s.model_copy(update={"retention": s.retention.model_copy(
        update={"raw_topic_hours": 3.0})})
    assert ensure_topics(s) == []
    names = [s.topics.events, s.topics.enriched, s.topics.deadletter, s.topics.findings]
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:  # the controller applies a change through its log: read until it shows
        deadline = time.monotonic() + 30
        while True:
            described = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
            topics = next(iter(described.values()))  # {name: {key: {"value": …, …}}}
            retention = {n: _value(topics[n]["retention.ms"]) for n in names}
            if retention[s.topics.events] != str(7 * 86_400_000) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        admin.close()
    assert retention[s.topics.events] == retention[s.topics.enriched] == str(3 * 3_600_000)
    assert retention[s.topics.deadletter] == str(3 * 3_600_000)
    assert retention[s.topics.findings] == str(7 * 86_400_000)  # redacted text: unchanged


def _value(config: object) -> str:
    return str(config["value"] if isinstance(config, dict) else config)
