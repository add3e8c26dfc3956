"""A replay's verdict for people: one offline HTML page in the weekly report's style, the JSON
beside it, and a Slack digest. Examples are shown as the privacy policy says (redacted by
default) and escaped (Jinja's autoescape; Slack's escaping in the digest)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from llmwatch.alerts.slack_message import slack_escape
from llmwatch.detectors.redact import DEFAULT_PRIVACY, Privacy
from llmwatch.detectors.replay_verdict import ANSWER_CHECKS
from llmwatch.schemas import user_turn

from .charts import bar_chart
from .html import num, pct

EMOJI = {"regression": ":red_circle:", "fixed": ":white_check_mark:",
         "not_fixed": ":large_orange_circle:", "no_worse": ":white_check_mark:"}
BADGE = {"regression": "critical", "fixed": "ok", "not_fixed": "warning", "no_worse": "ok"}
EXAMPLES = 8


def figures(run: dict[str, Any], rows: Sequence[Any], privacy: Privacy = DEFAULT_PRIVACY
            ) -> dict[str, Any]:
    """The page's content from the run record (`replay_runs`) and its calls (`replay_calls`):
    the verdict, each cluster's flag rates, and examples of fixes and regressions."""
    verdict = run["verdict"]
    fixed, broke = [], []
    clusters: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.status != "done" or not r.candidate:
            continue
        s_flags = {k for k, v in (r.serving.get("flags") or {}).items()
                   if v and k in ANSWER_CHECKS}
        c_flags = {k for k, v in (r.candidate.get("flags") or {}).items()
                   if v and k in ANSWER_CHECKS}
        c = clusters.setdefault(r.cluster or "(all)", {"n": 0, "serving": 0, "candidate": 0})
        c["n"] += 1
        c["serving"] += bool(s_flags)
        c["candidate"] += bool(c_flags)
        if c_flags - s_flags and len(broke) < EXAMPLES:
            broke.append(_example(r, s_flags, c_flags, privacy))
        elif s_flags and not c_flags and len(fixed) < EXAMPLES:
            fixed.append(_example(r, s_flags, c_flags, privacy))
    failed = [{"error": (r.error or "")[:300]} for r in rows if r.status == "failed"][:5]
    return {"run": {k: run[k] for k in ("run_id", "source", "candidate", "finding",
                                         "created_at", "updated_at")},
            "verdict": verdict, "clusters": [{"label": k, **v} for k, v in sorted(
                clusters.items(), key=lambda kv: -kv[1]["n"])],
            "fixed_examples": fixed if privacy.examples != "none" else [],
            "regressed_examples": broke if privacy.examples != "none" else [],
            "failures": failed,
            "generated_at": datetime.now(UTC).isoformat()}


def _example(r: Any, s_flags: set[str], c_flags: set[str], privacy: Privacy
             ) -> dict[str, Any]:
    """One example as the page shows it (redaction is costly: only for those shown)."""
    return {"role": r.role, "cluster": r.cluster,
            "prompt": privacy.show(user_turn(r.messages or []), 400),
            "serving": privacy.show(r.serving.get("answer") or "", 400),
            "candidate": privacy.show(r.candidate.get("answer") or "", 400),
            "serving_flags": sorted(s_flags), "candidate_flags": sorted(c_flags)}


def render(f: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("llmwatch.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    checks = f["verdict"]["checks"]
    chart = bar_chart([c["check"] for c in checks],
                      [[c["serving"]["rate"] or 0.0 for c in checks],
                       [c["candidate"]["rate"] or 0.0 for c in checks]],
                      ["serving", "candidate"]) if checks else ""
    return env.get_template("replay.html.j2").render(
        f=f, v=f["verdict"], badge=BADGE[f["verdict"]["decision"]], pct=pct, num=num,
        ms=_ms, usd=_usd, ci=_ci, chart=chart)


def digest(f: dict[str, Any], *, html_path: str | None = None
           ) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and Block Kit blocks: the decision, the finding, what got worse, cost."""
    v, run = f["verdict"], f["run"]
    model = run["candidate"]["model"]
    head = f"Replay {run['run_id']}: {model}"
    lines = [f"{EMOJI[v['decision']]} {slack_escape(v['headline'])}"]
    for c in v["checks"]:
        if c["fixed"] or c["regressed"]:
            lines.append(f"• {c['check']}: {pct(c['serving']['rate'], 1)} → "
                         f"{pct(c['candidate']['rate'], 1)} (fixed {c['fixed']}, newly "
                         f"flagged {c['regressed']}, McNemar p = {c['p_value']:.2g})")
    n = v["numbers"]
    lines.append(f"latency p50 {_ms(n['serving']['latency_ms_p50'])} → "
                 f"{_ms(n['candidate']['latency_ms_p50'])} · cost per 1,000 calls "
                 f"{_usd(n['serving']['cost_usd_per_1000'])} → "
                 f"{_usd(n['candidate']['cost_usd_per_1000'])}")
    where = f" · also at {html_path}" if html_path else ""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": slack_escape(head)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(
            f"{v['calls']} prompts replayed · `llmwatch replays show {run['run_id']}`"
            f"{where}")}]},
    ]
    return f"{slack_escape(head)}: {lines[0]}", blocks


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}"


def _ci(rate: dict[str, Any]) -> str:
    if rate.get("ci") is None:
        return ""
    lo, hi = rate["ci"]
    return f"[{100 * lo:.1f}–{100 * hi:.1f}]"
