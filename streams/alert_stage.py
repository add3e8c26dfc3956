"""Findings → alert decisions → the outbox; and the outbox → Slack. Faust-free edges."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from llmwatch.alerts.decision import Alert, AlertState, Group, Policy, decide_round
from llmwatch.alerts.episodes import changes
from llmwatch.alerts.sinks import (
    PAGERDUTY_URL,
    AlertmanagerSink,
    PagerDutySink,
    Sink,
    SlackSink,
    SlackWebhookSink,
    WebhookSink,
    alertmanager_alert,
    pagerduty_event,
)
from llmwatch.alerts.slack_message import Routing, render
from llmwatch.alerts.ticket_sinks import GitHubIssues, JiraIssues, TicketSink, TrackerSink
from llmwatch.alerts.tickets import TicketPolicy
from llmwatch.config import AlertSettings
from llmwatch.detectors.findings import Finding
from llmwatch.detectors.redact import DEFAULT_PRIVACY, Privacy
from llmwatch.detectors.segments import ANY
from llmwatch.isolation import SegmentFailures
from llmwatch.report.digest import SlackReportSink
from llmwatch.report.service import load_html
from llmwatch.storage import Store
from llmwatch.storage.outbox import Notice, active_silences, deliver, enqueue, load_states
from llmwatch.storage.tickets import Tickets

from .ticket_stage import TicketStage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertRound:
    """What one round decided: the notices written to the outbox and the tickets opened or
    updated (their ids, for the tickets topic)."""

    notices: list[Notice] = field(default_factory=list)
    tickets: list[int] = field(default_factory=list)


class AlertStage:
    """Findings → alert states, notices and tickets. Called by the drift thread and by the
    watchdog's: a round's result is returned, never kept on the object, and rounds run one
    at a time (each reads the alert states, decides and writes them back)."""

    def __init__(self, store: Store, settings: AlertSettings, *, window: int = 1000,
                 privacy: Privacy = DEFAULT_PRIVACY) -> None:
        self.engine = store.engine
        self.tickets = TicketStage(
            store, TicketPolicy(settings.ticket_after_windows, privacy=privacy), window,
            [t.name for t in ticket_sinks(settings)])
        self.stored_tickets = Tickets(store.engine)
        self.settings = settings
        self.privacy = privacy
        self.policy = Policy(cooldown=timedelta(seconds=settings.cooldown_s),
                             repeat_every=timedelta(seconds=settings.repeat_every_s),
                             group_interval=timedelta(seconds=settings.group_interval_s),
                             min_sample=settings.min_sample)
        self.routing = Routing({"critical": settings.critical_channel}, settings.channel)
        self.failures = SegmentFailures("alerting")
        self._one_round = threading.Lock()
        self._refreshed: datetime | None = None

    def process(self, findings: Sequence[Finding], now: datetime) -> AlertRound:
        if not findings:
            return AlertRound()
        with self._one_round:
            return self._round(findings, now)

    def _round(self, findings: Sequence[Finding], now: datetime) -> AlertRound:
        alerts = [Alert.of(f) for f in findings]
        # examples were shown as the policy says when the finding was made; shown again here
        # so findings stored before a policy change (or an upgrade) follow today's policy
        examples = {a.fingerprint: [x for s in f.details.get("shifts", [])[:1]
                                    for e in s.get("examples", []) if (x := self.privacy.show(e))]
                    for a, f in zip(alerts, findings, strict=True)}
        policy = replace(self.policy, silences=active_silences(self.engine, now))
        before = load_states(self.engine)
        groups, states = decide_round(alerts, before, now, policy)
        notices: list[Notice] = []
        sent: list[Group] = []
        for group in groups:
            made: list[Notice] | None = None
            with self.failures.guard(group.segment):
                made = self._notices(group, examples)
            if made is None:  # not notified after all: decided again next round
                for a, _ in group.decisions:
                    states[a.fingerprint] = before.get(a.fingerprint, AlertState())
                continue
            notices.extend(made)
            sent.append(group)
        episodes = changes([(a, f.window.end) for a, f in zip(alerts, findings, strict=True)],
                           before, states, sent)
        enqueue(self.engine, notices, states, now, episodes)
        return AlertRound(notices, self.tickets.process(findings, states, now))

    def _notices(self, group: Group, examples: dict[str, list[str]]) -> list[Notice]:
        """The notices of one segment's group: Slack, and the webhook and PagerDuty if set."""
        text, blocks = render(group, examples)
        key = "|".join(sorted(f"{a.fingerprint}:{d.action}:{d.state.notifications}"
                              for a, d in group.decisions))
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        channel = self.routing.channel(group.severity)
        notices = [Notice(digest, channel, text, blocks)]
        alert_docs = [{"fingerprint": a.fingerprint, "detector": a.detector,
                       "segment": a.segment, "metric": a.metric, "severity": a.severity,
                       "action": d.action, "summary": a.summary, "evidence": a.evidence}
                      for a, d in group.decisions]
        if self.settings.webhook_url:
            notices.append(Notice(f"{digest}:webhook", channel, text, blocks, "webhook",
                                  {"alerts": alert_docs}))
        if self.settings.alertmanager_url:
            notices.append(Notice(f"{digest}:alertmanager", channel, text, [], "alertmanager",
                                  {"alerts": [self._am(a.fingerprint, a.detector, a.segment,
                                                       a.metric, a.severity, a.summary,
                                                       d.state.since or d.state.last_notified,
                                                       d.action == "resolve",
                                                       examples.get(a.fingerprint, ()))
                                              for a, d in group.decisions]}))
        if self.settings.pagerduty_routing_key:
            for a, d in group.decisions:
                if a.severity == "critical" or d.action == "resolve":
                    notices.append(Notice(
                        f"{digest}:pd:{a.fingerprint}", channel, text, [], "pagerduty",
                        pagerduty_event(d.action, a.fingerprint, a.summary,
                                        a.segment, a.severity, {"evidence": a.evidence})))
        return notices

    def evaluate_rules(self, rules: Sequence[Any], now: datetime) -> AlertRound:
        """The threshold rules over their windows up to `now`, decided like any finding."""
        from llmwatch.detectors import thresholds
        from llmwatch.storage.traffic import aggregates

        states = load_states(self.engine)
        firing = [(s.segment, s.metric) for s in states.values()
                  if s.detector == "threshold" and s.status == "firing"]
        found: list[Finding] = []
        for rule in rules:
            groups = [thresholds.Aggregate(
                thresholds.group_segment(rule.by, g.fields["app"] or "",
                                         g.fields.get("model") or ANY,
                                         g.fields.get("model_version", ANY),
                                         g.fields.get("prompt_version", ANY)),
                g.value, g.calls, g.fields.get("user_hash"))
                for g in aggregates(self.engine, rule.metric, rule.by,
                                    now - timedelta(seconds=rule.window_s), now)]
            found += thresholds.findings(rule, groups, now, firing)
        return self.process(found, now)

    def _am(self, fingerprint: str, detector: str, segment: str, metric: str, severity: str,
            summary: str, since: datetime | None, resolved: bool,
            examples: Sequence[str] = ()) -> dict[str, Any]:
        now = datetime.now(UTC)
        return alertmanager_alert(
            fingerprint=fingerprint, detector=detector, segment=segment, metric=metric,
            severity=severity, summary=summary, starts_at=since or now,
            ends_at=now if resolved else None, examples=examples,
            runbook_url=self.settings.runbook_url, report_url=self.settings.report_url)

    def refresh(self, now: datetime) -> int:
        """Post every firing alert to Alertmanager again every `alertmanager_resend_s`: it
        holds an alert only so long after each post, and one never re-sent would resolve by
        itself. A failure is tried again at the next tick."""
        if not self.settings.alertmanager_url:
            return 0
        every = timedelta(seconds=self.settings.alertmanager_resend_s)
        if self._refreshed is not None and now - self._refreshed < every:
            return 0
        from llmwatch.storage.alerts import firing_episodes

        alerts = [self._am(e.fingerprint, e.detector, e.segment, e.metric, e.severity,
                           e.summary, e.fired_at, False) for e in firing_episodes(self.engine)]
        if alerts:
            self._alertmanager().post(alerts, now)
        self._refreshed = now
        return len(alerts)

    def _alertmanager(self) -> AlertmanagerSink:
        assert self.settings.alertmanager_url
        return AlertmanagerSink(self.settings.alertmanager_url,
                                hold_s=4 * self.settings.alertmanager_resend_s)

    def ticket_documents(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The tickets touched in a round, for the tickets topic."""
        return self.stored_tickets.documents(ids)

    def deliver(self, on_failure: Callable[[], None] = lambda: None) -> int:
        """Send what is due through the configured sinks; the rest waits in the outbox."""
        sinks = self.sinks()
        sent = deliver(self.engine, sinks, on_failure=on_failure) if sinks else 0
        try:
            self.refresh(datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - Alertmanager down: tried again next tick
            log.warning("re-sending the firing alerts to Alertmanager failed (%s): tried "
                        "again in %.0f s", exc, self.settings.alertmanager_resend_s)
            on_failure()
        return sent

    def sinks(self) -> dict[str, Sink]:
        """The configured sinks, by the outbox's sink names."""
        s = self.settings
        sinks: dict[str, Sink] = {}
        if s.slack_token is not None:
            client = self._client()
            sinks["slack"] = SlackSink(client)
            sinks["slack_report"] = SlackReportSink(
                client, lambda report_id: load_html(self.engine, report_id))
        elif s.slack_webhook_url is not None:
            sinks["slack"] = SlackWebhookSink(s.slack_webhook_url.get_secret_value())
        if s.webhook_url and s.webhook_secret is not None:
            sinks["webhook"] = WebhookSink(s.webhook_url, s.webhook_secret.get_secret_value())
        if s.pagerduty_routing_key is not None:
            sinks["pagerduty"] = PagerDutySink(s.pagerduty_routing_key.get_secret_value(),
                                               s.pagerduty_url or PAGERDUTY_URL)
        if s.alertmanager_url:
            sinks["alertmanager"] = self._alertmanager()
        for tracker in ticket_sinks(s):  # GitHub, Jira: the tickets' issues
            sinks[tracker.name] = TrackerSink(tracker, self.stored_tickets)
        return sinks

    def _client(self) -> Any:
        from slack_sdk import WebClient

        token = self.settings.slack_token
        assert token is not None
        options: dict[str, Any] = {"token": token.get_secret_value(), "timeout": 10,
                                   "retry_handlers": []}
        if self.settings.slack_base_url:
            options["base_url"] = self.settings.slack_base_url
        return WebClient(**options)


def ticket_sinks(s: AlertSettings) -> list[TicketSink]:
    sinks: list[TicketSink] = []
    if s.github_repo and s.github_token is not None:
        sinks.append(GitHubIssues(s.github_api_url, s.github_repo,
                                  s.github_token.get_secret_value()))
    if s.jira_url and s.jira_project and s.jira_user and s.jira_token is not None:
        sinks.append(JiraIssues(s.jira_url, s.jira_project, s.jira_user,
                                s.jira_token.get_secret_value()))
    return sinks
