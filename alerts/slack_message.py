"""A group of alert notices as one Slack message (Block Kit), and the channel it goes to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmwatch.detectors.segments import segment_name

from .decision import Group

EMOJI = {"fire": ":rotating_light:", "repeat": ":repeat:", "resolve": ":white_check_mark:"}


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# look-alikes for the characters that open mrkdwn formatting or end a code span
_FORMATTING = str.maketrans({"`": "\u02cb", "*": "\u2217", "~": "\u223c"})


def slack_escape(text: str) -> str:
    """Any text we did not write (prompts, topic labels, names) as Slack mrkdwn that shows it
    as written and does nothing else: `&<>` escaped (no mention, channel ping or link), line
    breaks and control characters as spaces (no forged alert line), backticks, asterisks and
    tildes as look-alikes (no code span to break out of, no bold or strike), and `://` broken
    so a URL is not made a link."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _CONTROL.sub(" ", text).translate(_FORMATTING)
    return text.replace("://", ":\u200b//")


def slack_plain(text: str) -> str:
    """Text we did not write for a `plain_text` object (a header): Slack does not parse
    mentions there, and to be sure of it whatever a client does, `<>` become look-alikes
    and control characters spaces."""
    return _CONTROL.sub(" ", text).replace("<", "\u2039").replace(">", "\u203a")


@dataclass(frozen=True)
class Routing:
    """Severity decides the channel."""

    channels: Mapping[str, str]  # severity → channel
    default: str = "#llm-alerts"

    def channel(self, severity: str) -> str:
        return self.channels.get(severity, self.default)


def render(group: Group, examples: Mapping[str, list[str]] | None = None
           ) -> tuple[str, list[dict[str, Any]]]:
    """Plain-text fallback and Block Kit blocks. Examples must already be PII-redacted."""
    lines = []
    name = segment_name(group.segment)
    blocks: list[dict[str, Any]] = [{
        "type": "header",
        "text": {"type": "plain_text",
                 "text": f"{group.severity.upper()}: {slack_plain(name)}"[:150]},
    }]
    for alert, decision in group.decisions:
        verb = {"fire": "firing", "repeat": "still firing", "resolve": "resolved"}[decision.action]
        since = decision.state.since
        when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
        line = (f"{EMOJI[decision.action]} *{alert.detector} · {alert.metric}* {verb}{when}: "
                f"{slack_escape(alert.summary)}")
        lines.append(line)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:2900]}})
        if alert.evidence and decision.action != "resolve":
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"how sure: {alert.evidence}"[:2900]}]})
        shown = (examples or {}).get(alert.fingerprint, [])[:3]
        if shown and decision.action != "resolve":
            quoted = " · ".join(f"“{slack_escape(e[:140])}”" for e in shown)
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"e.g. {quoted}"}]})
    first = group.decisions[0][0].fingerprint  # hex: safe to paste whatever the names are
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"inspect: `llmwatch alerts show {first}` · silence this segment: `llmwatch alerts "
        f"silence --like {first} --for 2h` · tickets: `llmwatch tickets list` (one opens if "
        "it keeps firing)")}]})
    text = f"[{group.severity}] {slack_escape(name)}: " + " | ".join(
        f"{a.metric} {d.action}" for a, d in group.decisions)
    return text, blocks
