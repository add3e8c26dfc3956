"""The report as one self-contained HTML file: our summary and figures (inline SVG plots, no
script of our own), with Evidently's page embedded in a sandboxed iframe. Jinja's autoescape
is on for everything, so a prompt that contains `<script>` is shown as text."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from .charts import line_chart
from .figures import QUALITY


def render(figures: dict[str, Any], *, evidently_html: str | None, evidently_note: str = "",
           evidently_version: str = "") -> str:
    env = Environment(loader=PackageLoader("llmwatch.report", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    days = list(figures["period"]["days"])
    generated = figures.get("generated_at")
    template = env.get_template("report.html.j2")
    return template.render(
        f=figures, before=before_words(figures), labels=QUALITY,
        generated=datetime.fromisoformat(generated).strftime("%Y-%m-%d %H:%M UTC")
        if generated else "",
        evidently_html=evidently_html, evidently_note=evidently_note,
        evidently_version=evidently_version, script_hashes=script_hashes(evidently_html or ""),
        pct=pct, dist=dist, num=num, rel=rel, hours=hours, change=change,
        drift_chart=lambda s: drift_chart(s, days), rate_chart=lambda q: rate_chart(q, days),
        ops_chart=lambda o: ops_chart(o, days))


def script_hashes(html: str) -> str:
    """CSP hashes of Evidently's inline scripts: they run (the srcdoc frame inherits this
    page's policy), nothing else can — no script from user data, even if escaping failed —
    and nothing is fetched from the network."""
    hashes = []
    for body in _SCRIPT.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return " ".join(dict.fromkeys(hashes))


_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def before_words(figures: dict[str, Any]) -> str:
    """'the 7 days before', 'the day before', 'the 20 minutes before'."""
    p = figures["period"]
    length = datetime.fromisoformat(p["end"]) - datetime.fromisoformat(p["start"])
    hours = length.total_seconds() / 3600
    if hours >= 23 and round(hours / 24) * 24 - hours <= 1:  # whole days (DST: 23 or 25 h)
        days = round(hours / 24)
        return "the day before" if days == 1 else f"the {days} days before"
    if hours >= 1:
        return f"the {hours:.3g} hours before"
    return f"the {length.total_seconds() / 60:.0f} minutes before"


def pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def dist(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def rel(value: float | None) -> Markup:
    if value is None:
        return Markup('<span class="muted">—</span>')
    css = "up" if value > 0.1 else ("down" if value < -0.1 else "")
    return Markup(f'<span class="{css}">{value:+.0%}</span>')


def hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def change(q: dict[str, Any]) -> Markup:
    parts = []
    for key, name in (("vs_previous", "last period"), ("vs_baseline", "baseline")):
        c = q[key]
        if c["significant"]:
            css = "up" if c["change"] > 0 else "down"
            parts.append(f'<span class="{css}">{c["change"] * 100:+.1f} pts vs {name}</span>')
    return Markup(", ".join(parts) or '<span class="muted">within chance</span>')


def drift_chart(s: dict[str, Any], days: list[str]) -> Markup:
    d = s["drift"]
    return line_chart(
        "Prompt and response drift by day (distance from the baseline)", days,
        [("prompts", [p["value"] for p in d["prompt"]["daily"]]),
         ("responses", [p["value"] for p in d["response"]["daily"]]),
         ("chance level for the day's calls", [p["normal"] for p in d["prompt"]["daily"]])],
        references=[("last period (prompts)", d["prompt"]["previous"])])


def rate_chart(q: dict[str, Any], days: list[str]) -> Markup:
    return line_chart(f"{q['label']} by day", days,
                      [("this period", [p["value"] for p in q["daily"]])],
                      references=[("last period", q["previous"]["rate"]),
                                  ("baseline", q["baseline"]["rate"])], percent=True)


def ops_chart(o: dict[str, Any], days: list[str]) -> Markup:
    return line_chart(f"{o['label']} by day", days,
                      [("this period", [p["value"] for p in o["daily"]])],
                      references=[("last period", o["previous"]), ("baseline", o["baseline"])])
