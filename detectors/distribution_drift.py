"""Drift of numeric and categorical per-event metrics (lengths, latency, tokens, cost,
finish_reason, language, quality scores), with scipy.

Drift is declared only with significance (a p-value, later corrected for the number of tests
by `fdr.benjamini_hochberg`) AND an effect at least as large as the configured minimum, so a
huge window cannot turn a negligible change into an alert.

Numeric: significance by two-sample Kolmogorov–Smirnov; effect by one of
- wasserstein: Wasserstein-1 distance divided by the reference's interquartile range,
- psi: population stability index on the reference's deciles,
- ks: the KS statistic D itself.
Categorical: significance by χ² on the contingency table; effect by one of
- jensen_shannon: Jensen–Shannon distance (base 2, 0..1) of the two frequency tables,
- psi: population stability index of the categories.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

_EPS = 1e-4


@dataclass(frozen=True)
class DistributionResult:
    method: str
    statistic: float  # the effect measure's value
    effect_threshold: float
    p_value: float
    large_enough: bool  # effect >= threshold (significance is decided after FDR)


def psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    r = np.clip(ref_share, _EPS, None)
    c = np.clip(cur_share, _EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


@dataclass(frozen=True)
class NumericDrift:
    effect: Literal["wasserstein", "psi", "ks"] = "wasserstein"
    min_effect: float = 0.1
    kind: ClassVar[str] = "numeric"

    def __post_init__(self) -> None:
        if self.effect not in ("wasserstein", "psi", "ks"):
            raise ValueError(f"unknown numeric effect '{self.effect}'; "
                             "choose wasserstein, psi or ks")
        if self.min_effect < 0:
            raise ValueError("min_effect must be at least 0")

    def test(self, reference: Sequence[float], current: Sequence[float]) -> DistributionResult:
        ref = _finite(reference, "reference")
        cur = _finite(current, "current")
        ks = stats.ks_2samp(ref, cur)
        if self.effect == "ks":
            value = float(ks.statistic)
        elif self.effect == "psi":
            deciles = np.quantile(ref, np.linspace(0.1, 0.9, 9))
            edges = np.unique(np.concatenate([[-np.inf], deciles, [np.inf]]))
            value = psi(_shares(ref, edges), _shares(cur, edges))
        else:
            iqr = float(np.subtract(*np.percentile(ref, [75, 25]))) or float(np.std(ref)) or 1.0
            value = float(stats.wasserstein_distance(ref, cur)) / iqr
        method = f"ks+{self.effect}"
        return DistributionResult(method, value, self.min_effect, float(ks.pvalue),
                                  value >= self.min_effect)


@dataclass(frozen=True)
class CategoricalDrift:
    effect: Literal["jensen_shannon", "psi"] = "jensen_shannon"
    min_effect: float = 0.1
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        if self.effect not in ("jensen_shannon", "psi"):
            raise ValueError(f"unknown categorical effect '{self.effect}'; "
                             "choose jensen_shannon or psi")
        if self.min_effect < 0:
            raise ValueError("min_effect must be at least 0")

    def test(self, reference: Sequence[str], current: Sequence[str]) -> DistributionResult:
        if len(reference) < 2 or len(current) < 2:
            raise ValueError("reference and current need at least 2 values each")
        ref, cur = Counter(reference), Counter(current)
        categories = sorted(set(ref) | set(cur))
        table = np.array([[ref[c] for c in categories], [cur[c] for c in categories]], float)
        if len(categories) < 2:
            p_value = 1.0
        else:
            p_value = float(stats.chi2_contingency(table, correction=False).pvalue)
        shares = table / table.sum(axis=1, keepdims=True)
        if self.effect == "psi":
            value = psi(shares[0], shares[1])
        else:
            value = float(jensenshannon(shares[0], shares[1], base=2))
        return DistributionResult(f"chi2+{self.effect}", value, self.min_effect, p_value,
                                  value >= self.min_effect)


def _finite(values: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size < 2:
        raise ValueError(f"{what} needs at least 2 finite values, got {arr.size}")
    return arr


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(values, bins=edges)
    return counts / max(counts.sum(), 1)
