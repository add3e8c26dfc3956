"""Configuration: environment over file over defaults; security settings passed through."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmwatch.config import Settings, load_settings
from llmwatch.streams.app import faust_credentials


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert s.storage.url == "sqlite:///llmwatch.db"
    assert s.topics.deadletter == "llmwatch.deadletter"


def test_file_then_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "llmwatch.toml"
    config.write_text('[kafka]\nbootstrap_servers = "file:9092"\n'
                      '[embedding]\nbatch_size = 16\n')
    monkeypatch.setenv("LLMWATCH_CONFIG", str(config))
    assert load_settings().kafka.bootstrap_servers == "file:9092"
    monkeypatch.setenv("LLMWATCH_KAFKA__BOOTSTRAP_SERVERS", "env:9092")
    s = load_settings()
    assert s.kafka.bootstrap_servers == "env:9092"  # environment wins over the file
    assert s.embedding.batch_size == 16  # the file still fills what the env leaves


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMWATCH_CONFIG", "/nonexistent/llmwatch.toml")
    with pytest.raises(FileNotFoundError, match="LLMWATCH_CONFIG names"):
        load_settings()


def test_bad_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMWATCH_EMBEDDING__BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="batch_size"):
        load_settings()


def test_sasl_ssl_settings_reach_both_kafka_clients(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    s = Settings.model_validate({"kafka": {
        "bootstrap_servers": "a:9093,b:9093", "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "svc", "sasl_password": "hunter2",
    }})
    opts = s.kafka.kafka_python_options()
    assert opts["bootstrap_servers"] == ["a:9093", "b:9093"]
    assert (opts["sasl_mechanism"], opts["sasl_plain_username"], opts["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "svc", "hunter2")
    creds = faust_credentials(s.kafka)
    assert (creds.username, creds.password, str(creds.mechanism.value)) == (
        "svc", "hunter2", "SCRAM-SHA-512")
    assert "hunter2" not in s.model_dump_json()  # secrets never printed


def test_every_setting_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    for section, field in Settings.model_fields.items():
        for name in field.annotation.model_fields:  # type: ignore[union-attr]
            assert f"`LLMWATCH_{section.upper()}__{name.upper()}`" in doc, (section, name)
