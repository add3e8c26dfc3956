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
