"""The report's pure parts: periods and the schedule across time zones and DST, figures on
made-up records, alert episodes, the digest's escaping and the page's script policy."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from llmwatch.alerts.decision import Alert, AlertState, Decision, Group
from llmwatch.alerts.episodes import changes, is_noise
from llmwatch.detectors.drift_monitor import EventRecord
from llmwatch.detectors.segments import Segment
from llmwatch.report.digest import digest, slack_escape
from llmwatch.report.figures import (
    ReportInputs,
    SegmentData,
    centroid_distance,
    compute,
    normal_distance,
)
from llmwatch.report.html import render, script_hashes
from llmwatch.report.period import Period, last_run, parse_day_or_time, scheduled_period

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_scheduled_run_covers_the_local_days_before_it_across_dst() -> None:
    run = last_run("0 8 * * MON", BERLIN, datetime(2026, 3, 31, 12, tzinfo=UTC))
    assert run == datetime(2026, 3, 30, 6, tzinfo=UTC)  # 08:00 CEST
    week = scheduled_period(run, BERLIN, 7)
    assert week.start == datetime(2026, 3, 22, 23, tzinfo=UTC)  # Mon 23 Mar 00:00 CET
    assert week.end == datetime(2026, 3, 29, 22, tzinfo=UTC)  # Mon 30 Mar 00:00 CEST
    assert week.length == timedelta(days=7, hours=-1)  # the night the clocks went forward
    assert [d.day for d in week.days(BERLIN)] == [23, 24, 25, 26, 27, 28, 29]
    assert week.previous().end == week.start
    assert last_run("0 8 * * MON", BERLIN, run) == run  # at the run time itself: that run


def test_periods_refuse_what_they_cannot_mean() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Period(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="time-zone-aware"):
        Period(datetime(2026, 11, 1), datetime(2026, 11, 2))
    with pytest.raises(ValueError, match="not a date"):
        parse_day_or_time("last tuesday", BERLIN)
    assert parse_day_or_time("2026-11-16", BERLIN).utcoffset() == timedelta(hours=1)


def test_bad_schedule_settings_say_what_to_write() -> None:
    from llmwatch.config import Settings

    with pytest.raises(ValueError, match="not a cron expression"):
        Settings(report={"cron": "every monday"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="IANA time zone"):
        Settings(report={"timezone": "CET+1"})  # type: ignore[arg-type]


T0 = datetime(2026, 11, 16, tzinfo=UTC)


def records(n: int, start: datetime, *, centre: np.ndarray, refusals: float = 0.0,
            latency: float = 500.0, seed: int = 0) -> list[EventRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        v = centre + 0.5 * rng.normal(size=centre.shape)
        out.append(EventRecord(
            timestamp=start + timedelta(minutes=10 * i), prompt_text=f"question {i}",
            response_text=f"answer {i}", latency_ms=latency + rng.normal() * 10,
            input_tokens=50, output_tokens=20, cost_usd=0.0001, finish_reason="stop",
            prompt_vector=v, response_vector=v, flags={"refusal": bool(rng.random() < refusals)},
            event_id=f"e{seed}-{i}"))
    return out


def test_figures_mark_a_real_change_and_leave_chance_alone() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=16), rng.normal(size=16)
    week = Period(T0, T0 + timedelta(days=7))
    seg = SegmentData(
        "app/m/v1/p1", current=records(600, T0, centre=a + b, refusals=0.10, seed=1),
        previous=records(600, T0 - timedelta(days=7), centre=a, refusals=0.02, seed=2),
        baseline=records(600, T0 - timedelta(days=14), centre=a, refusals=0.02, seed=3))
    f = compute(ReportInputs(week, ZoneInfo("UTC"), [seg]))
    s = f["segments"][0]
    d = s["drift"]["prompt"]
    assert d["current"] > 10 * d["normal"] and d["previous"] < 3 * d["normal"]
    refusal = s["quality"]["refusal"]
    assert refusal["vs_previous"]["significant"] and refusal["vs_baseline"]["significant"]
    assert refusal["current"]["rate"] == pytest.approx(0.10, abs=0.03)
    assert not s["operations"]["latency_p95_ms"]["change_vs_previous"] > 0.05  # unchanged
    assert [p["n"] for p in d["daily"]] == [144] * 4 + [24] + [0, 0]  # 600 calls, 10 min apart
    assert any("refusals rose to" in i["text"] for i in f["summary"])


def test_the_report_says_which_tier_decided_a_rate() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=16)
    week = Period(T0, T0 + timedelta(days=7))
    current = records(600, T0, centre=a, refusals=0.10, seed=1)
    for r in current[:40]:  # a judge read forty of them, and its verdict stands
        r.decided_by["refusal"] = "judge"
    seg = SegmentData("app/m/v1/p1", current=current,
                      previous=records(600, T0 - timedelta(days=7), centre=a, refusals=0.02,
                                       seed=2), baseline=[])
    f = compute(ReportInputs(week, ZoneInfo("UTC"), [seg]))
    assert f["segments"][0]["quality"]["refusal"]["current"]["decided_by"] == {"judge": 40}
    assert any("a second opinion decided 40 by judge of 600 calls" in i["text"]
               for i in f["summary"])


def test_a_version_is_compared_with_its_predecessor_on_the_same_traffic() -> None:
    centre = np.ones(8)
    week = Period(T0, T0 + timedelta(days=7))
    old = SegmentData("app/m/v1/p1", records(400, T0, centre=centre, refusals=0.01, seed=1),
                      [], records(400, T0 - timedelta(days=9), centre=centre, seed=2))
    new = SegmentData("app/m/v2/p1", records(400, T0, centre=centre, refusals=0.12,
                                             latency=900, seed=3), [], [],
                      predecessor="app/m/v1/p1")
    f = compute(ReportInputs(week, ZoneInfo("UTC"), [old, new]))
    [v] = f["versions"]
    assert v["compared_with"] == "this period" and v["predecessor"] == "app/m/v1/p1"
    assert v["quality"]["refusal"]["significant"] and v["quality"]["refusal"]["new"] > 0.08
    assert v["operations"]["latency_p95_ms"]["change"] > 0.5
    assert any("does worse than app/m/v1/p1 on refusals" in i["text"] for i in f["summary"])
    retired = SegmentData("app/m/v1/p1", [], [], old.baseline)  # v1 served nothing this time
    f = compute(ReportInputs(week, ZoneInfo("UTC"), [new], predecessors=[retired]))
    [v] = f["versions"]
    assert v["compared_with"] == "its baseline" and v["quality"]["refusal"]["significant"]
    assert [s["key"] for s in f["segments"]] == ["app/m/v2/p1"]


def test_a_silent_week_is_news_not_calm() -> None:
    centre = np.ones(8)
    week = Period(T0, T0 + timedelta(days=7))
    quiet = SegmentData("app/m/v1/p1", [], records(300, T0 - timedelta(days=7), centre=centre),
                        records(300, T0 - timedelta(days=14), centre=centre, seed=1))
    [first, *_] = compute(ReportInputs(week, ZoneInfo("UTC"), [quiet]))["summary"]
    assert first["severity"] == "critical"
    assert "Traffic stopped: no call at all in this period (300 the period before)" in first["text"]
    # and a second silent week (nothing the week before either) is still news
    silent = SegmentData("app/m/v1/p1", [], [], records(300, T0 - timedelta(days=14),
                                                        centre=centre, seed=1))
    [first, *_] = compute(ReportInputs(week, ZoneInfo("UTC"), [silent]))["summary"]
    assert first["severity"] == "critical" and first["text"].startswith("Traffic stopped")


def test_the_normal_distance_shrinks_with_more_calls() -> None:
    base = np.random.default_rng(0).normal(size=(1000, 32)) + 1.0
    few, many = normal_distance(base, 50), normal_distance(base, 5000)
    assert few is not None and many is not None and few > 5 * many
    same = centroid_distance(base[:500], base[500:])
    assert same is not None and 0 <= same < 0.05
    assert normal_distance(base[:10], 100) is None  # too small a baseline to say


def test_alert_episodes_open_update_and_close() -> None:
    def alert(firing: bool) -> Alert:
        return Alert("fp1", "embedding_drift", "seg", "prompt_embedding", "critical", firing,
                     200, "topics moved")

    end = T0 + timedelta(hours=1)
    firing = AlertState("firing", since=T0, segment="seg", severity="critical", streak=1)
    group = Group("seg", [(alert(True), Decision("fire", "new", firing))])
    [opened] = changes([(alert(True), end)], {}, {"fp1": firing}, [group])
    assert opened.kind == "open" and opened.notified and opened.window_end == end
    [kept] = changes([(alert(True), end)], {"fp1": firing}, {"fp1": firing}, [])
    assert kept.kind == "update" and not kept.notified
    resolved = AlertState("resolved", segment="seg")
    [closed] = changes([(alert(False), end)], {"fp1": firing}, {"fp1": resolved}, [])
    assert closed.kind == "close"
    assert changes([(alert(False), end)], {}, {"fp1": AlertState()}, []) == []
    assert is_noise(1, False, True, False) and not is_noise(2, False, True, False)
    assert not is_noise(1, True, True, False) and not is_noise(1, False, False, False)


def test_the_digest_escapes_user_text_for_slack() -> None:
    assert slack_escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    week = Period(T0, T0 + timedelta(days=7))
    f = compute(ReportInputs(week, ZoneInfo("UTC"), []))
    f["summary"][0]["text"] = "prompts about '<!here>' grew"
    text, blocks = digest(f)
    assert "<!here>" not in str(blocks) and "&lt;!here&gt;" in str(blocks)
    assert blocks[0]["text"]["text"].startswith("LLM drift report")


def test_only_the_embedded_scripts_may_run() -> None:
    page = "<html><script>var a = 1;</script><p>x</p><SCRIPT type='x'>b()</SCRIPT></html>"
    expected = [hashlib.sha256(body.encode()).digest() for body in ("var a = 1;", "b()")]
    assert script_hashes(page) == " ".join(
        f"'sha256-{base64.b64encode(d).decode()}'" for d in expected)
    week = Period(T0, T0 + timedelta(days=7))
    html = render(compute(ReportInputs(week, ZoneInfo("UTC"), [])), evidently_html=None)
    # (in the attribute, the quotes are entity-escaped; the browser reads 'none')
    assert "script-src &#39;none&#39;" in html and "<script" not in html.lower()


def test_names_and_values_cannot_open_a_script_in_evidentlys_page(monkeypatch) -> None:  # noqa: ANN001
    from dataclasses import replace

    from llmwatch.report import evidently_section
    from llmwatch.report.evidently_section import build

    attack = "</script><script>document.title='PWNED'</script>"
    rng = np.random.default_rng(5)
    centre = rng.normal(size=16)
    current = [replace(r, finish_reason=attack) for r in records(60, T0, centre=centre)]
    seg = SegmentData(Segment(f"bot{attack}", "m").key, current=current, previous=[],
                      baseline=records(60, T0 - timedelta(days=7), centre=centre, seed=2))
    section = build([seg], max_segments=1)
    assert section.html is not None
    assert "PWNED" in section.html and attack not in section.html
    assert "<script>document.title" not in section.html.lower()
    # and if the data were not made inert, the page would be left out, not embedded
    monkeypatch.setattr(evidently_section, "inert", lambda text: text)
    assert build([seg], max_segments=1).html is None


def test_the_summary_leads_with_moves_against_the_baseline_and_names_new_apps() -> None:
    """p95 latency up against the baseline reaches the summary even when the last period was
    empty, and traffic from apps nobody saw before is named with its share."""
    centre = np.ones(8)
    week = Period(T0, T0 + timedelta(days=7))
    known = Segment("support-bot", "gpt-4o", "2024-08-06", "v3").key
    usual = SegmentData(known, records(500, T0, centre=centre, latency=800, seed=1), [],
                        records(500, T0 - timedelta(days=14), centre=centre, latency=500,
                                seed=2))
    new = [SegmentData(Segment(app, "gpt-4o-mini", None, None).key,
                       records(300, T0, centre=-centre, seed=3 + i), [], [])
           for i, app in enumerate(("search-bot", "email-drafts"))]
    f = compute(ReportInputs(week, ZoneInfo("UTC"), [usual, *new]))
    texts = [i["text"] for i in f["summary"]]
    first = next(t for t in texts if t.startswith("New this period"))
    assert "new apps: search-bot (300 calls, 27%), email-drafts (300 calls, 27%)" in first
    assert "all-traffic prompt drift" in first and texts.index(first) < 2
    latency = next(t for t in texts if "p95 latency" in t and "support-bot" in t)
    assert re.search(r"up 5\d% on the baseline \(51\d\.\d → 81\d\.\d\)", latency), latency
