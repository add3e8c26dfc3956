"""The command line, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmwatch.local.kafka import LocalKafka, free_port

COMMANDS = ["worker", "simulate", "demo", "status", "event", "alerts", "tickets", "kafka",
            "config", "db", "schemas"]


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
    out = run("config", cwd=tmp_path)
    assert out.returncode == 0
    assert "llmwatch.toml" in out.stdout and "hunter2" not in out.stdout


def test_silence_and_ack_from_the_command_line(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from llmwatch.alerts.outbox import active_silences
    from llmwatch.storage import Store, upgrade
    from llmwatch.storage.tables import AlertStateRow

    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = Store(url)
    upgrade(store.engine)
    with Session(store.engine) as s, s.begin():
        s.add(AlertStateRow(fingerprint="abc", status="firing", since=datetime.now(UTC),
                            last_notified=None, notifications=1, segment="bot/m/-/-",
                            severity="warning", streak=2, acknowledged=False))
    env = {"LLMWATCH_STORAGE__URL": url}
    out = run("alerts", "silence", "--for", "2h", "--segment", "bot/*", "--reason", "rollout",
              env=env)
    assert out.returncode == 0, out.stderr
    [silence] = active_silences(store.engine, datetime.now(UTC))
    assert silence.segment == "bot/*" and silence.reason == "rollout"
    assert run("alerts", "silence", "--for", "soon", env=env).returncode == 2
    assert run("alerts", "ack", "abc", env=env).returncode == 0
    listed = run("alerts", "list", env=env)
    assert "abc" in listed.stdout and "yes" in listed.stdout
    assert run("alerts", "ack", "nope", env=env).returncode == 1


def test_kafka_cluster_ids_never_look_like_options() -> None:
    from llmwatch.local.kafka import _cluster_id

    ids = [_cluster_id() for _ in range(5000)]  # ~78 would start with '-' unguarded
    assert not [i for i in ids if i.startswith("-")] and len(set(ids)) == 5000
    assert all(len(i) == 22 for i in ids)
