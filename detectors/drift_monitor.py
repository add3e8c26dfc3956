"""Windowed drift of one segment against its baseline: every test, explained, as Findings.

Pure: callers pass samples of events (built from storage by the drift stage in streams/) and
get candidate findings back. `decide` then applies false-discovery control across all the
candidates of a round (metrics × segments) and the minimum effect sizes, so 40 metrics × 30
segments do not become an alert storm.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from .distribution_drift import CategoricalDrift, NumericDrift
from .embedding_drift import State, make_test
from .explain import ClusterModel, explain, fit_clusters, two_proportion_p
from .fdr import weighted_adjusted, weighted_benjamini_hochberg
from .findings import Finding, Window
from .language import guess_language
from .online import Calibration, OnlineCentroidDetector
from .redact import Privacy

NUMERIC_METRICS = ("prompt_chars", "response_chars", "latency_ms", "input_tokens",
                   "output_tokens", "cost_usd")
CATEGORICAL_METRICS = ("finish_reason", "language")


@dataclass(frozen=True)
class EventRecord:
    """What drift needs of one stored event."""

    timestamp: datetime
    prompt_text: str
    response_text: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    finish_reason: str | None
    prompt_vector: np.ndarray
    response_vector: np.ndarray | None
    flags: dict[str, bool] = field(default_factory=dict)  # quality check → flagged
    negative_feedback: bool | None = None  # None: no feedback on this call
    event_id: str = ""
    prompt_messages: list[dict[str, str]] | None = None  # the chat, when it was one
    # check → the tier whose verdict the flag is, where a second opinion overrode the cheap
    # check (detectors/second_opinion.py); absent: the cheap check decided
    decided_by: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventSample:
    prompt_vectors: np.ndarray
    response_vectors: np.ndarray  # only events that have a response
    prompt_texts: list[str]
    numeric: dict[str, np.ndarray]
    categorical: dict[str, list[str]]
    start: datetime | None
    end: datetime | None
    rates: dict[str, tuple[int, int]] = field(default_factory=dict)  # (flagged, checked)
    # check → tier → calls whose flag that second-opinion tier decided
    decided: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.prompt_texts)

    @classmethod
    def of(cls, records: Sequence[EventRecord]) -> EventSample:
        if not records:
            raise ValueError("a sample needs at least one event")
        responses = [r.response_vector for r in records if r.response_vector is not None]
        numeric = {
            "prompt_chars": [len(r.prompt_text) for r in records],
            "response_chars": [len(r.response_text or "") for r in records],
            "latency_ms": [r.latency_ms for r in records],
            "input_tokens": [r.input_tokens for r in records],
            "output_tokens": [r.output_tokens for r in records],
            "cost_usd": [r.cost_usd for r in records],
        }
        return cls(
            prompt_vectors=np.stack([r.prompt_vector for r in records]),
            response_vectors=np.stack(responses) if responses else np.zeros((0, 0)),
            prompt_texts=[r.prompt_text for r in records],
            numeric={k: np.array([np.nan if v is None else v for v in vs], dtype=float)
                     for k, vs in numeric.items()},
            categorical={
                "finish_reason": [r.finish_reason or "none" for r in records],
                "language": [guess_language(r.prompt_text) for r in records],
            },
            start=min(r.timestamp for r in records),
            end=max(r.timestamp for r in records),
            rates=_rates(records), decided=_decided(records),
        )


def _decided(records: Sequence[EventRecord]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in records:
        for check, tier in r.decided_by.items():
            by = out.setdefault(check, {})
            by[tier] = by.get(tier, 0) + 1
    return out


def _rates(records: Sequence[EventRecord]) -> dict[str, tuple[int, int]]:
    """Flagged and checked counts per quality check, and the negative-feedback rate."""
    counts: dict[str, list[int]] = {}
    for r in records:
        for name, flagged in r.flags.items():
            c = counts.setdefault(name, [0, 0])
            c[0] += int(flagged)
            c[1] += 1
        if r.negative_feedback is not None:
            c = counts.setdefault("negative_feedback", [0, 0])
            c[0] += int(r.negative_feedback)
            c[1] += 1
    return {name: (c[0], c[1]) for name, c in counts.items()}


@dataclass(frozen=True)
class DriftConfig:
    method: str = "centroid"
    fdr_q: float = 0.05
    # share of a round's false-discovery budget spent on the prompt-embedding tests (the
    # signal people act on); the other metrics (response embedding, numeric, categorical,
    # rates) share the rest. Plain BH over ~15 metrics cut the prompt test's power at a 5 %
    # shift by a third; at 0.8 it keeps ≥ 90 % (bench/drift_round_eval.py)
    primary_weight: float = 0.8
    embedding_min_effect: float = 0.0
    critical_effect: float = 0.1  # cosine distance of centroids that makes it critical
    numeric_effect: str = "wasserstein"
    numeric_min_effect: float = 0.1
    categorical_min_effect: float = 0.1
    clusters: int = 8
    min_numeric_values: int = 30
    min_rate_sample: int = 100  # checked events needed on both sides to compare a rate
    rate_min_change: float = 0.02  # least absolute change of a rate that counts
    online: OnlineCentroidDetector = field(default_factory=OnlineCentroidDetector)
    seed: int = 0
    privacy: Privacy = field(default_factory=Privacy)

    def __post_init__(self) -> None:
        if not 0 < self.fdr_q < 1:
            raise ValueError("fdr_q must be between 0 and 1")
        if not 0 < self.primary_weight < 1:
            raise ValueError("primary_weight must be between 0 and 1")
        make_test(self.method)  # unknown method: clear error now, not at the first window
        NumericDrift(self.numeric_effect, self.numeric_min_effect)  # type: ignore[arg-type]
        CategoricalDrift(min_effect=self.categorical_min_effect)


@dataclass(frozen=True)
class Baseline:
    segment: str
    size: int
    start: datetime | None
    end: datetime | None
    prompt_state: State
    response_state: State | None
    clusters: ClusterModel
    online: Calibration
    numeric: dict[str, np.ndarray]
    categorical: dict[str, list[str]]
    rates: dict[str, tuple[int, int]] = field(default_factory=dict)
    embedding: str = "all-MiniLM-L6-v2"  # the space of its vectors (Embedder.name)

    @property
    def events_per_second(self) -> float | None:
        if self.start is None or self.end is None or self.end <= self.start:
            return None
        return self.size / (self.end - self.start).total_seconds()


def fit_baseline(segment: str, sample: EventSample, config: DriftConfig,
                 *, online: OnlineCentroidDetector | None = None) -> Baseline:
    test = make_test(config.method)
    response_state = (test.fit(sample.response_vectors)
                      if len(sample.response_vectors) >= 10 else None)
    return Baseline(
        segment=segment, size=sample.size, start=sample.start, end=sample.end,
        prompt_state=test.fit(sample.prompt_vectors), response_state=response_state,
        clusters=fit_clusters(sample.prompt_vectors, sample.prompt_texts, k=config.clusters,
                              seed=config.seed, privacy=config.privacy),
        online=(online or config.online).calibrate(sample.prompt_vectors),
        numeric=sample.numeric, categorical=sample.categorical, rates=sample.rates,
    )


def evaluate_window(baseline: Baseline, window: EventSample, config: DriftConfig, *,
                    detector: str = "embedding_drift") -> list[Finding]:
    """Candidate findings (fired=False until `decide`) for every metric of the window."""
    span = Window(window.start, window.end, baseline.size, window.size)
    test = make_test(config.method)
    out: list[Finding] = []
    explanation = explain(baseline.clusters, window.prompt_vectors, window.prompt_texts,
                          reference_size=baseline.size, privacy=config.privacy,
                          reference_mean=baseline.online.mean)
    embedded = [("prompt_embedding", baseline.prompt_state, window.prompt_vectors)]
    if baseline.response_state is not None and len(window.response_vectors) >= 10:
        embedded.append(("response_embedding", baseline.response_state, window.response_vectors))
    for metric, state, vectors in embedded:
        r = test.test(state, vectors)
        is_prompt = metric == "prompt_embedding"
        out.append(Finding(
            detector=detector, segment=baseline.segment, metric=metric, method=test.name,
            fired=False, statistic=r.statistic, threshold=r.threshold, p_value=r.p_value,
            effect_size=r.effect_size, window=span,
            explanation=explanation.summary if is_prompt else "",
            details={"min_effect": config.embedding_min_effect,
                     "shifts": [vars(s) for s in explanation.shifts] if is_prompt else []},
        ))
    numeric = NumericDrift(config.numeric_effect, config.numeric_min_effect)  # type: ignore[arg-type]
    for metric in NUMERIC_METRICS:
        ref, cur = baseline.numeric[metric], window.numeric[metric]
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        if min(len(ref), len(cur)) < config.min_numeric_values:
            continue
        out.append(_distribution_finding(baseline, metric, numeric.test(ref, cur), span,
                                         detector="numeric_drift"))
    categorical = CategoricalDrift(min_effect=config.categorical_min_effect)
    for metric in CATEGORICAL_METRICS:
        r = categorical.test(baseline.categorical[metric], window.categorical[metric])
        out.append(_distribution_finding(baseline, metric, r, span,
                                         detector="categorical_drift"))
    out.extend(rate_findings(baseline, window, config, span))
    return out


def rate_findings(baseline: Baseline, window: EventSample, config: DriftConfig,
                  span: Window) -> list[Finding]:
    """Each quality rate (refusal, PII leak, negative feedback, ...) against the baseline's, by
    a two-proportion z-test; only with enough checked events on both sides."""
    out = []
    for name, (k_cur, n_cur) in sorted(window.rates.items()):
        k_ref, n_ref = baseline.rates.get(name, (0, 0))
        if min(n_ref, n_cur) < config.min_rate_sample:
            continue
        p_ref, p_cur = k_ref / n_ref, k_cur / n_cur
        p_value = two_proportion_p(p_ref, n_ref, p_cur, n_cur)
        out.append(Finding(
            detector="quality_rate", segment=baseline.segment, metric=f"{name}_rate",
            method="two_proportion_z", fired=False, statistic=p_cur,
            threshold=p_ref + config.rate_min_change, p_value=p_value,
            effect_size=abs(p_cur - p_ref), window=span,
            explanation=f"{name.replace('_', ' ')} rate {p_ref:.1%} → {p_cur:.1%}"
            + decided_note(window.decided.get(name, {}), n_cur),
            details={"min_effect": config.rate_min_change, "reference_rate": p_ref,
                     "current_rate": p_cur, "reference_checked": n_ref,
                     "current_checked": n_cur,
                     "decided_by": {"rules": n_cur - sum(window.decided.get(name, {}).values()),
                                    **window.decided.get(name, {})}},
        ))
    return out


def decided_note(by_tier: dict[str, int], checked: int) -> str:
    """Which tier decided a window's flags, where a second opinion did: ' (judge decided 12
    of 300 calls, reader 40)'."""
    if not by_tier:
        return ""
    parts = sorted(by_tier.items(), key=lambda kv: -kv[1])
    head = f"{parts[0][0]} decided {parts[0][1]} of {checked} calls"
    return " (" + ", ".join([head, *(f"{t} {n}" for t, n in parts[1:])]) + ")"


PRIMARY_METRICS = frozenset({"prompt_embedding"})


def round_weights(candidates: Sequence[Finding], primary_weight: float) -> list[float]:
    """Weights (averaging 1) for a round: the prompt-embedding tests share `primary_weight`
    of the budget, everything else the rest; a round of one kind only is weighted evenly."""
    primary = [f.metric in PRIMARY_METRICS for f in candidates]
    n, k = len(candidates), sum(primary)
    if k in (0, n):
        return [1.0] * n
    return [primary_weight * n / k if p else (1 - primary_weight) * n / (n - k)
            for p in primary]


def decide(candidates: Sequence[Finding], config: DriftConfig) -> list[Finding]:
    """Fire the candidates that survive weighted Benjamini–Hochberg at q (`round_weights`)
    and meet their min effect."""
    p_values = [f.p_value if f.p_value is not None else 1.0 for f in candidates]
    weights = round_weights(candidates, config.primary_weight)
    rejected = (weighted_benjamini_hochberg(p_values, weights, q=config.fdr_q)
                if candidates else [])
    q_values = weighted_adjusted(p_values, weights)
    decided = []
    for f, reject, q in zip(candidates, rejected, q_values, strict=True):
        min_effect = float(f.details.get("min_effect", 0.0))
        fired = bool(reject and (f.effect_size or 0.0) >= min_effect)
        severity = "info"
        if fired:
            critical = f.detector in ("embedding_drift", "version_change") and (
                (f.effect_size or 0.0) >= config.critical_effect)
            severity = "critical" if critical else "warning"
        details = {**f.details, "q_value": q, "fdr_q": config.fdr_q,
                   "tests_in_round": len(candidates)}
        decided.append(replace(f, fired=fired, severity=severity, details=details))
    return decided


def _distribution_finding(baseline: Baseline, metric: str, r: object, span: Window,
                          detector: str) -> Finding:
    from .distribution_drift import DistributionResult

    assert isinstance(r, DistributionResult)
    return Finding(
        detector=detector, segment=baseline.segment, metric=metric, method=r.method,
        fired=False, statistic=r.statistic, threshold=r.effect_threshold, p_value=r.p_value,
        effect_size=r.statistic, window=span, details={"min_effect": r.effect_threshold},
    )


# -- persistence: a baseline as bytes (npz arrays + one JSON document) ----------------------
def baseline_to_bytes(b: Baseline) -> bytes:
    arrays: dict[str, np.ndarray] = {f"prompt.{k}": v for k, v in b.prompt_state.items()}
    if b.response_state is not None:
        arrays.update({f"response.{k}": v for k, v in b.response_state.items()})
    arrays.update({f"numeric.{k}": v for k, v in b.numeric.items()})
    arrays.update({"online.mean": b.online.mean, "online.basis": b.online.basis})
    meta = {
        "segment": b.segment, "size": b.size,
        "start": b.start.isoformat() if b.start else None,
        "end": b.end.isoformat() if b.end else None,
        "categorical": b.categorical, "clusters": b.clusters.to_json(), "rates": b.rates,
        "online": [b.online.threshold, b.online.expected_run_length,
                   b.online.simulated_run_length],
        "embedding": b.embedding,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def baseline_from_bytes(data: bytes) -> Baseline:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))

    def group(prefix: str) -> dict[str, np.ndarray]:
        return {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + ".")}

    threshold, ert, simulated = meta["online"]
    online = group("online")
    return Baseline(
        segment=meta["segment"], size=meta["size"],
        start=datetime.fromisoformat(meta["start"]) if meta["start"] else None,
        end=datetime.fromisoformat(meta["end"]) if meta["end"] else None,
        prompt_state=group("prompt"), response_state=group("response") or None,
        clusters=ClusterModel.from_json(meta["clusters"]),
        online=Calibration(online["mean"], online["basis"], threshold, int(ert), simulated),
        numeric=group("numeric"), categorical=meta["categorical"],
        rates={k: (int(v[0]), int(v[1])) for k, v in meta.get("rates", {}).items()},
        embedding=meta.get("embedding", "all-MiniLM-L6-v2"),  # older baselines: MiniLM's
    )
