"""Where notices go, behind one interface: Slack (Web API), a generic webhook (HMAC-signed
JSON), PagerDuty Events v2 and Prometheus Alertmanager (API v2). A sink sends one outbox
row; failures it can retry raise `DeliveryError` with the HTTP status and headers
(Retry-After) so the outbox backs off."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from llmwatch.detectors.segments import segment_name

METADATA_EVENT = "llmwatch_alert"
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


class DeliveryError(Exception):
    def __init__(self, status: int | None, headers: Mapping[str, Any], message: str) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers


@dataclass(frozen=True)
class OutgoingNotice:
    outbox_id: int
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    payload: dict[str, Any] | None


class Sink(Protocol):
    def already_sent(self, notice: OutgoingNotice) -> str | None: ...

    def send(self, notice: OutgoingNotice) -> str: ...


class SlackSink:
    """chat.postMessage with the outbox id as message metadata; a notice attempted before is
    looked up in the channel's history, so a lost reply never doubles it."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def already_sent(self, notice: OutgoingNotice) -> str | None:
        return self.find_posted(notice)

    def find_posted(self, notice: OutgoingNotice) -> str | None:
        """The ts of the channel's message carrying this outbox id, if there is one."""
        history = self._call(self.client.conversations_history, channel=notice.channel,
                             include_all_metadata=True, limit=200)
        for message in history.get("messages", []):
            meta = message.get("metadata") or {}
            if (meta.get("event_type") == METADATA_EVENT
                    and meta.get("event_payload", {}).get("outbox_id") == notice.outbox_id):
                return str(message.get("ts"))
        return None

    def send(self, notice: OutgoingNotice) -> str:
        response = self._call(
            self.client.chat_postMessage, channel=notice.channel, text=notice.text,
            blocks=notice.blocks,
            metadata={"event_type": METADATA_EVENT,
                      "event_payload": {"outbox_id": notice.outbox_id}})
        return str(response["ts"])

    @staticmethod
    def _call(method: Any, **kwargs: Any) -> Any:
        from slack_sdk.errors import SlackApiError

        try:
            return method(**kwargs)
        except SlackApiError as exc:
            raise DeliveryError(exc.response.status_code, exc.response.headers,
                                str(exc.response.get("error", exc))) from exc


class SlackWebhookSink:
    """Slack incoming webhook (one channel, fixed by the webhook); no history to consult,
    so a lost reply can repeat a message — prefer the Web API where exactly-once matters."""

    def __init__(self, url: str) -> None:
        from slack_sdk.webhook import WebhookClient

        self.client = WebhookClient(url, timeout=10)

    def already_sent(self, notice: OutgoingNotice) -> str | None:
        return None

    def send(self, notice: OutgoingNotice) -> str:
        response = self.client.send(text=notice.text, blocks=notice.blocks)
        if response.status_code >= 300:
            raise DeliveryError(response.status_code, response.headers or {},
                                f"webhook answered {response.status_code}: {response.body}")
        return "webhook"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of "{timestamp}.{body}", as the webhook's X-Llmwatch-Signature header."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookSink:
    """POSTs the notice as JSON, signed; Idempotency-Key lets the receiver drop repeats."""

    def __init__(self, url: str, secret: str, timeout: float = 10) -> None:
        if not secret:
            raise ValueError("a webhook sink needs a signing secret")
        self.url, self.secret, self.timeout = url, secret, timeout

    def already_sent(self, notice: OutgoingNotice) -> str | None:
        return None  # the receiver deduplicates by Idempotency-Key

    def send(self, notice: OutgoingNotice) -> str:
        body = json.dumps({"id": notice.outbox_id, "text": notice.text, "blocks": notice.blocks,
                           "alerts": (notice.payload or {}).get("alerts", [])}).encode()
        headers = {"Content-Type": "application/json",
                   "X-Llmwatch-Signature": signature(self.secret, int(time.time()), body),
                   "Idempotency-Key": f"llmwatch-outbox-{notice.outbox_id}"}
        return _post(self.url, body, headers, self.timeout)


class PagerDutySink:
    """Events API v2: the payload is built when the notice is decided, the routing key added
    only when it is sent (a credential is never stored in the outbox, and a rotated key takes
    effect at once); dedup_key is the alert's fingerprint, so PagerDuty itself folds repeats
    into one incident."""

    def __init__(self, routing_key: str, url: str = PAGERDUTY_URL, timeout: float = 10) -> None:
        self.routing_key, self.url, self.timeout = routing_key, url, timeout

    def already_sent(self, notice: OutgoingNotice) -> str | None:
        return None  # dedup_key makes a repeat harmless

    def send(self, notice: OutgoingNotice) -> str:
        body = json.dumps({**(notice.payload or {}), "routing_key": self.routing_key}).encode()
        return _post(self.url, body, {"Content-Type": "application/json"}, self.timeout)


def pagerduty_event(action: str, fingerprint: str, summary: str, segment: str, severity: str,
                    details: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "event_action": "resolve" if action == "resolve" else "trigger",
        "dedup_key": fingerprint,
        "payload": {"summary": summary[:1024], "source": "llmwatch",
                    "component": segment_name(segment),
                    "severity": PD_SEVERITY.get(severity, "warning"),
                    "custom_details": dict(details)},
    }


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> str:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.headers.get("X-Request-Id") or str(response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(exc.code, exc.headers, f"HTTP {exc.code}") from exc


# -- Prometheus Alertmanager ----------------------------------------------------------------
def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


def alertmanager_alert(*, fingerprint: str, detector: str, segment: str, metric: str,
                       severity: str, summary: str, starts_at: datetime,
                       ends_at: datetime | None = None, examples: Sequence[str] = (),
                       runbook_url: str | None = None, report_url: str | None = None
                       ) -> dict[str, Any]:
    """One alert as Alertmanager's API v2 takes it: labels to route, group and silence by
    (app, model, version, detector, metric, severity), annotations to read (the summary,
    examples as the privacy policy shows them, links). No `endsAt` while firing: the sink
    sets it when it posts, so a notice that waited in the outbox is not already over."""
    from llmwatch.detectors.segments import Segment

    try:
        seg = Segment.from_key(segment)
        where = {"app": seg.app, "model": seg.model, "model_version": seg.model_version or "",
                 "prompt_version": seg.prompt_version or ""}
    except ValueError:
        where = {"app": segment}
    labels = {"alertname": f"Llmwatch{_camel(detector)}", **where, "detector": detector,
              "metric": metric, "severity": severity, "llmwatch_fingerprint": fingerprint}
    annotations = {"summary": summary[:2000]}
    if examples:
        annotations["examples"] = "\n".join(e[:300] for e in examples[:3])
    if runbook_url:
        annotations["runbook_url"] = runbook_url
    if report_url:
        annotations["report_url"] = report_url
    doc: dict[str, Any] = {"labels": {k: str(v)[:1000] for k, v in labels.items() if v != ""},
                           "annotations": annotations, "startsAt": _rfc3339(starts_at),
                           "generatorURL": report_url or ""}
    if ends_at is not None:
        doc["endsAt"] = _rfc3339(ends_at)
    return doc


class AlertmanagerSink:
    """POST /api/v2/alerts. Alertmanager folds an alert posted again (same labels) into the
    one it has, so a repeat is harmless; a firing alert is held `hold_s` from each post, and
    the worker posts the firing ones again before that runs out (`AlertStage.refresh`)."""

    def __init__(self, url: str, hold_s: float = 240, timeout: float = 10) -> None:
        self.url, self.hold_s, self.timeout = url.rstrip("/"), hold_s, timeout

    def already_sent(self, notice: OutgoingNotice) -> str | None:
        return None

    def send(self, notice: OutgoingNotice) -> str:
        return self.post((notice.payload or {}).get("alerts", []))

    def post(self, alerts: Sequence[dict[str, Any]], now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        held = _rfc3339(now + timedelta(seconds=self.hold_s))
        body = json.dumps([a if "endsAt" in a else {**a, "endsAt": held} for a in alerts])
        return _post(f"{self.url}/api/v2/alerts", body.encode(),
                     {"Content-Type": "application/json"}, self.timeout)


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
