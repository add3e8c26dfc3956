"""Explained drift: which topics of the reference grew, shrank, or are new in a window.

The reference prompt embeddings are clustered once (k-means on the unit sphere); each cluster
gets a label of its most distinctive terms. A window's events are assigned to the nearest
reference cluster, or counted as *new* when they are farther from every cluster than 98 % of
the reference was. Clusters whose share moved significantly (two-proportion z-test, BH across
clusters) and by at least `min_change` are reported, with three redacted example prompts,
so an alert reads "new: questions about 'stock, market, money' 0 % → 19 %".
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from .fdr import benjamini_hochberg
from .redact import DEFAULT_PRIVACY, PLACEHOLDER, Privacy, redact

_WORD = re.compile(r"[a-z][a-z']{2,}")
_STOP = frozenset("""
the and for you your are was were have has had not but what with that this they them their
there then than from about would could should will just like can cant can't don't dont
i'm im it's its yes yeah okay well too very really much more some any all one get got how
who why when where which also out our ours his her hers him she he we us me my mine did does
doing done been being into onto over under again here only own same such both each few most
other off very now say said know think good lol haha oh hey hi hello thanks thank sure
""".split())
NEW = -1


@dataclass(frozen=True)
class ClusterModel:
    centroids: np.ndarray  # (k, d), unit length
    reference_share: np.ndarray  # (k,)
    new_rate: float  # share of reference events outside every cluster (≈ 2 %)
    min_similarity: float  # below this cosine similarity to every centroid: "new"
    labels: list[str]
    reference_terms: dict[str, int]  # document frequency of terms in reference prompts
    reference_docs: int

    def to_json(self) -> str:
        return json.dumps({
            "centroids": self.centroids.tolist(), "reference_share": self.reference_share.tolist(),
            "new_rate": self.new_rate, "min_similarity": self.min_similarity,
            "labels": self.labels, "reference_terms": self.reference_terms,
            "reference_docs": self.reference_docs, "terms": "redacted",
        })

    @classmethod
    def from_json(cls, text: str) -> ClusterModel:
        d = json.loads(text)
        labels, terms = d["labels"], d["reference_terms"]
        if d.get("terms") != "redacted":  # fit before labels came from redacted text (0.2)
            labels = [f"topic {i + 1}" for i in range(len(labels))]
            terms = {}
        return cls(np.asarray(d["centroids"]), np.asarray(d["reference_share"]),
                   d["new_rate"], d["min_similarity"], labels, terms, d["reference_docs"])


@dataclass(frozen=True)
class ClusterShift:
    kind: Literal["new", "grew", "shrank", "toward"]
    label: str
    reference_share: float
    current_share: float
    examples: list[str]

    def sentence(self) -> str:
        if self.kind == "toward":  # no share to give: the direction the window moved in
            return f"moved toward prompts about '{self.label}'"
        move = f"{self.reference_share:.0%} → {self.current_share:.0%}"
        return f"{self.kind}: prompts about '{self.label}' {move}"


@dataclass(frozen=True)
class Explanation:
    shifts: list[ClusterShift]

    @property
    def summary(self) -> str:
        if not self.shifts:
            return "no topic grew, shrank or appeared beyond chance"
        return "; ".join(s.sentence() for s in self.shifts[:3])


def fit_clusters(embeddings: np.ndarray, texts: Sequence[str], *, k: int = 8,
                 seed: int = 0, privacy: Privacy = DEFAULT_PRIVACY) -> ClusterModel:
    from sklearn.cluster import KMeans

    x = _unit(np.asarray(embeddings, dtype=np.float64))
    if len(x) != len(texts):
        raise ValueError("one text per embedding is needed")
    k = max(2, min(k, len(x) // 20))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
    centroids = _unit(km.cluster_centers_)
    best = (x @ centroids.T).max(axis=1)
    min_similarity = float(np.quantile(best, 0.02))
    docs = [_terms(t, privacy) for t in texts]
    ref_df = Counter(term for d in docs for term in d)
    labels = [
        _label([docs[i] for i in np.flatnonzero(km.labels_ == c)], ref_df, len(docs))
        for c in range(k)
    ]
    share = np.bincount(km.labels_, minlength=k) / len(x)
    return ClusterModel(centroids, share, float(np.mean(best < min_similarity)),
                        min_similarity, labels, dict(ref_df), len(docs))


def assign(model: ClusterModel, embeddings: np.ndarray) -> np.ndarray:
    """Nearest reference cluster of each embedding, or NEW (-1)."""
    sims = _unit(np.asarray(embeddings, dtype=np.float64)) @ model.centroids.T
    nearest = sims.argmax(axis=1)
    return np.where(sims.max(axis=1) < model.min_similarity, NEW, nearest)


def explain(model: ClusterModel, embeddings: np.ndarray, texts: Sequence[str], *,
            reference_size: int, min_change: float = 0.03, alpha: float = 0.01,
            privacy: Privacy = DEFAULT_PRIVACY,
            reference_mean: np.ndarray | None = None) -> Explanation:
    """Which clusters of the reference grew, shrank or are new in the window; and, given the
    `reference_mean`, which prompts pulled the window's centre away from it (`toward`): a
    new theme in the same register as the rest lands in the existing clusters and moves no
    share beyond chance, yet it is what moved the centre."""
    x = np.asarray(embeddings, dtype=np.float64)
    clusters = assign(model, x)
    m = len(clusters)
    # (change, kind, label, reference share, current share, members); examples are shown
    # (redacted: the costly part) only for the shifts that survive the tests
    candidates: list[tuple[float, str, str, float, float, np.ndarray]] = []
    p_values: list[float] = []
    new_idx = np.flatnonzero(clusters == NEW)
    new_share = len(new_idx) / m
    p_values.append(float(stats.binomtest(len(new_idx), m, max(model.new_rate, 1e-3),
                                          alternative="greater").pvalue))
    candidates.append((new_share - model.new_rate, "new", "", model.new_rate, new_share,
                       new_idx))  # labelled below, if it survives
    for c, ref_share in enumerate(model.reference_share):
        idx = np.flatnonzero(clusters == c)
        cur_share = len(idx) / m
        p_values.append(two_proportion_p(ref_share, reference_size, cur_share, m))
        label = model.labels[c] if privacy.examples != "none" else f"reference topic {c + 1}"
        candidates.append((cur_share - ref_share, "grew" if cur_share > ref_share else "shrank",
                           label, float(ref_share), cur_share, idx))
    significant = benjamini_hochberg(p_values, q=alpha)
    def named(kind: str, label: str, idx: np.ndarray) -> str:
        if kind != "new" or not len(idx):
            return label
        if privacy.examples == "none":  # labels are words of users' text
            return "a topic the reference did not have"
        return _label([_terms(texts[i], privacy) for i in idx], model.reference_terms,
                      model.reference_docs)

    shifts = [ClusterShift(kind, named(kind, label, idx), ref, cur,  # type: ignore[arg-type]
                           _examples(x, texts, idx, privacy))
              for (change, kind, label, ref, cur, idx), sig
              in zip(candidates, significant, strict=True)
              if sig and abs(change) >= min_change and (kind != "new" or change > 0)]
    shifts.sort(key=lambda s: (s.kind != "new", -abs(s.current_share - s.reference_share)))
    if reference_mean is not None and len(x) >= 20:
        toward = _toward(model, x, texts, reference_mean, privacy)
        if toward is not None:
            shifts.insert(0 if not shifts else min(1, len(shifts)), toward)
    return Explanation(shifts)


TOWARD_SHARE = 0.05  # the window's prompts furthest along the moved direction that name it


def _toward(model: ClusterModel, x: np.ndarray, texts: Sequence[str],
            reference_mean: np.ndarray, privacy: Privacy) -> ClusterShift | None:
    """Contrastive terms of the moved direction: the window's prompts that lie furthest along
    (window centre − reference centre), labelled against the reference's vocabulary."""
    direction = x.mean(axis=0) - np.asarray(reference_mean, dtype=np.float64)
    norm = float(np.linalg.norm(direction))
    if norm == 0:
        return None
    along = _unit(x) @ (direction / norm)
    top = np.argsort(-along)[:max(10, int(TOWARD_SHARE * len(x)))]
    label = _label([_terms(texts[i], privacy) for i in top], model.reference_terms,
                   model.reference_docs)
    if not label:
        return None
    if privacy.examples == "none":  # labels are words of users' text
        label = "the direction the window moved in"
    return ClusterShift("toward", label, 0.0, 0.0, _examples(x, texts, top, privacy))


def two_proportion_p(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-sided p-value of the z-test that shares p1 (of n1) and p2 (of n2) are equal."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    sd = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 1.0 if sd == 0 else float(2 * stats.norm.sf(abs(p1 - p2) / sd))


def _examples(x: np.ndarray, texts: Sequence[str], idx: np.ndarray, privacy: Privacy,
              n: int = 3) -> list[str]:
    """Up to n distinct prompts closest to the group's centre, as the privacy policy shows
    them (redacted by default), shortened."""
    if len(idx) == 0 or privacy.examples == "none":
        return []
    centre = _unit(x[idx].mean(axis=0, keepdims=True))[0]
    order = idx[np.argsort(-(_unit(x[idx]) @ centre))]
    out: list[str] = []
    for i in order:
        text = privacy.show(texts[i], limit=160) or ""
        if text not in out:
            out.append(text)
        if len(out) == n:
            break
    return out


def _terms(text: str, privacy: Privacy = DEFAULT_PRIVACY) -> set[str]:
    """Words of the redacted text (no name, number or token can become a label)."""
    clean = PLACEHOLDER.sub(" ", redact(text, keep_words=privacy.keep_words, thorough=False))
    return {w for w in _WORD.findall(clean.lower()) if w not in _STOP}


def _label(docs: Sequence[set[str]], background: dict[str, int] | Counter[str],
           background_docs: int, n_terms: int = 3) -> str:
    """The group's most distinctive terms: log-odds of document frequency vs background."""
    if not docs:
        return ""
    df = Counter(term for d in docs for term in d)
    min_count = 2 if len(docs) >= 10 else 1
    scores = {
        term: np.log((count + 0.5) / len(docs)) - np.log(
            (background.get(term, 0) + 0.5) / max(background_docs, 1))
        for term, count in df.items() if count >= min_count
    }
    ranked = sorted(scores, key=lambda t: (-scores[t] * np.sqrt(df[t]), t))
    return ", ".join(ranked[:n_terms])


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)
