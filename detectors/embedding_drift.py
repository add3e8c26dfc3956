"""Two-sample tests on embeddings: has the current window moved away from the reference?

Each method is configured once, `fit`s a reference sample into a state of plain arrays (which
survives a save/load), then `test`s current windows against it. All return a `TestResult`
with the threshold actually used. Registered by name: `method = "centroid"` in configuration.

- centroid (default): squared distance between the window's and the reference's mean
  embedding. Under no drift it is a Gaussian quadratic form whose law follows from the
  reference covariance's spectrum (power sums, computed once at fit); its tail is given by
  Liu, Tang & Zhang's 4-moment χ² (2009). A test then costs two means, and its p-values are
  continuous (needed for false-discovery control). Effect size: the cosine distance between
  the two centroids, which people read easily.
- mmd: maximum mean discrepancy with an RBF kernel (median-heuristic bandwidth) and a
  permutation p-value; sees any change of distribution, not only of the mean; ~100× slower.
- classifier: a logistic-regression domain classifier trained on half of reference+current;
  its held-out ROC AUC, with the Mann–Whitney normal p-value. Effect size: 2·AUC − 1.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from scipy import stats

State = dict[str, np.ndarray]


@dataclass(frozen=True)
class TestResult:
    statistic: float
    threshold: float  # critical value of the statistic at the configured alpha
    p_value: float
    effect_size: float
    drifted: bool


class EmbeddingTest(Protocol):
    name: ClassVar[str]

    def fit(self, reference: np.ndarray) -> State: ...

    def test(self, state: State, current: np.ndarray) -> TestResult: ...


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")


def _check_sample(x: np.ndarray, what: str, min_rows: int = 10,
                  dtype: type = np.float64) -> np.ndarray:
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 2 or x.shape[0] < min_rows:
        raise ValueError(f"{what} must be a 2-d array with at least {min_rows} rows, "
                         f"got shape {x.shape}")
    return x


@dataclass(frozen=True)
class CentroidTest:
    alpha: float = 0.05
    min_effect: float = 0.0
    name: ClassVar[str] = "centroid"

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.min_effect < 0:
            raise ValueError("min_effect is a cosine distance, at least 0")

    def fit(self, reference: np.ndarray) -> State:
        ref = _check_sample(reference, "reference", dtype=np.float32)
        return {"mean": ref.mean(axis=0, dtype=np.float64), "n": np.array(ref.shape[0]),
                "cumulants": _null_cumulants(ref)}

    def test(self, state: State, current: np.ndarray) -> TestResult:
        cur = _check_sample(current, "current", min_rows=2, dtype=np.float32)
        ref_mean, cur_mean = state["mean"], cur.mean(axis=0, dtype=np.float64)
        statistic = float(np.sum((cur_mean - ref_mean) ** 2))
        null = _QuadraticFormNull(state["cumulants"], 1 / int(state["n"]) + 1 / cur.shape[0])
        p_value = null.sf(statistic)
        effect = cosine_distance(ref_mean, cur_mean)
        drifted = p_value < self.alpha and effect >= self.min_effect
        return TestResult(statistic, null.isf(self.alpha), p_value, effect, drifted)


def _null_cumulants(ref: np.ndarray) -> np.ndarray:
    """tr(Σ^k), k = 1..4, for the null law of ||mean difference||² (a Gaussian quadratic form).

    From power sums of the reference covariance's eigenvalues (traces of S, S², S³, S⁴; no
    eigendecomposition), their spread shrunk around the mean so that tr(Σ²) equals its
    unbiased estimate: sample eigenvalues spread too wide and make the test conservative.
    """
    n, d = ref.shape
    centred = ref - ref.mean(axis=0)  # float32 products: 2× faster than float64
    s = (centred.T @ centred if d <= n else centred @ centred.T) / np.float32(n - 1)
    s2 = s @ s
    p1 = float(np.trace(s, dtype=np.float64))
    p2 = float(np.sum(s * s, dtype=np.float64))
    p3 = float(np.sum(s2 * s, dtype=np.float64))
    p4 = float(np.sum(s2 * s2, dtype=np.float64))
    mu = p1 / d
    m2 = p2 - d * mu**2  # central power sums Σ(λ − μ)^j of the eigenvalues
    m3 = p3 - 3 * mu * p2 + 3 * mu**2 * p1 - d * mu**3
    m4 = p4 - 4 * mu * p3 + 6 * mu**2 * p2 - 4 * mu**3 * p1 + d * mu**4
    trace2 = (n - 1) ** 2 / ((n + 1) * (n - 2)) * (p2 - p1**2 / (n - 1))  # unbiased tr(Σ²)
    a = np.sqrt(max(trace2 - d * mu**2, 0.0) / m2) if m2 > 0 else 0.0
    return np.array([
        d * mu,
        d * mu**2 + a**2 * m2,
        d * mu**3 + 3 * mu * a**2 * m2 + a**3 * m3,
        d * mu**4 + 6 * mu**2 * a**2 * m2 + 4 * mu * a**3 * m3 + a**4 * m4,
    ])


class _QuadraticFormNull:
    """Liu, Tang & Zhang (2009): a quadratic form in Gaussians as a (non-central) χ²."""

    def __init__(self, cumulants: np.ndarray, scale: float) -> None:
        c1, c2, c3, c4 = (float(cumulants[k]) * scale ** (k + 1) for k in range(4))
        # a (numerically) constant reference: any movement is drift
        self.degenerate = float(cumulants[0]) <= 1e-9 or c2 <= 0
        if self.degenerate:
            return
        s1, s2 = c3 / c2**1.5, c4 / c2**2
        if s1**2 > s2:
            a = 1 / (s1 - np.sqrt(s1**2 - s2))
            self.delta, self.dof = s1 * a**3 - a**2, a**2 - 2 * (s1 * a**3 - a**2)
        else:
            a = 1 / np.sqrt(s2)
            self.delta, self.dof = 0.0, 1 / s2
        self.mean_q, self.sd_q = c1, np.sqrt(2 * c2)
        self.mean_x, self.sd_x = self.dof + self.delta, np.sqrt(2) * a

    def sf(self, t: float) -> float:
        if self.degenerate:
            return 1.0 if t <= 1e-12 else 0.0
        x = (t - self.mean_q) / self.sd_q * self.sd_x + self.mean_x
        if self.delta > 0:
            return float(stats.ncx2.sf(x, self.dof, self.delta))
        return float(stats.chi2.sf(x, self.dof))

    def isf(self, alpha: float) -> float:
        if self.degenerate:
            return 1e-12
        if self.delta > 0:
            x = float(stats.ncx2.isf(alpha, self.dof, self.delta))
        else:
            x = float(stats.chi2.isf(alpha, self.dof))
        return (x - self.mean_x) / self.sd_x * self.sd_q + self.mean_q


@dataclass(frozen=True)
class MMDTest:
    alpha: float = 0.05
    permutations: int = 200
    seed: int = 0
    name: ClassVar[str] = "mmd"

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.permutations < 20:
            raise ValueError("permutations must be at least 20 for a usable p-value")

    def fit(self, reference: np.ndarray) -> State:
        ref = _check_sample(reference, "reference").astype(np.float32)
        rng = np.random.default_rng(self.seed)
        sub = ref[rng.choice(len(ref), size=min(len(ref), 500), replace=False)]
        d2 = _sq_distances(sub, sub)
        sigma2 = float(np.median(d2[np.triu_indices(len(sub), k=1)])) / 2 or 1.0
        return {"reference": ref, "sigma2": np.array(sigma2)}

    def test(self, state: State, current: np.ndarray) -> TestResult:
        ref = state["reference"]
        cur = _check_sample(current, "current", min_rows=2).astype(np.float32)
        pooled = np.vstack([ref, cur])
        kernel = np.exp(-_sq_distances(pooled, pooled) / (2 * float(state["sigma2"])))
        n, m = len(ref), len(cur)
        weights = np.concatenate([np.full(n, 1 / n), np.full(m, -1 / m)]).astype(np.float32)
        rng = np.random.default_rng(self.seed)
        perms = np.stack([rng.permutation(weights) for _ in range(self.permutations)], axis=1)
        w = np.column_stack([weights, perms])  # (n+m) × (1+P): observed, then permuted
        values = np.einsum("ip,ip->p", w, kernel @ w)  # biased MMD² for each column
        observed, null = float(values[0]), values[1:]
        p_value = float((1 + np.sum(null >= observed - 1e-7)) / (1 + len(null)))  # fp ties
        threshold = float(np.quantile(null, 1 - self.alpha))
        return TestResult(observed, threshold, p_value, observed, p_value < self.alpha)


@dataclass(frozen=True)
class ClassifierTest:
    alpha: float = 0.05
    seed: int = 0
    name: ClassVar[str] = "classifier"

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)

    def fit(self, reference: np.ndarray) -> State:
        return {"reference": _check_sample(reference, "reference").astype(np.float32)}

    def test(self, state: State, current: np.ndarray) -> TestResult:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        ref = state["reference"]
        cur = _check_sample(current, "current", min_rows=10).astype(np.float32)
        x = np.vstack([ref, cur])
        y = np.concatenate([np.zeros(len(ref)), np.ones(len(cur))])
        rng = np.random.default_rng(self.seed)
        train = np.zeros(len(y), dtype=bool)
        for label in (0, 1):  # stratified half split
            idx = np.flatnonzero(y == label)
            train[rng.choice(idx, size=len(idx) // 2, replace=False)] = True
        model = LogisticRegression(C=1.0, max_iter=300).fit(x[train], y[train])
        held_out = ~train
        auc = float(roc_auc_score(y[held_out], model.predict_proba(x[held_out])[:, 1]))
        n1, n0 = int(y[held_out].sum()), int((1 - y[held_out]).sum())
        sd = np.sqrt((n0 + n1 + 1) / (12 * n0 * n1))
        p_value = float(stats.norm.sf((auc - 0.5) / sd))
        threshold = float(0.5 + stats.norm.isf(self.alpha) * sd)
        return TestResult(auc, threshold, p_value, 2 * auc - 1, p_value < self.alpha)


METHODS: dict[str, type[CentroidTest] | type[MMDTest] | type[ClassifierTest]] = {
    "centroid": CentroidTest, "mmd": MMDTest, "classifier": ClassifierTest,
}
DEFAULT_METHOD = "centroid"


def make_test(method: str = DEFAULT_METHOD, **config: float | int) -> EmbeddingTest:
    try:
        cls = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown embedding drift method '{method}'; "
                         f"choose one of {sorted(METHODS)}") from None
    return cls(**config)  # type: ignore[arg-type]


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 0.0 if denom == 0 else float(1 - np.dot(a, b) / denom)


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2 * (a @ b.T)
    return np.maximum(d2, 0)


def save_state(state: State) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    return buffer.getvalue()


def load_state(data: bytes) -> State:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
