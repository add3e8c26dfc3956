"""Ticket sinks beyond the database: GitHub Issues and Jira, through their REST APIs.

A sink creates the issue once (the ticket keeps the external reference) and updates it while
the problem persists. A failed call leaves the reference empty; the next round tries again.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from .markdown import tracker_text, tracker_title


class TicketSink(Protocol):
    name: str

    def create(self, title: str, body: str) -> str: ...

    def update(self, ref: str, title: str, body: str) -> None: ...


def render_body(evidence: Mapping[str, Any], action: str, examples: int, ticket_id: int) -> str:
    """Markdown an ML engineer can act on; every name and label in it escaped (tracker_text)."""
    t = tracker_text
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
    )


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

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self.auth}"}


def _request(method: str, url: str, headers: Mapping[str, str], body: Any) -> Any:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        **headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else {}
