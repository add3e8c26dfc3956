"""The command line, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmwatch.local.kafka import LocalKafka, free_port

COMMANDS = ["init", "worker", "simulate", "demo", "status", "event", "alerts", "tickets", "kafka",
            "config", "db", "schemas", "gateway", "review"]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmwatch", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "120",
                                                        **(env or {})}, cwd=cwd)


def test_help_lists_every_command() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0 and "Usage" in out.stdout


def test_schema_files_are_current() -> None:
    out = run("schemas", "export", "--check")
    assert out.returncode == 0, out.stderr


def test_simulate_then_status_against_a_real_broker(kafka: LocalKafka, tmp_path: Path) -> None:
    env = {"LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap,
           "LLMWATCH_TOPICS__EVENTS": "cli-events", "LLMWATCH_TOPICS__DEADLETTER": "cli-dl",
           "LLMWATCH_STORAGE__URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    sim = run("simulate", "--events", "40", "--rate", "0", "--malformed", "2",
              "--feedback-rate", "0", env=env)
    assert sim.returncode == 0, sim.stderr
    assert "produced 42 messages" in sim.stdout and "2 malformed" in sim.stdout
    assert run("db", "upgrade", env=env).returncode == 0
    status = run("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "messages on cli-events" in status.stdout and "42" in status.stdout
    assert "LLM calls stored" in status.stdout


def test_unreachable_kafka_is_explained_not_a_traceback(tmp_path: Path) -> None:
    env = {"LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    out = run("simulate", "--events", "1", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS" in out.stderr and "Traceback" not in out.stderr


def test_config_shows_sources_and_hides_secrets(tmp_path: Path) -> None:
    (tmp_path / "llmwatch.toml").write_text('[kafka]\nsasl_password = "hunter2"\n')
    env = {"LLMWATCH_STORAGE__URL": "postgresql+psycopg://u:pg-pass-1@h/db",
           "LLMWATCH_ALERTS__WEBHOOK_URL": "https://hooks.example.com/services/T0A1/B0B2/"
                                           "xoxwebhooksecret42?sig=abc123",
           "LLMWATCH_ALERTS__WEBHOOK_SECRET": "whsec-signing-5",
           "LLMWATCH_ALERTS__JIRA_URL": "https://bob:jira-pass-7@acme.atlassian.net",
           "LLMWATCH_ALERTS__SLACK_TOKEN": "xoxb-slack-token-9",
           "LLMWATCH_ALERTS__PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY"}
    out = run("config", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "llmwatch.toml" in out.stdout and "postgresql+psycopg://u:***@h/db" in out.stdout
    for secret in ("hunter2", "pg-pass-1", "xoxwebhooksecret42", "abc123", "jira-pass-7",
                   "xoxb-slack-token-9", "whsec-signing-5", "R0UT1NGKEY"):
        assert secret not in out.stdout


def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    out = run("config", env={"LLMWATCH_DRIFT__METHOD": "bogus"}, cwd=tmp_path)
    assert out.returncode == 2
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert len(lines) <= 3, lines
    assert "drift.method = 'bogus'" in out.stderr and "LLMWATCH_DRIFT__METHOD" in out.stderr
    assert "'centroid', 'mmd' or 'classifier'" in out.stderr


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://llmwatch:pw-secret@127.0.0.1:{free_port()}/llmwatch"
    out = run("db", "upgrade", env={"LLMWATCH_STORAGE__URL": url}, cwd=tmp_path)
    assert out.returncode == 1
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert len(lines) <= 3, lines
    assert "cannot reach the database" in out.stderr and "pw-secret" not in out.stderr
    assert "LLMWATCH_STORAGE__URL" in out.stderr


def test_version_and_rounded_event(tmp_path: Path, embedder) -> None:  # noqa: ANN001
    from factories import make_event

    from llmwatch.schemas.embedded import SourcePosition
    from llmwatch.storage import Store, upgrade

    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("llmwatch 0.")
    url = f"sqlite:///{tmp_path / 'e.db'}"
    store = Store(url)
    upgrade(store.engine)
    event = make_event(7, latency_ms=812.123456789, cost_usd=0.000123456789)
    store.save_events(embedder.embed_events([event], [SourcePosition("t", 0, 0)]))
    shown = run("event", event.event_id, env={"LLMWATCH_STORAGE__URL": url})
    assert shown.returncode == 0, shown.stderr
    assert "812 ms" in shown.stdout and "$0.000123" in shown.stdout
    assert "812.123" not in shown.stdout and "0.000123456" not in shown.stdout


def test_silence_and_ack_from_the_command_line(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from llmwatch.alerts.decision import Alert
    from llmwatch.detectors.segments import Segment
    from llmwatch.storage import Store, upgrade
    from llmwatch.storage.outbox import active_silences
    from llmwatch.storage.tables import AlertStateRow

    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = Store(url)
    upgrade(store.engine)
    segment = Segment("bot", "meta-llama/Llama-3.1-8B-Instruct").key
    with Session(store.engine) as s, s.begin():
        s.add(AlertStateRow(fingerprint="abc123def456", status="firing",
                            since=datetime.now(UTC), last_notified=None, notifications=1,
                            segment=segment, severity="warning", streak=2, acknowledged=False,
                            detector="embedding_drift", metric="prompt_embedding"))
        s.add(AlertStateRow(fingerprint="abd999", status="inactive", since=None,
                            last_notified=None, notifications=0, segment=segment,
                            severity="info", streak=0, acknowledged=False))
    env = {"LLMWATCH_STORAGE__URL": url}
    out = run("alerts", "silence", "--for", "2h", "--like", "abc1", "--reason", "rollout",
              env=env)
    assert out.returncode == 0, out.stderr
    assert "bot on meta-llama/Llama-3.1-8B-Instruct" in out.stdout
    assert run("alerts", "silence", "--for", "1h", "--app", "bot", env=env).returncode == 0
    by_like, by_app = sorted(active_silences(store.engine, datetime.now(UTC)),
                             key=lambda x: x.end, reverse=True)
    assert by_like.segment == segment and by_like.reason == "rollout"
    now = datetime.now(UTC)
    probe = Alert("f", "embedding_drift", segment, "prompt_embedding", "warning", True, 500, "")
    other = Alert("g", "embedding_drift", Segment("botany", "m").key, "x", "warning", True, 500,
                  "")
    assert by_app.matches(probe, now) and not by_app.matches(other, now)
    assert run("alerts", "silence", "--for", "soon", env=env).returncode == 2
    assert run("alerts", "ack", "ab", env=env).returncode == 1  # two alerts start with 'ab'
    assert run("alerts", "ack", "abc", env=env).returncode == 0  # a unique prefix is enough
    listed = run("alerts", "list", env={**env, "COLUMNS": "250"})
    assert "abc123def4" in listed.stdout and "yes" in listed.stdout
    assert "embedding_drift · prompt_embedding" in listed.stdout
    assert "meta-llama/Llama-3.1-8B-Instruct" in listed.stdout
    assert run("alerts", "ack", "nope", env=env).returncode == 1
    silences = run("alerts", "silences", env={**env, "COLUMNS": "250"})
    assert "rollout" in silences.stdout and "bot on meta-llama" in silences.stdout
    assert run("alerts", "unsilence", "1", env=env).returncode == 0
    assert [x.reason for x in active_silences(store.engine, datetime.now(UTC))] == [""]
    assert run("alerts", "unsilence", "1", env=env).returncode == 1  # already over
    assert "(over)" in run("alerts", "silences", "--all", env=env).stdout

    # every list in JSON, for scripts; settings from a file named on the command line
    import json

    [firing, inactive] = json.loads(run("alerts", "list", "--json", env=env).stdout)
    assert (firing["fingerprint"], firing["acknowledged"]) == ("abc123def456", True)
    assert firing["segment"] == "bot on meta-llama/Llama-3.1-8B-Instruct"
    assert {x["reason"] for x in json.loads(run("alerts", "silences", "--all", "--json",
                                                env=env).stdout)} == {"rollout", ""}
    assert json.loads(run("tickets", "list", "--json", env=env).stdout) == []
    settings = tmp_path / "llmwatch-alt.toml"
    settings.write_text(f'[storage]\nurl = "{url}"\n')
    by_file = run("--config", str(settings), "alerts", "list", "--json")
    assert by_file.returncode == 0, by_file.stderr
    assert len(json.loads(by_file.stdout)) == 2
    missing = run("--config", str(tmp_path / "nope.toml"), "status")
    assert missing.returncode == 2 and "Invalid value for '--config'" in missing.stderr


def test_kafka_cluster_ids_never_look_like_options() -> None:
    from llmwatch.local.kafka import _cluster_id

    ids = [_cluster_id() for _ in range(5000)]  # ~78 would start with '-' unguarded
    assert not [i for i in ids if i.startswith("-")] and len(set(ids)) == 5000
    assert all(len(i) == 22 for i in ids)


def test_init_creates_topics_and_tables(kafka: LocalKafka, tmp_path: Path) -> None:
    env = {"LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap,
           "LLMWATCH_TOPICS__EVENTS": f"init-{tmp_path.name[-6:]}",
           "LLMWATCH_STORAGE__URL": f"sqlite:///{tmp_path / 'init.db'}"}
    first = run("init", env=env)
    assert first.returncode == 0, first.stderr
    assert f"created init-{tmp_path.name[-6:]}" in first.stdout and "up to date" in first.stdout
    again = run("init", env=env)
    assert again.returncode == 0 and "topics exist" in again.stdout


def test_embedding_check_reports_the_space_and_its_relevance_head() -> None:
    """What a person checks after an install: every shipped model matches its provenance,
    similar texts are near, and the relevance head's threshold."""
    done = run("embedding", "check")
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "static-v5.npz: sha256" in out and "injection_head" in out
    assert "ready in" in out and "refund·refund" in out
    assert "relevance head: flags an answer at p(off-topic) ≥" in out
