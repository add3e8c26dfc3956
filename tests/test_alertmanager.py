"""llmwatch's alerts in Prometheus Alertmanager — the real one (Debian's
prometheus-alertmanager, installed by `scripts/setup.sh --test`), on a free loopback port:
a drift alert arrives with its labels, an Alertmanager silence holds it, it is posted again
while it fires, and it resolves."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_alert_delivery import Receiver  # Alertmanager's webhook receiver

from llmwatch.config import AlertSettings
from llmwatch.detectors.findings import Finding, Window
from llmwatch.detectors.segments import Segment
from llmwatch.local.kafka import free_port
from llmwatch.storage import Store
from llmwatch.storage.outbox import deliver
from llmwatch.streams.alert_stage import AlertStage

SEGMENT = Segment("support-bot", "gpt-4o", "gpt-4o-2024-08-06", "v7")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Receiver]]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert binary, ("Alertmanager is missing: `bash scripts/setup.sh --test` installs "
                    "Debian's prometheus-alertmanager")
    receiver = Receiver()
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "route": {"receiver": "hook", "group_by": ["app", "detector"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "hook", "webhook_configs": [
            {"url": receiver.url, "send_resolved": True}]}]}))
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen([binary, f"--config.file={config}",
                                f"--storage.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}",
                                "--cluster.listen-address="], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: _get(f"{url}/-/ready") is not None, "Alertmanager to be ready")
        yield url, receiver
    finally:
        process.terminate()
        process.wait(timeout=30)
        receiver.close()


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            body = response.read()
            return json.loads(body) if body.strip().startswith((b"[", b"{")) else body
    except OSError:
        return None


def wait(condition: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def finding(fired: bool) -> Finding:
    now = datetime.now(UTC)
    return Finding("embedding_drift", SEGMENT.key, "prompt_embedding", "centroid", fired,
                   0.03, 0.004, 1e-9, 0.3, Window(now, now, 1000, 1000),
                   "critical" if fired else "info", "new: prompts about 'stock, market'", {})


def alerts(url: str) -> list[dict[str, Any]]:
    return [a for a in _get(f"{url}/api/v2/alerts") or []
            if a["labels"].get("alertname") == "LlmwatchEmbeddingDrift"]


def test_a_drift_alert_arrives_is_silenced_in_alertmanager_and_resolves(
    store: Store, alertmanager: tuple[str, Receiver]
) -> None:
    url, receiver = alertmanager
    settings = AlertSettings(alertmanager_url=url, alertmanager_resend_s=1,
                             runbook_url="https://runbooks.example/llmwatch/drift")
    stage = AlertStage(store, settings)
    assert "alertmanager" in stage.sinks()

    stage.process([finding(True)], datetime.now(UTC))
    assert deliver(store.engine, stage.sinks()) == 1  # through the outbox, like every sink
    wait(lambda: alerts(url), "the alert in Alertmanager")
    [alert] = alerts(url)
    assert alert["labels"] == {
        "alertname": "LlmwatchEmbeddingDrift", "app": "support-bot", "model": "gpt-4o",
        "model_version": "gpt-4o-2024-08-06", "prompt_version": "v7",
        "detector": "embedding_drift", "metric": "prompt_embedding", "severity": "critical",
        "llmwatch_fingerprint": alert["labels"]["llmwatch_fingerprint"]}
    assert "stock, market" in alert["annotations"]["summary"]
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example/llmwatch/drift"
    assert alert["status"]["state"] == "active"
    wait(lambda: any(json.loads(body)["status"] == "firing" for _, body in receiver.requests),
         "Alertmanager's notification")

    # re-sent while it fires: Alertmanager's end of it moves on
    ends = alert["endsAt"]
    time.sleep(1.1)
    assert stage.refresh(datetime.now(UTC)) == 1
    wait(lambda: alerts(url)[0]["endsAt"] > ends, "the alert held longer")

    # an Alertmanager silence on the app holds it
    now = datetime.now(UTC)
    request = urllib.request.Request(f"{url}/api/v2/silences", method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps({
            "matchers": [{"name": "app", "value": "support-bot", "isRegex": False}],
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "on-call", "comment": "known: the new topic is expected"}).encode())
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        silence = json.loads(response.read())["silenceID"]
    wait(lambda: alerts(url)[0]["status"]["state"] == "suppressed", "the silence to hold")
    assert alerts(url)[0]["status"]["silencedBy"] == [silence]

    # the drift ends: resolved with endsAt
    stage.process([finding(False)], datetime.now(UTC) + timedelta(hours=1))
    deliver(store.engine, stage.sinks())
    wait(lambda: not [a for a in alerts(url) if a["status"]["state"] != "unprocessed"
                      and datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00"))
                      > datetime.now(UTC)], "the alert to resolve")
    assert stage.refresh(datetime.now(UTC) + timedelta(seconds=5)) == 0  # nothing fires
