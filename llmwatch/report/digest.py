"""The report's Slack digest: its top findings as one message, and the HTML file in the
message's thread (slack-sdk `files_upload_v2`). Both steps are looked up before they are
taken, so a retried delivery (a lost reply, a crash, a second worker) never doubles them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmwatch.alerts.sinks import OutgoingNotice, SlackSink
from llmwatch.alerts.slack_message import slack_escape

DIGEST_ITEMS = 5
SEVERITY_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:",
                  "info": ":large_blue_circle:", "ok": ":white_check_mark:"}


def digest(figures: dict[str, Any], *, html_path: str | None = None
           ) -> tuple[str, list[dict[str, Any]]]:
    """Plain-text fallback and Block Kit blocks of the report's top findings."""
    period = figures["period"]["label"]
    overall = figures["overall"]
    alerts = figures["alerts"]
    head = f"LLM drift report · {period}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(
            f"{overall['volume']['current']:,} calls ({overall['volume']['previous']:,} the "
            f"period before) · {len(figures['segments'])} segment(s) · {alerts['count']} "
            f"alert(s), {alerts['noise']} noise · {len(figures['tickets'])} open retraining "
            "ticket(s)")}]},
    ]
    lines = []
    for item in figures["summary"][:DIGEST_ITEMS]:
        line = (f"{SEVERITY_EMOJI.get(item['severity'], '')} {slack_escape(item['text'])}\n"
                f"    → {slack_escape(item['action'])}")
        lines.append(line)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:2900]}})
    more = len(figures["summary"]) - DIGEST_ITEMS
    where = f" · also at {html_path}" if html_path else ""
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(
        (f"{more} more finding(s) in the report. " if more > 0 else "")
        + f"The full report (HTML, opens offline) is in the thread{where}.")}]})
    return f"{head}: " + " | ".join(slack_escape(i["text"]) for i in figures["summary"][:3]), blocks


class SlackReportSink(SlackSink):
    """The digest with chat.postMessage (outbox id in its metadata), then the HTML file in
    its thread with files_upload_v2. `load` returns (filename, title, bytes) of a report."""

    def __init__(self, client: Any, load: Callable[[int], tuple[str, str, bytes]]) -> None:
        super().__init__(client)
        self.load = load

    def already_sent(self, notice: OutgoingNotice) -> str | None:
        ts = self.find_posted(notice)
        if ts is None:
            return None
        filename, _, _ = self.load(int((notice.payload or {})["report_id"]))
        return ts if self._file_in_thread(notice.channel, ts, filename) else None

    def send(self, notice: OutgoingNotice) -> str:
        ts = self.find_posted(notice)  # posted by an earlier attempt whose file failed?
        if ts is None:
            ts = super().send(notice)
        filename, title, content = self.load(int((notice.payload or {})["report_id"]))
        if not self._file_in_thread(notice.channel, ts, filename):
            self._call(self.client.files_upload_v2, channel=notice.channel, content=content,
                       filename=filename, title=title, thread_ts=ts,
                       initial_comment="The full report: open it in a browser (works offline).")
        return ts

    def _file_in_thread(self, channel: str, ts: str, filename: str) -> bool:
        replies = self._call(self.client.conversations_replies, channel=channel, ts=ts,
                             limit=200)
        return any(f.get("name") == filename for m in replies.get("messages", [])
                   for f in m.get("files") or [])
