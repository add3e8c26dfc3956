"""Ticket sinks beyond the database: GitHub Issues and Jira, through their REST APIs.

Tickets reach them through the alert outbox, like every notice (`TrackerSink`): a ticket
opened or updated adds one outbox notice per tracker in the same transaction; delivery
creates the issue once (the ticket keeps its number or key) and updates it while the problem
persists, always with the ticket as it is when sent. A failure is retried with back-off; a
create whose reply was lost is found again by the ticket's marker before a second is made.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .markdown import tracker_text, tracker_title


class TicketSink(Protocol):
    name: str

    def create(self, title: str, body: str) -> str: ...

    def update(self, ref: str, title: str, body: str) -> None: ...

    def find(self, marker: str) -> str | None: ...

    def comment(self, ref: str, body: str) -> None: ...

    def has_comment(self, ref: str, marker: str) -> bool: ...


class TicketSource(Protocol):
    """The tickets as stored (`llmwatch.storage.tickets.Tickets`)."""

    def content(self, ticket_id: int) -> Any: ...

    def remember(self, ticket_id: int, tracker: str, ref: str) -> None: ...


def marker(fingerprint: str) -> str:
    """The line that tells a ticket's issue among a tracker's others."""
    return f"llmwatch ticket {fingerprint[:16]}"


class TrackerSink:
    """An outbox sink (alerts/sinks.py) over a tracker: the notice names a ticket; the issue
    is created or updated with the ticket's content at the time of sending."""

    def __init__(self, tracker: TicketSink, tickets: TicketSource) -> None:
        self.tracker, self.tickets = tracker, tickets

    def already_sent(self, notice: Any) -> str | None:
        """A create attempted before whose reply was lost: the issue exists, with the ticket's
        marker; it is recorded, and the notice is sent again as an update."""
        ticket = self.tickets.content(int(notice.payload["ticket_id"]))
        if ticket is None or self.tracker.name in ticket.external:
            return None
        found = self.tracker.find(marker(ticket.fingerprint))
        if found is not None:
            self.tickets.remember(ticket.ticket_id, self.tracker.name, found)
        return None

    def send(self, notice: Any) -> str:
        ticket = self.tickets.content(int(notice.payload["ticket_id"]))
        if ticket is None:  # erased or expired since: nothing to show
            return "gone"
        body = render_body(ticket.evidence, ticket.action, ticket.examples,
                           ticket.ticket_id, getattr(ticket, "replays", ())
                           ) + f"\n{marker(ticket.fingerprint)}\n"
        ref = ticket.external.get(self.tracker.name)
        if ref is not None:
            self.tracker.update(ref, ticket.title, body)
        else:
            ref = self.tracker.create(ticket.title, body)
            self.tickets.remember(ticket.ticket_id, self.tracker.name, ref)
        run = (notice.payload or {}).get("replay_run")
        replay = next((r for r in getattr(ticket, "replays", ()) if r["run_id"] == run), None)
        if replay is not None:  # a candidate replayed on the ticket: a comment, said once
            mark = f"llmwatch replay {replay['run_id']}"
            if not self.tracker.has_comment(ref, mark):
                self.tracker.comment(ref, replay_comment(replay) + f"\n{mark}\n")
        return ref


def render_body(evidence: Mapping[str, Any], action: str, examples: int, ticket_id: int,
                replays: Sequence[Mapping[str, Any]] = ()) -> str:
    """Markdown an ML engineer can act on; every name and label in it escaped (tracker_text)."""
    t = tracker_text
    tried = "".join(
        f"- {t(r['model'])}: **{t(str(r['decision']).replace('_', ' '))}** — "
        f"{t(r['headline'])} (`llmwatch replays show {r['run_id']}`)\n" for r in replays)
    shifts = "\n".join(
        f"- moved toward prompts about '{t(s['label'])}'" if s["kind"] == "toward" else
        f"- {s['kind']}: prompts about '{t(s['label'])}' "
        f"{s['reference_share']:.0%} → {s['current_share']:.0%}"
        for s in evidence.get("shifts", [])) or "- (none recorded)"
    return (
        f"**Suggested action:** {action}\n\n"
        f"**Where:** app {t(evidence.get('app'))}, model {t(evidence.get('model'))}, model "
        f"version {t(evidence.get('model_version'))}, prompt version "
        f"{t(evidence.get('prompt_version'))}\n\n"
        f"**What:** {evidence['detector']} on {evidence['metric']} — "
        f"{t(evidence['explanation'])}\n\n"
        f"**How sure:** {evidence['method']} statistic {evidence['statistic']:.4g} vs threshold "
        f"{evidence['threshold']:.4g}, p = {evidence.get('p_value')}, effect "
        f"{evidence.get('effect_size')}; firing {evidence['consecutive_windows']} windows in a "
        f"row since {evidence.get('firing_since')}\n\n**Topic shifts:**\n{shifts}\n\n"
        f"**Dataset:** {examples} chat examples (JSONL, PII-redacted): "
        f"`llmwatch tickets export {ticket_id} -o ticket-{ticket_id}.jsonl`\n"
        + (f"\n**Candidates replayed on this ticket's traffic:**\n{tried}" if tried else "")
    )


def replay_comment(replay: Mapping[str, Any]) -> str:
    """A replay's verdict as a comment on the ticket's issue (names escaped)."""
    t = tracker_text
    return (f"**Replayed a candidate on this ticket's traffic:** {t(replay['model'])} — "
            f"**{t(str(replay['decision']).replace('_', ' '))}**\n\n{t(replay['headline'])}"
            f"\n\nThe page: `llmwatch replays show {replay['run_id']} --html replay.html`\n")


class GitHubIssues:
    name = "github"

    def __init__(self, api_url: str, repo: str, token: str, labels: tuple[str, ...] = (
            "llmwatch", "retraining")) -> None:
        self.api, self.repo, self.token, self.labels = api_url.rstrip("/"), repo, token, labels

    def create(self, title: str, body: str) -> str:
        doc = _request("POST", f"{self.api}/repos/{self.repo}/issues", self._headers(),
                       {"title": tracker_title(title), "body": body,
                        "labels": list(self.labels)})
        return str(doc["number"])

    def update(self, ref: str, title: str, body: str) -> None:
        _request("PATCH", f"{self.api}/repos/{self.repo}/issues/{ref}", self._headers(),
                 {"title": tracker_title(title), "body": body})

    def find(self, marker: str) -> str | None:
        query = urllib.parse.urlencode({"labels": self.labels[0], "state": "all",
                                        "per_page": 100})
        issues = _request("GET", f"{self.api}/repos/{self.repo}/issues?{query}",
                          self._headers(), None)
        return next((str(i["number"]) for i in issues if marker in (i.get("body") or "")), None)

    def comment(self, ref: str, body: str) -> None:
        _request("POST", f"{self.api}/repos/{self.repo}/issues/{ref}/comments",
                 self._headers(), {"body": body})

    def has_comment(self, ref: str, marker: str) -> bool:
        comments = _request("GET", f"{self.api}/repos/{self.repo}/issues/{ref}/comments"
                            "?per_page=100", self._headers(), None)
        return any(marker in (c.get("body") or "") for c in comments)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json"}


class JiraIssues:
    name = "jira"

    def __init__(self, base_url: str, project: str, user: str, token: str,
                 issue_type: str = "Task") -> None:
        self.base, self.project, self.issue_type = base_url.rstrip("/"), project, issue_type
        self.auth = base64.b64encode(f"{user}:{token}".encode()).decode()

    def create(self, title: str, body: str) -> str:
        doc = _request("POST", f"{self.base}/rest/api/2/issue", self._headers(), {"fields": {
            "project": {"key": self.project}, "summary": tracker_title(title),
            "description": body,
            "issuetype": {"name": self.issue_type}, "labels": ["llmwatch"]}})
        return str(doc["key"])

    def update(self, ref: str, title: str, body: str) -> None:
        _request("PUT", f"{self.base}/rest/api/2/issue/{ref}", self._headers(),
                 {"fields": {"summary": tracker_title(title), "description": body}})

    def find(self, marker: str) -> str | None:
        jql = f'project = "{self.project}" AND labels = llmwatch AND text ~ "\\"{marker}\\""'
        query = urllib.parse.urlencode({"jql": jql, "fields": "key"})
        found = _request("GET", f"{self.base}/rest/api/2/search?{query}", self._headers(), None)
        return next((str(i["key"]) for i in found.get("issues", [])), None)

    def comment(self, ref: str, body: str) -> None:
        _request("POST", f"{self.base}/rest/api/2/issue/{ref}/comment", self._headers(),
                 {"body": body})

    def has_comment(self, ref: str, marker: str) -> bool:
        found = _request("GET", f"{self.base}/rest/api/2/issue/{ref}/comment", self._headers(),
                         None)
        return any(marker in (c.get("body") or "") for c in found.get("comments", []))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self.auth}"}


def _request(method: str, url: str, headers: Mapping[str, str], body: Any) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        **headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else {}
