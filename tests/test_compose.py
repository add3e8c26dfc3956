"""docker-compose.yml, checked as far as it can be without a Docker engine: the settings it
sets exist, the commands it runs exist, data lands on volumes, ports stay on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmwatch.config import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def llmwatch_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("build")}


def test_every_llmwatch_variable_is_a_real_setting(compose: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, service in llmwatch_services(compose).items():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert env, name
        for key, value in env.items():
            assert key.startswith("LLMWATCH_"), key
            path = key.removeprefix("LLMWATCH_").lower().split("__")
            section, field = path
            assert field in type(getattr(Settings(), section)).model_fields, key
            # what compose substitutes when the variable is unset: ${NAME:-default}
            monkeypatch.setenv(key, re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value))
        loaded = Settings()  # and the values are valid
        assert loaded.kafka.bootstrap_servers == "kafka:19092"
        assert loaded.storage.url.startswith("postgresql+psycopg://")


def test_the_commands_it_runs_exist(compose: dict[str, Any]) -> None:
    commands = {tuple(s["command"]) for s in llmwatch_services(compose).values()}
    assert commands == {("llmwatch", "init"), ("llmwatch", "worker"), ("llmwatch", "review"),
                        ("llmwatch", "gateway")}
    for command in commands:
        out = subprocess.run([sys.executable, "-m", "llmwatch", *command[1:], "--help"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
    worker = compose["services"]["worker"]
    assert worker["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in worker and "9464/readyz" in " ".join(worker["healthcheck"]["test"])
    assert worker["environment"]["LLMWATCH_WORKER__METRICS_PORT"] == "9464"
    assert "container_name" not in worker and "ports" not in worker  # it scales


def test_data_lands_on_volumes_and_ports_stay_local(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka = services["kafka"]
    log_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert f"kafka-data:{log_dir}" in kafka["volumes"]
    assert any(v.startswith("reports:/reports") for v in services["worker"]["volumes"])
    assert services["worker"]["environment"]["LLMWATCH_REPORT__OUT_DIR"] == "/reports"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "mkdir /data /reports" in dockerfile and "chown llmwatch /data /reports" in dockerfile
    assert 'pip install ".[server]"' in dockerfile
