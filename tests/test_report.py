"""The weekly drift report on a simulated three weeks (tests/report_world.py): rendered in
headless Chromium, the same figures in JSON, storage (SQLite and PostgreSQL) and the Slack
digest, made once per scheduled run."""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from report_world import SCRIPT_PROMPT, WEEK, WEEK_END, copy_world
from slack_server import TOKEN, SlackAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from llmwatch.config import Settings
from llmwatch.detectors.segments import Segment
from llmwatch.report.period import Period
from llmwatch.report.service import ReportResult, run_due, write_report
from llmwatch.storage import Store, upgrade
from llmwatch.storage.tables import AlertOutboxRow, ReportRow
from llmwatch.streams.alert_stage import AlertStage

ARTIFACTS = Path(os.environ.get("LLMWATCH_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[1] / "test-artifacts"))
PERIOD = Period(WEEK_END - WEEK, WEEK_END)
CHANNEL = "C0REPORTS"


@pytest.fixture
def world(world_db: str, db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    upgrade(store.engine)
    copy_world(world_db, store)
    yield store
    store.dispose()


def settings(store: Store, out: Path, **report: Any) -> Settings:
    return Settings.model_validate({
        "storage": {"url": store.engine.url.render_as_string(hide_password=False)},
        "drift": {"reference_size": 300, "window_size": 150, "clusters": 8},
        "report": {"out_dir": str(out), "slack_channel": CHANNEL, **report},
        "alerts": {"slack_token": TOKEN},
    })


@pytest.fixture
def slack() -> Iterator[SlackAPI]:
    api = SlackAPI().start()
    yield api
    api.stop()


def test_the_report_of_a_shifted_week_names_the_shift_on_sqlite_and_postgresql(
        world: Store, tmp_path: Path) -> None:
    result = write_report(world, settings(world, tmp_path), PERIOD, now=WEEK_END)
    assert result is not None
    f = result.figures
    seg = f["segments"][0]
    assert f["overall"]["volume"] == {"current": 351, "previous": 350, "baseline": 300}
    grown = [t for t in seg["topics"] if t["kind"] in ("new", "grew")]
    assert grown and any(w in grown[0]["label"] for w in ("stock", "market", "money"))
    assert grown[0]["current_share"] > 0.2 > 0.1 > grown[0]["baseline_share"]
    drift = seg["drift"]["prompt"]
    assert drift["current"] > 3 * drift["normal"] and drift["previous"] < 2 * drift["normal"]
    assert any("market" in i["text"] or "stock" in i["text"] for i in f["summary"][:1])
    assert f["summary"][0]["severity"] == "critical"
    assert "tickets export" in f["summary"][0]["action"]  # the ticket with the dataset
    assert f["alerts"]["count"] >= 1 and f["alerts"]["critical"] >= 1
    assert f["tickets"] and f["tickets"][0]["segment"] == seg["key"]
    assert seg["quality"]["injection"]["current"]["flagged"] >= 1
    # the figures are the JSON file and the stored row, and the row keeps the HTML
    assert json.loads(result.json_path.read_text()) == json.loads(json.dumps(f, default=str))
    with Session(world.engine) as s:
        row = s.execute(select(ReportRow)).scalar_one()
        assert row.status == "done" and row.figures["summary"] == f["summary"]
        assert gzip.decompress(row.html_gz).decode() == result.html_path.read_text()
    assert [e["segment"] for e in f["evidently"]] == ["all traffic"]
    assert any("EmbeddingsDrift" in str(m["metric"]) or "Drift in embeddings" in str(m["metric"])
               for m in f["evidently"][0]["metrics"])


def test_the_report_renders_in_chromium_with_the_script_prompt_as_text(
        world_db: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(store.engine)
    copy_world(world_db, store)
    result = write_report(store, settings(store, tmp_path), PERIOD, now=WEEK_END)
    assert result is not None
    html = result.html_path.read_text()
    assert SCRIPT_PROMPT not in html and "jane.doe@example.com" not in html  # escaped, redacted
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(),
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "about:"))
                else errors.append(f"network request: {r.url}"))  # it must open offline
        page.goto(result.html_path.as_uri())
        evidently = page.frame_locator("iframe.evidently")
        evidently.get_by_text("Dataset Drift").first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "weekly-report.png"), full_page=True)
        text = page.inner_text("body")
        pwned = page.evaluate("window.__pwned")
        title = page.title()
        evidently_text = page.frames[1].inner_text("body")
        browser.close()
    assert errors == []
    assert "What changed, and what to do" in text
    label = result.figures["segments"][0]["topics"][0]["label"]
    assert any(w in label for w in ("market", "stock", "money"))
    assert f"prompts about '{label}' went from" in text  # the shifted topic is named
    assert '<script>window.__pwned = 1; document.title = "pwned"</script>' in text  # as text
    assert pwned is None and "pwned" not in title  # ... and it did not run
    assert "[EMAIL]" in text and "jane.doe@example.com" not in text
    assert "Drift in embeddings" in evidently_text or "embedding" in evidently_text.lower()
    assert (ARTIFACTS / "weekly-report.png").stat().st_size > 50_000
    store.dispose()


def chromium() -> str:
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(path).exists():
            return path
    raise AssertionError("Chromium is missing: `make setup` installs Debian's chromium package")


def deliver_until_done(store: Store, s: Settings, rounds: int = 20) -> None:
    stage = AlertStage(store, s.alerts)
    for _ in range(rounds):
        stage.deliver()
        with Session(store.engine) as session:
            rows = session.execute(select(AlertOutboxRow).where(
                AlertOutboxRow.sink == "slack_report")).scalars().all()
            if rows and all(r.status == "sent" for r in rows):
                return
            for r in rows:  # skip the back-off waits instead of sleeping through them
                r.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
            session.commit()
    raise AssertionError("the digest was not delivered")


def digests(api: SlackAPI) -> list[dict[str, Any]]:
    return [m for m in api.messages if m["channel"] == CHANNEL and not m.get("thread_ts")]


def test_the_slack_digest_and_its_file_arrive_once_through_faults(
        world_db: str, tmp_path: Path, slack: SlackAPI) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(store.engine)
    copy_world(world_db, store)
    s = settings(store, tmp_path)
    s.alerts.slack_base_url = slack.base_url
    with store.engine.begin() as conn:  # the world's alert notices are not this test's subject
        conn.execute(update(AlertOutboxRow).values(status="sent"))
    slack.faults.extend([("429", "1"), ("500", "")])  # the digest message: rate limit, error
    slack.file_faults.extend([("lose", "")])  # the file is shared, but the reply is lost
    result = write_report(store, s, PERIOD, slack=True, now=WEEK_END)
    assert result is not None
    deliver_until_done(store, s)
    [message] = digests(slack)
    assert "market" in message["text"] or "stock" in message["text"]
    blocks = json.loads(message["blocks"]) if isinstance(message["blocks"], str) \
        else message["blocks"]
    assert blocks[0]["type"] == "header" and "LLM drift report" in blocks[0]["text"]["text"]
    [shared] = [f for f in slack.files if f["channel"] == CHANNEL]
    assert shared["name"] == result.html_path.name
    assert shared["bytes"] == result.html_path.read_bytes()
    [reply] = [m for m in slack.messages if m.get("thread_ts") == message["ts"]]
    assert reply["files"][0]["id"] == shared["id"]
    with Session(store.engine) as session:  # 429, 500, lost reply, then confirmed
        row = session.execute(select(AlertOutboxRow).where(
            AlertOutboxRow.sink == "slack_report")).scalar_one()
        assert row.attempts == 4 and row.slack_ts == message["ts"]
    store.dispose()


def test_a_scheduled_run_is_made_once_even_when_two_workers_race(
        world_db: str, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(store.engine)
    copy_world(world_db, store)
    s = settings(store, tmp_path, cron="0 8 * * MON", timezone="Europe/Berlin")
    now = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # Tuesday: Monday 08:00's run is due
    results: list[ReportResult | None] = []
    racers = [threading.Thread(target=lambda: results.append(run_due(store, s, now)))
              for _ in range(2)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    made = [r for r in results if r is not None]
    assert len(made) == 1
    period = made[0].figures["period"]
    assert period["label"] == "Mon 16 Nov 2026 – Sun 22 Nov 2026"
    assert period["start"] == "2026-11-15T23:00:00+00:00"  # midnight in Berlin
    assert run_due(store, s, now + timedelta(hours=1)) is None  # done: not made again
    with Session(store.engine) as session:
        assert session.execute(select(ReportRow.key)).scalars().all() == \
            ["scheduled:2026-11-23T07:00Z"]
        [notice] = session.execute(select(AlertOutboxRow).where(
            AlertOutboxRow.sink == "slack_report")).scalars().all()
        assert notice.channel == CHANNEL
        assert notice.dedupe_key == "report:scheduled:2026-11-23T07:00Z"
    store.dispose()


def test_nothing_is_reported_before_there_is_traffic(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(store.engine)
    assert run_due(store, settings(store, tmp_path), datetime(2026, 11, 24, tzinfo=UTC)) is None
    with Session(store.engine) as session:
        assert session.execute(select(ReportRow)).first() is None


def test_the_report_command_writes_the_files_and_prints_their_paths(
        world_db: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "w.db"
    store = Store(f"sqlite:///{db}")
    upgrade(store.engine)
    copy_world(world_db, store)
    store.dispose()
    env = {**os.environ, "LLMWATCH_STORAGE__URL": f"sqlite:///{db}", "COLUMNS": "200",
           # the world's vectors are MiniLM's, every call's, and its drift read them
           "LLMWATCH_EMBEDDING__BACKEND": "minilm", "LLMWATCH_DRIFT__SPACE": "calls"}
    run = subprocess.run(
        [sys.executable, "-m", "llmwatch", "report", "--from", "2026-11-16", "--to",
         "2026-11-23", "--out", str(tmp_path / "out"), "--tz", "UTC"],
        capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    html = tmp_path / "out" / "llmwatch-report-2026-11-16_2026-11-22.html"
    assert f"HTML: {html}" in run.stdout and html.stat().st_size > 100_000
    assert "[critical]" in run.stdout and "351 calls" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "llmwatch", "report", "--from", "yesterday"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "is not a date" in bad.stderr


def test_a_new_version_is_compared_with_its_predecessor_from_storage(
        store: Store, tmp_path: Path) -> None:
    from test_drift_stage import SETTINGS, T0, Traffic, feed

    from llmwatch.report.service import build
    from llmwatch.streams.drift_stage import DriftStage

    traffic = Traffic()
    stage = DriftStage(store, SETTINGS)
    feed(stage, store, [traffic.batch(100) for _ in range(4)])  # v1: baseline and windows
    feed(stage, store, [traffic.batch(100, 0.5, "v2") for _ in range(3)])  # v2: money talk
    s = Settings.model_validate({
        "storage": {"url": store.engine.url.render_as_string(hide_password=False)},
        "report": {"out_dir": str(tmp_path), "evidently_segments": 0}})
    figures, html = build(store, s, Period(T0, T0 + timedelta(days=1)), now=T0)
    [v] = figures["versions"]
    assert (v["name"], v["predecessor_name"]) == (
        "support-bot on gpt-test, model version v2, prompt v1",
        "support-bot on gpt-test, model version v1, prompt v1")
    assert Segment.from_key(v["segment"]) == Segment("support-bot", "gpt-test", "v2", "v1")
    assert v["compared_with"] == "this period" and v["calls"] == 300
    assert v["prompt_distance"] > 0.05  # half of v2's prompts are about something else
    assert "vs support-bot on gpt-test, model version v1, prompt v1" in html


def test_report_slack_sends_the_digest_now(world_db: str, tmp_path: Path,
                                           slack: SlackAPI) -> None:
    import subprocess
    import sys

    db = tmp_path / "w.db"
    store = Store(f"sqlite:///{db}")
    upgrade(store.engine)
    copy_world(world_db, store)
    env = {**os.environ, "LLMWATCH_STORAGE__URL": f"sqlite:///{db}", "COLUMNS": "200",
           "LLMWATCH_ALERTS__SLACK_TOKEN": TOKEN, "LLMWATCH_ALERTS__SLACK_BASE_URL":
           slack.base_url, "LLMWATCH_REPORT__SLACK_CHANNEL": CHANNEL,
           "LLMWATCH_REPORT__EVIDENTLY_SEGMENTS": "0"}
    run = subprocess.run(
        [sys.executable, "-m", "llmwatch", "report", "--from", "2026-11-16", "--slack",
         "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"Slack digest and file delivered to {CHANNEL}" in run.stdout
    assert len(digests(slack)) == 1 and len(slack.files) == 1
    assert not [m for m in slack.messages if m["channel"] != CHANNEL]  # alerts: the worker's
    store.dispose()
