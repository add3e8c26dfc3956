"""The figures of a drift report, computed from plain records. Pure: storage and rendering sit
elsewhere (report/gather.py, report/html.py), so every number here is testable on arrays.

Every figure compares three samples of a segment: this period, the period before it, and the
segment's baseline (its drift reference). Embedding drift is the cosine distance of the
prompt (or response) centroid from the baseline's, beside the distance between two halves of
the baseline itself, so "0.12" reads against what is normal. Topic shifts come from the
baseline's clusters (detectors/explain.py); quality rates are tested against both other
periods with a two-proportion test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from llmwatch.alerts.episodes import is_noise
from llmwatch.detectors.drift_monitor import EventRecord
from llmwatch.detectors.embedding_drift import cosine_distance
from llmwatch.detectors.explain import NEW, ClusterModel, assign, explain, two_proportion_p
from llmwatch.detectors.redact import DEFAULT_PRIVACY, Privacy, shorten
from llmwatch.detectors.segments import segment_name

from .period import Period

# what the report shows of the per-call checks, in this order, with the words it uses
QUALITY = {
    "refusal": "refusals",
    "pii_response": "PII in responses",
    "pii_prompt": "PII in prompts",
    "toxicity": "toxic responses",
    "harmful_answer": "harmful requests answered",
    "injection": "prompt injections",
    "relevance": "off-topic answers",
    "negative_feedback": "negative feedback",
    "truncated": "truncated answers",
    "error": "errors",
}
SIGNIFICANT_P = 0.01  # a rate change needs this p-value and MIN_RATE_CHANGE to be called one
MIN_RATE_CHANGE = 0.02
MIN_DAY = 20  # calls a day needs for a daily point
EXAMPLES = 3


@dataclass(frozen=True)
class SegmentData:
    key: str
    current: list[EventRecord]
    previous: list[EventRecord]
    baseline: list[EventRecord]
    clusters: ClusterModel | None = None
    reference_size: int = 0
    predecessor: str | None = None  # the segment key of the version before this one
    counts: dict[str, int] = field(default_factory=dict)  # real counts, before sampling


@dataclass(frozen=True)
class ReportInputs:
    period: Period
    tz: ZoneInfo
    segments: list[SegmentData]
    # versions before those of `segments` that served no traffic in either period
    predecessors: list[SegmentData] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # fired, in the period
    episodes: list[dict[str, Any]] = field(default_factory=list)  # alerts of the period
    tickets: list[dict[str, Any]] = field(default_factory=list)  # open tickets
    generated_at: datetime | None = None
    privacy: Privacy = DEFAULT_PRIVACY  # what examples may show (`privacy.*` settings)


def compute(inputs: ReportInputs) -> dict[str, Any]:
    """All figures of the report, as JSON-ready data (the JSON file is exactly this)."""
    days = inputs.period.days(inputs.tz)
    segments = [_segment(s, days, inputs.period, inputs.privacy) for s in inputs.segments]
    everything = SegmentData(
        "all traffic", [r for s in inputs.segments for r in s.current],
        [r for s in inputs.segments for r in s.previous],
        [r for s in inputs.segments for r in s.baseline],
        counts={k: sum(s.counts.get(k, len(getattr(s, k))) for s in inputs.segments)
                for k in ("current", "previous", "baseline")})
    overall = _segment(everything, days, inputs.period, inputs.privacy)
    by_key = {s.key: s for s in [*inputs.predecessors, *inputs.segments]}
    versions = [_versions(s, by_key[s.predecessor]) for s in inputs.segments
                if s.predecessor and s.predecessor in by_key and s.current]
    alerts = _alerts(inputs.episodes, inputs.tickets)
    figures = {
        "period": {"start": inputs.period.start.isoformat(), "end": inputs.period.end.isoformat(),
                   "label": inputs.period.label(inputs.tz), "timezone": str(inputs.tz),
                   "previous_start": inputs.period.previous().start.isoformat(),
                   "days": [d.date().isoformat() for d in days]},
        "generated_at": inputs.generated_at.isoformat() if inputs.generated_at else None,
        "overall": overall,
        "segments": segments,
        "versions": versions,
        "findings": _findings(inputs.findings),
        "alerts": alerts,
        "tickets": inputs.tickets,
    }
    figures["summary"] = summary(figures)
    return figures


# -- one segment -----------------------------------------------------------------------------
def _segment(s: SegmentData, days: Sequence[datetime], period: Period,
             privacy: Privacy) -> dict[str, Any]:
    counts = {"current": s.counts.get("current", len(s.current)),
              "previous": s.counts.get("previous", len(s.previous)),
              "baseline": s.counts.get("baseline", len(s.baseline))}
    out: dict[str, Any] = {"key": s.key, "name": segment_name(s.key), "volume": counts,
                           "sampled": any(counts[k] > len(getattr(s, k)) for k in counts)}
    out["drift"] = {name: _drift(s, days, period, name) for name in ("prompt", "response")}
    out["topics"] = _topics(s, privacy)
    out["quality"] = {name: _rate_figure(s, days, period, name) for name in QUALITY}
    out["quality"] = {k: v for k, v in out["quality"].items() if v["current"]["checked"]}
    out["operations"] = _operations(s, days, period)
    out["flagged_examples"] = _flagged_examples(s.current, privacy)
    return out


def _vectors(records: Sequence[EventRecord], which: str) -> np.ndarray:
    vs = [r.prompt_vector if which == "prompt" else r.response_vector for r in records]
    vs = [v for v in vs if v is not None]
    return np.stack(vs).astype(np.float64) if vs else np.zeros((0, 0))


def centroid_distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """1 − cosine similarity of the two samples' mean embeddings (0 = same centre)."""
    if len(a) == 0 or len(b) == 0:
        return None
    return round(cosine_distance(a.mean(axis=0), b.mean(axis=0)), 5)


def _drift(s: SegmentData, days: Sequence[datetime], period: Period,
           which: str) -> dict[str, Any]:
    base = _vectors(s.baseline, which)
    current = _vectors(s.current, which)
    return {"current": centroid_distance(current, base),
            "previous": centroid_distance(_vectors(s.previous, which), base),
            "normal": normal_distance(base, len(current)),
            "daily": _daily_drift(s, days, period, which, base)}


def normal_distance(base: np.ndarray, n: int, *, seed: int = 0) -> float | None:
    """The centroid distance expected by chance for a sample of `n` calls like the baseline:
    the distance between two random halves of the baseline, scaled from the halves' sizes to
    (n, baseline) by the variance of a difference of means (1/n + 1/m)."""
    if len(base) < 40 or n < 1:
        return None
    order = np.random.default_rng(seed).permutation(len(base))
    h1, h2 = len(base) // 2, len(base) - len(base) // 2
    halves = centroid_distance(base[order[:h1]], base[order[h1:]])
    if halves is None:
        return None
    return round(halves * (1 / n + 1 / len(base)) / (1 / h1 + 1 / h2), 5)


def _daily_drift(s: SegmentData, days: Sequence[datetime], period: Period, which: str,
                 base: np.ndarray) -> list[dict[str, Any]]:
    daily = []
    for day_start, records in _by_day(s.current, days, period):
        v = _vectors(records, which)
        enough = len(v) >= MIN_DAY
        daily.append({"day": day_start.date().isoformat(), "n": len(records),
                      "value": centroid_distance(v, base) if enough else None,
                      "normal": normal_distance(base, len(v)) if enough else None})
    return daily


def _topics(s: SegmentData, privacy: Privacy) -> list[dict[str, Any]]:
    if s.clusters is None or len(s.current) < 50:
        return []
    cur = _vectors(s.current, "prompt")
    why = explain(s.clusters, cur, [r.prompt_text for r in s.current],
                  reference_size=max(s.reference_size, 1), privacy=privacy)
    prev = _vectors(s.previous, "prompt")
    prev_assigned = assign(s.clusters, prev) if len(prev) else np.zeros(0, dtype=int)
    out = []
    for shift in why.shifts:
        previous_share = None
        if len(prev_assigned) >= 50:
            if shift.kind == "new":
                previous_share = float(np.mean(prev_assigned == NEW))
            elif shift.label in s.clusters.labels:
                c = s.clusters.labels.index(shift.label)
                previous_share = float(np.mean(prev_assigned == c))
        out.append({"kind": shift.kind, "label": shift.label,
                    "baseline_share": round(shift.reference_share, 4),
                    "previous_share": None if previous_share is None else round(previous_share, 4),
                    "current_share": round(shift.current_share, 4),
                    "examples": shift.examples})
    return out


def _flagged(r: EventRecord, name: str) -> bool | None:
    if name == "negative_feedback":
        return r.negative_feedback
    return r.flags.get(name)


def rate(records: Sequence[EventRecord], name: str) -> dict[str, Any]:
    values = [v for v in (_flagged(r, name) for r in records) if v is not None]
    k, n = sum(values), len(values)
    out: dict[str, Any] = {"flagged": k, "checked": n, "rate": round(k / n, 5) if n else None}
    decided: dict[str, int] = {}
    for r in records:  # calls whose flag a second opinion decided (the rest: the cheap check)
        tier = r.decided_by.get(name)
        if tier is not None:
            decided[tier] = decided.get(tier, 0) + 1
    if decided:
        out["decided_by"] = decided
    return out


def rates_p(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """p-value that two `rate` figures are the same rate (None if one checked nothing)."""
    if min(a["checked"], b["checked"]) == 0:
        return None
    return two_proportion_p(a["flagged"] / a["checked"], a["checked"],
                            b["flagged"] / b["checked"], b["checked"])


def _rate_figure(s: SegmentData, days: Sequence[datetime], period: Period,
                 name: str) -> dict[str, Any]:
    cur, prev, base = (rate(x, name) for x in (s.current, s.previous, s.baseline))
    out: dict[str, Any] = {"label": QUALITY[name], "current": cur, "previous": prev,
                           "baseline": base}
    for other, key in ((prev, "vs_previous"), (base, "vs_baseline")):
        p = rates_p(cur, other)
        change = (None if cur["rate"] is None or other["rate"] is None
                  else round(cur["rate"] - other["rate"], 5))
        out[key] = {"change": change, "p_value": p,
                    "significant": bool(p is not None and change is not None
                                        and p < SIGNIFICANT_P
                                        and abs(change) >= MIN_RATE_CHANGE)}
    out["daily"] = []
    for d, rs in _by_day(s.current, days, period):
        r = rate(rs, name)  # a day's point needs MIN_DAY checked calls (feedback is sparse)
        out["daily"].append({"day": d.date().isoformat(), "n": r["checked"],
                             "value": r["rate"] if r["checked"] >= MIN_DAY else None})
    return out


def _values(records: Sequence[EventRecord], attr: str) -> np.ndarray:
    vs = [getattr(r, attr) for r in records]
    return np.array([v for v in vs if v is not None], dtype=float)


def _p(q: float, attr: str) -> Callable[[Sequence[EventRecord]], float | None]:
    def f(rs: Sequence[EventRecord]) -> float | None:
        v = _values(rs, attr)
        return round(float(np.quantile(v, q)), 3) if len(v) else None
    return f


def _mean(attr: str) -> Callable[[Sequence[EventRecord]], float | None]:
    def f(rs: Sequence[EventRecord]) -> float | None:
        v = _values(rs, attr)
        return round(float(v.mean()), 3) if len(v) else None
    return f


def _cost_per_1k(rs: Sequence[EventRecord]) -> float | None:
    v = _values(rs, "cost_usd")
    return round(float(v.mean()) * 1000, 4) if len(v) else None


OPERATIONS: dict[str, tuple[str, Callable[[Sequence[EventRecord]], float | None]]] = {
    "latency_p50_ms": ("median latency (ms)", _p(0.5, "latency_ms")),
    "latency_p95_ms": ("p95 latency (ms)", _p(0.95, "latency_ms")),
    "input_tokens_mean": ("input tokens per call", _mean("input_tokens")),
    "output_tokens_mean": ("output tokens per call", _mean("output_tokens")),
    "cost_per_1k_usd": ("cost per 1,000 calls (USD)", _cost_per_1k),
}


def _operations(s: SegmentData, days: Sequence[datetime], period: Period) -> dict[str, Any]:
    out: dict[str, Any] = {}
    per_day = list(_by_day(s.current, days, period))
    for name, (label, f) in OPERATIONS.items():
        cur, prev, base = f(s.current), f(s.previous), f(s.baseline)
        out[name] = {"label": label, "current": cur, "previous": prev, "baseline": base,
                     "change_vs_previous": _relative(cur, prev),
                     "change_vs_baseline": _relative(cur, base),
                     "daily": [{"day": d.date().isoformat(),
                                "value": f(rs) if len(rs) >= MIN_DAY else None, "n": len(rs)}
                               for d, rs in per_day]}
    def total(records: Sequence[EventRecord], real: int) -> float:  # scaled up if sampled
        return round(float(_values(records, "cost_usd").sum()) * real / max(len(records), 1), 4)

    cur = total(s.current, s.counts.get("current", len(s.current)))
    prev = total(s.previous, s.counts.get("previous", len(s.previous)))
    out["cost_total_usd"] = {"label": "total cost (USD)", "current": cur, "previous": prev,
                             "baseline": None, "change_vs_previous": _relative(cur, prev),
                             "change_vs_baseline": None, "daily": []}
    return out


def _relative(cur: float | None, ref: float | None) -> float | None:
    if cur is None or ref is None or ref == 0:
        return None
    return round(cur / ref - 1, 4)


def _flagged_examples(records: Sequence[EventRecord], privacy: Privacy
                      ) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if privacy.examples == "none":
        return out
    for name in QUALITY:
        if name in ("negative_feedback", "error", "truncated"):
            continue
        texts: list[str] = []
        for r in records:
            if _flagged(r, name):
                text = privacy.show(_shown(r, name), limit=200) or ""
                if text not in texts:
                    texts.append(text)
            if len(texts) == EXAMPLES:
                break
        if texts:
            out[name] = texts
    return out


def _shown(r: EventRecord, name: str) -> str:
    """What a check looked at: the response, the prompt, or both (relevance, harm)."""
    if name in ("refusal", "toxicity", "pii_response"):
        return r.response_text or ""
    if name in ("relevance", "harmful_answer"):  # the answer beside what it answers
        return f"{shorten(r.prompt_text, 100)} ⇢ {r.response_text or ''}"
    return r.prompt_text


def _by_day(records: Sequence[EventRecord], days: Sequence[datetime],
            period: Period) -> list[tuple[datetime, list[EventRecord]]]:
    buckets: list[list[EventRecord]] = [[] for _ in days]
    for r in records:
        if not period.contains(r.timestamp):
            continue
        for i in range(len(days) - 1, -1, -1):
            if r.timestamp >= days[i]:
                buckets[i].append(r)
                break
    return list(zip(days, buckets, strict=True))


# -- versions, findings, alerts --------------------------------------------------------------
def _versions(s: SegmentData, before: SegmentData) -> dict[str, Any]:
    """A version against its predecessor, on the same period's traffic when both served it
    (else the predecessor's last period, else its baseline)."""
    choices = (("this period", before.current), ("last period", before.previous),
               ("its baseline", before.baseline))
    label, old = next(((n, rs) for n, rs in choices if len(rs) >= MIN_DAY), choices[-1])
    rows = {}
    for name in ("refusal", "relevance", "toxicity", "negative_feedback"):
        a, b = rate(s.current, name), rate(old, name)
        if a["checked"] and b["checked"]:
            p = rates_p(a, b)
            rows[name] = {"label": QUALITY[name], "new": a["rate"], "old": b["rate"],
                          "p_value": p, "significant": bool(p is not None and p < SIGNIFICANT_P
                                                            and a["rate"] != b["rate"])}
    ops = {}
    for name in ("latency_p95_ms", "cost_per_1k_usd", "output_tokens_mean"):
        label_, f = OPERATIONS[name]
        new, prior = f(s.current), f(old)
        ops[name] = {"label": label_, "new": new, "old": prior, "change": _relative(new, prior)}
    return {"segment": s.key, "predecessor": before.key, "name": segment_name(s.key),
            "predecessor_name": segment_name(before.key), "compared_with": label,
            "calls": len(s.current), "predecessor_calls": len(old),
            "prompt_distance": centroid_distance(_vectors(s.current, "prompt"),
                                                 _vectors(old, "prompt")),
            "response_distance": centroid_distance(_vectors(s.current, "response"),
                                                   _vectors(old, "response")),
            "quality": rows, "operations": ops}


def _findings(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, int] = {}
    for r in rows:
        k = f"{r['detector']}:{r['metric']}"
        by[k] = by.get(k, 0) + 1
    return {"fired": len(rows), "by_detector_metric": dict(sorted(by.items(),
                                                                  key=lambda kv: -kv[1]))}


def _alerts(episodes: Sequence[dict[str, Any]], tickets: Sequence[dict[str, Any]]
            ) -> dict[str, Any]:
    ticketed = {t["fingerprint"] for t in tickets}
    items = []
    for e in episodes:
        resolved = e["status"] == "resolved"
        hours = None
        if resolved and e.get("first_window_end") and e.get("resolved_window_end"):
            hours = round((e["resolved_window_end"] - e["first_window_end"]).total_seconds()
                          / 3600, 2)
        noise = is_noise(e["windows"], e["acknowledged"], resolved, e["fingerprint"] in ticketed)
        items.append({"segment": e["segment"], "name": segment_name(e["segment"]),
                      "detector": e["detector"], "metric": e["metric"],
                      "severity": e["severity"], "summary": e["summary"],
                      "status": e["status"], "windows": e["windows"], "notified": e["notified"],
                      "acknowledged": e["acknowledged"], "hours_to_resolve": hours,
                      "noise": noise,
                      "fired_at": e["first_window_end"].isoformat()
                      if e.get("first_window_end") else None})
    times = [i["hours_to_resolve"] for i in items if i["hours_to_resolve"] is not None]
    return {"count": len(items),
            "critical": sum(i["severity"] == "critical" for i in items),
            "still_firing": sum(i["status"] == "firing" for i in items),
            "resolved": len(times),
            "median_hours_to_resolve": round(median(times), 2) if times else None,
            "max_hours_to_resolve": max(times) if times else None,
            "noise": sum(i["noise"] for i in items),
            "items": items}


# -- the words on top ------------------------------------------------------------------------
def summary(f: dict[str, Any]) -> list[dict[str, str]]:
    """What changed and what to do, in plain words, most important first."""
    out: list[tuple[int, dict[str, str]]] = []
    tickets_by_segment: dict[str, list[dict[str, Any]]] = {}
    for t in f["tickets"]:
        tickets_by_segment.setdefault(t["segment"], []).append(t)
    volume = f["overall"]["volume"]
    if volume["current"] == 0 and (volume["previous"] or volume["baseline"]):
        out.append((0, {
            "severity": "critical", "segment": "",
            "text": f"Traffic stopped: no call at all in this period ({volume['previous']:,} "
                    "the period before). A silent period is a broken pipeline until shown "
                    "otherwise.",
            "action": "check that the apps still send their events (SDK drop counters), that "
                      "the workers consume (`llmwatch status`: lag, workers) and the "
                      "dead-letter topic"}))
    elif volume["previous"] >= 100 and volume["current"] < volume["previous"] / 2:
        out.append((0 if volume["current"] == 0 else 1, {
            "severity": "critical" if volume["current"] == 0 else "warning", "segment": "",
            "text": f"Traffic fell to {volume['current']:,} calls from {volume['previous']:,} "
                    "the period before.",
            "action": "check that the apps still send their events (SDK drop counters, "
                      "the dead-letter topic: `llmwatch status`)"}))
    for s in f["segments"]:
        seg, name = s["key"], s["name"]
        if volume["current"] and s["volume"]["current"] == 0 and s["volume"]["previous"] >= 20:
            out.append((0, {
                "severity": "critical", "segment": seg,
                "text": f"Traffic of {name} stopped: no call in this period "
                        f"({s['volume']['previous']:,} the period before).",
                "action": "check that this app still sends its events, or silence it if it "
                          "was retired"}))
        d = s["drift"]["prompt"]
        grown = [t for t in s["topics"] if t["kind"] in ("new", "grew")]
        if grown:
            t = grown[0]
            was = t["baseline_share"]
            moved = (f"prompts about '{t['label']}' went from {was:.0%} of traffic "
                     f"(baseline) to {t['current_share']:.0%}")
            if t["previous_share"] is not None:
                moved += f" ({t['previous_share']:.0%} last period)"
            distance = (f"; prompt drift {d['current']:.3f} from the baseline, where "
                        f"{d['normal']:.3f} is normal" if d["current"] is not None
                        and d["normal"] is not None else "")
            tickets = tickets_by_segment.get(seg, [])
            action = ("fine-tune on the ready dataset of "
                      + ", ".join(f"ticket #{x['id']}" for x in tickets)
                      + f" (llmwatch tickets export {tickets[0]['id']})" if tickets else
                      "check whether the model handles these prompts well; if not, add "
                      "them to a fine-tuning set or give the app a knowledge source for them")
            out.append((0 if t["current_share"] - was >= 0.1 else 1, {
                "severity": "critical" if t["current_share"] - was >= 0.1 else "warning",
                "segment": seg, "text": f"{name}: {moved}{distance}.", "action": action}))
        for name, q in s["quality"].items():
            vs = q["vs_baseline"] if q["vs_baseline"]["significant"] else q["vs_previous"]
            if not vs["significant"] or (vs["change"] or 0) <= 0:
                continue
            ref = "the baseline" if vs is q["vs_baseline"] else "last period"
            ref_rate = q["baseline" if vs is q["vs_baseline"] else "previous"]["rate"]
            decided = q["current"].get("decided_by") or {}
            who = "" if not decided else " (a second opinion decided " + ", ".join(
                f"{n} by {tier}" for tier, n in sorted(decided.items())) + " of " + str(
                q["current"]["checked"]) + " calls)"
            out.append((1, {"severity": "warning", "segment": seg,
                            "text": f"{name}: {q['label']} rose to {q['current']['rate']:.1%} "
                                    f"from {ref_rate:.1%} ({ref}){who}.",
                            "action": _quality_action(name)}))
    out += _new_traffic(f)
    out += _operation_moves(f)
    for v in f["versions"]:
        worse = [r["label"] for r in v["quality"].values()
                 if r["significant"] and (r["new"] or 0) > (r["old"] or 0)]
        if worse:
            out.append((1, {"severity": "warning", "segment": v["segment"],
                            "text": f"{v['name']} does worse than {v['predecessor_name']} on "
                                    f"{', '.join(worse)}.",
                            "action": "compare the two versions' flagged examples below; "
                                      "consider rolling back"}))
    a = f["alerts"]
    if a["count"]:
        out.append((3, {"severity": "info", "segment": "",
                        "text": f"{a['count']} alert(s) this period, {a['still_firing']} still "
                                f"firing, {a['noise']} looked like noise (one window, resolved "
                                "by itself, nobody acknowledged).",
                        "action": "raise drift.fdr_q or the minimum effects if noise "
                                  "dominates" if a["noise"] > a["count"] / 2 else
                                  "see the alert table below"}))
    if not out:
        out.append((9, {"severity": "ok", "segment": "",
                        "text": "Nothing moved beyond chance this period: prompts, answers, "
                                "quality rates, latency and cost are where they were.",
                        "action": "nothing to do"}))
    out.sort(key=lambda x: x[0])
    return [item for _, item in out]


MOVES = ("latency_p95_ms", "cost_per_1k_usd", "input_tokens_mean", "output_tokens_mean")
MIN_CALLS_TO_COMPARE = 100  # a reference period with fewer calls says too little


def _operation_moves(f: dict[str, Any]) -> list[tuple[int, dict[str, str]]]:
    """The largest moves of latency, cost and tokens, against the baseline and against the
    last period (whichever has traffic to compare with), all traffic first; largest first."""
    moves: list[tuple[float, dict[str, str]]] = []
    for s in [f["overall"], *f["segments"]]:
        whole = s is f["overall"]
        for name in MOVES:
            o = s["operations"][name]
            refs = [(ref, o[ref], o[f"change_vs_{ref}"]) for ref in ("baseline", "previous")
                    if s["volume"][ref] >= MIN_CALLS_TO_COMPARE
                    and o[f"change_vs_{ref}"] is not None]
            if not refs:
                continue
            ref, was, change = max(refs, key=lambda r: abs(r[2]))
            worse = change >= 0.2 or (name == "output_tokens_mean" and change <= -0.3)
            if not worse:
                continue
            other = [f"{c:+.0%} on the {r}" for r, _, c in refs if r != ref]
            where = "All traffic" if whole else s["name"]
            text = (f"{where}: {o['label']} {'up' if change > 0 else 'down'} {abs(change):.0%} "
                    f"on the {ref} ({was:,.4g} → {o['current']:,.4g})"
                    + (f"; {other[0]}" if other else "") + ".")
            action = {"latency_p95_ms": "look at the model/prompt version and output length "
                                        "changes of the period, and the provider's status",
                      "cost_per_1k_usd": "look at tokens per call and the model mix: a new "
                                         "model or a longer prompt template",
                      "input_tokens_mean": "a prompt template or retrieved context grew: check "
                                           "the prompt versions of the period",
                      "output_tokens_mean": "answers got longer (cost, latency) or shorter "
                                            "(truncation?): read the examples below"}[name]
            moves.append((abs(change) + (10 if whole else 0), {
                "severity": "warning" if abs(change) >= 0.5 else "info",
                "segment": "" if whole else s["key"], "text": text, "action": action}))
    moves.sort(key=lambda m: -m[0])
    return [(1 if item["severity"] == "warning" else 2, item) for _, item in moves]


def _new_traffic(f: dict[str, Any]) -> list[tuple[int, dict[str, str]]]:
    """Apps, models and versions serving traffic now that served none in the baseline or the
    last period, and how much of all traffic (and of its prompt drift) they are."""
    from llmwatch.detectors.segments import Segment

    def parse(key: str) -> Segment | None:
        try:
            return Segment.from_key(key)
        except ValueError:
            return None

    known = [seg for s in f["segments"]
             if (s["volume"]["previous"] or s["volume"]["baseline"])
             and (seg := parse(s["key"])) is not None]
    new = [(seg, s) for s in f["segments"]
           if s["volume"]["current"] and not s["volume"]["previous"]
           and not s["volume"]["baseline"] and (seg := parse(s["key"])) is not None]
    if not new:
        return []
    total = max(f["overall"]["volume"]["current"], 1)
    kinds: dict[str, list[str]] = {"app": [], "model": [], "version": []}
    calls = 0
    for seg, s in new:
        calls += s["volume"]["current"]
        share = f"{s['volume']['current']:,} calls, {s['volume']['current'] / total:.0%}"
        if not any(k.app == seg.app for k in known):
            kinds["app"].append(f"{seg.app} ({share})")
        elif not any(k.app == seg.app and k.model == seg.model for k in known):
            kinds["model"].append(f"{seg.model} for {seg.app} ({share})")
        else:
            kinds["version"].append(f"{segment_name(s['key'])} ({share})")
    said = [f"new {kind}{'s' if len(names) > 1 else ''}: {', '.join(names[:5])}"
            + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            for kind, names in kinds.items() if names]
    d = f["overall"]["drift"]["prompt"]
    drift = (f"; all-traffic prompt drift {d['current']:.3f} from the baseline"
             + (f" ({d['normal']:.3f} is normal)" if d["normal"] is not None else "")
             if d["current"] is not None else "")
    share = calls / total
    return [(0 if share >= 0.1 else 1, {
        "severity": "warning" if share >= 0.1 else "info", "segment": "",
        "text": f"New this period — {'; '.join(said)}: {share:.0%} of all calls{drift}.",
        "action": "check that they are expected; their drift is measured against their own "
                  "baseline once it is collected, and all-traffic figures move with them"})]


def _quality_action(name: str) -> str:
    return {
        "refusal": "read the refused prompts below: a prompt change or a fine-tune on answered "
                   "examples may be needed",
        "pii_response": "the model repeats personal data: check retrieval sources and add "
                        "output redaction",
        "pii_prompt": "users send personal data: make sure it is redacted before storage",
        "toxicity": "review the flagged answers; tighten the system prompt or moderation",
        "harmful_answer": "the model answered requests for harm: add a guardrail or moderation "
                          "in front of it and review the answers below",
        "injection": "prompt-injection attempts rose: review them and harden the prompt",
        "relevance": "answers drift off-topic: check retrieval and the prompt version",
        "negative_feedback": "users are less happy: read the thumbs-down calls",
    }.get(name, "investigate the flagged calls")
