"""False-discovery control across many tests (metrics × segments): the one place it lives."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> list[bool]:
    """Which hypotheses to reject so that the expected false-discovery rate is at most q.

    >>> benjamini_hochberg([0.001, 0.02, 0.03, 0.5], q=0.05)
    [True, True, True, False]
    >>> benjamini_hochberg([0.01, 0.04, 0.2, 0.3], q=0.05)
    [True, False, False, False]
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, got {q}")
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] <= q * np.arange(1, p.size + 1) / p.size
    cutoff = np.flatnonzero(ranked).max() + 1 if ranked.any() else 0
    reject = np.zeros(p.size, dtype=bool)
    reject[order[:cutoff]] = True
    return reject.tolist()


def adjusted(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q-values), for display beside the raw ones."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p)
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out.tolist()


def weighted_benjamini_hochberg(p_values: Sequence[float], weights: Sequence[float],
                                q: float = 0.05) -> list[bool]:
    """Benjamini–Hochberg on p/w (Genovese, Roeder & Wasserman 2006): weights that average
    1 spend more of the false-discovery budget where it matters most, with the same
    guarantee. Equal weights are plain BH.

    >>> weighted_benjamini_hochberg([0.03, 0.5, 0.5, 0.5], [2.8, 0.4, 0.4, 0.4])
    [True, False, False, False]
    >>> benjamini_hochberg([0.03, 0.5, 0.5, 0.5])
    [False, False, False, False]
    """
    return benjamini_hochberg(_weighted(p_values, weights), q)


def _weighted(p_values: Sequence[float], weights: Sequence[float]) -> list[float]:
    p = np.asarray(p_values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if p.shape != w.shape or (w.size and (w <= 0).any()):
        raise ValueError("one positive weight per p-value")
    if w.size:
        w = w * w.size / w.sum()  # average 1
    return np.minimum(p / np.where(w > 0, w, 1.0), 1.0).tolist() if p.size else []


def weighted_adjusted(p_values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """q-values of `weighted_benjamini_hochberg` (reject where q ≤ the level)."""
    return adjusted(_weighted(p_values, weights))
