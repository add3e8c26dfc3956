"""Conformance: every drift detector through the same checks, on seeded synthetic data.

quiet on identical data · fires on a clear shift · deterministic with a seed · state survives
a save/load · bad configuration raises a clear error. Plus the statistical claims that are
cheap enough to measure here (calibration of the default test, BH, explanation)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from llmwatch.detectors import embedding_drift, fdr, language, online, redact
from llmwatch.detectors.distribution_drift import CategoricalDrift, NumericDrift
from llmwatch.detectors.embedding_drift import load_state, make_test, save_state
from llmwatch.detectors.explain import explain, fit_clusters
from llmwatch.detectors.online import OnlineCentroidDetector

D = 32


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def sample(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D))
    x[:, 0] += 3.0  # a common direction, as sentence embeddings have
    x[:, 1] += shift
    return unit(x)


EMBEDDING_METHODS = ["centroid", "mmd", "classifier"]


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
class TestEmbeddingDriftConformance:
    def test_quiet_on_identical_data(self, method: str) -> None:
        test = make_test(method)
        ref = sample(300, 1)
        assert not test.test(test.fit(ref), ref).drifted
        assert not test.test(test.fit(ref), sample(300, 2)).drifted

    def test_fires_on_a_clear_shift(self, method: str) -> None:
        test = make_test(method)
        result = test.test(test.fit(sample(300, 1)), sample(300, 2, shift=1.0))
        assert result.drifted and result.p_value < 0.01
        assert result.statistic > result.threshold

    def test_deterministic_with_a_seed(self, method: str) -> None:
        test = make_test(method)
        ref, cur = sample(200, 3), sample(200, 4, shift=0.2)
        assert test.test(test.fit(ref), cur) == make_test(method).test(test.fit(ref), cur)

    def test_state_survives_save_and_load(self, method: str) -> None:
        test = make_test(method)
        state = test.fit(sample(200, 5))
        cur = sample(200, 6, shift=0.3)
        assert test.test(load_state(save_state(state)), cur) == test.test(state, cur)

    def test_bad_configuration_is_a_clear_error(self, method: str) -> None:
        with pytest.raises(ValueError, match="alpha"):
            make_test(method, alpha=0)
        with pytest.raises(ValueError, match="at least 10 rows"):
            make_test(method).fit(sample(5, 1))


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
def test_a_constant_reference_is_handled(method: str) -> None:
    test = make_test(method)
    constant = np.tile(sample(1, 9), (50, 1))
    assert not test.test(test.fit(constant), constant).drifted
    assert test.test(test.fit(constant), sample(50, 3, shift=1.0)).drifted


@pytest.mark.parametrize("effect", ["wasserstein", "psi", "ks"])
def test_constant_numeric_metrics_are_handled(effect: str) -> None:
    r = NumericDrift(effect).test([5.0] * 100, [5.0] * 100)  # type: ignore[arg-type]
    assert not r.large_enough and r.p_value == pytest.approx(1.0)


def test_unknown_method_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown embedding drift method 'nope'.*centroid"):
        make_test("nope")
    with pytest.raises(ValueError, match="permutations"):
        make_test("mmd", permutations=5)


def test_default_test_is_calibrated_over_many_seeded_trials() -> None:
    """The centroid test's false-alarm rate at alpha=0.05 over 600 no-drift trials."""
    test = make_test("centroid", alpha=0.05)
    alarms = sum(test.test(test.fit(sample(200, 2 * i)), sample(200, 2 * i + 1)).drifted
                 for i in range(600))
    assert 0.03 <= alarms / 600 <= 0.07  # 0.05 ± 2.2 standard errors


class TestOnlineConformance:
    detector = OnlineCentroidDetector(window=100, check_every=20, expected_run_length=20_000,
                                      simulations=100)

    def run(self, stream: np.ndarray) -> list[online.Alarm]:
        state = self.detector.initial_state(self.detector.calibrate(sample(600, 1)))
        alarms: list[online.Alarm] = []
        for start in range(0, len(stream), 50):
            state, found = self.detector.step(state, stream[start:start + 50])
            alarms += found
        return alarms

    def test_quiet_on_identical_data(self) -> None:
        assert self.run(sample(1000, 2)) == []

    def test_fires_soon_after_a_clear_shift(self) -> None:
        stream = np.vstack([sample(500, 3), sample(500, 4, shift=0.8)])
        alarms = self.run(stream)
        assert alarms and 500 < alarms[0].event_index <= 700

    def test_deterministic_with_a_seed(self) -> None:
        a = self.detector.calibrate(sample(600, 1))
        b = self.detector.calibrate(sample(600, 1))
        assert a.threshold == b.threshold

    def test_state_survives_save_and_load(self) -> None:
        state = self.detector.initial_state(self.detector.calibrate(sample(600, 1)))
        state, _ = self.detector.step(state, sample(130, 5))
        restored = online.load_state(online.save_state(state))
        shifted = sample(200, 6, shift=0.8)
        assert self.detector.step(restored, shifted)[1] == self.detector.step(state, shifted)[1]

    def test_bad_configuration_is_a_clear_error(self) -> None:
        with pytest.raises(ValueError, match="multiple of check_every"):
            OnlineCentroidDetector(window=100, check_every=30)
        with pytest.raises(ValueError, match="at least twice the window"):
            OnlineCentroidDetector(window=100, check_every=20, expected_run_length=150)


@pytest.mark.parametrize("detector, reference, shifted", [
    (NumericDrift("wasserstein"), np.random.default_rng(1).lognormal(6, 0.3, 800),
     np.random.default_rng(2).lognormal(6.4, 0.3, 800)),
    (NumericDrift("psi"), np.random.default_rng(1).normal(100, 10, 800),
     np.random.default_rng(2).normal(115, 10, 800)),
    (NumericDrift("ks"), np.random.default_rng(1).normal(0, 1, 800),
     np.random.default_rng(2).normal(0.6, 1, 800)),
    (CategoricalDrift("jensen_shannon"), ["stop"] * 700 + ["length"] * 100,
     ["stop"] * 500 + ["length"] * 300),
    (CategoricalDrift("psi"), ["en"] * 700 + ["es"] * 100, ["en"] * 400 + ["es"] * 400),
])
def test_distribution_drift_conformance(detector, reference, shifted) -> None:  # noqa: ANN001
    same = detector.test(reference, reference)
    assert same.p_value > 0.5 and not same.large_enough
    moved = detector.test(reference, shifted)
    assert moved.p_value < 1e-6 and moved.large_enough
    assert detector.test(reference, shifted) == moved  # deterministic


def test_significance_alone_is_not_drift() -> None:
    """A huge sample makes a negligible change significant; the minimum effect stops it."""
    rng = np.random.default_rng(0)
    r = NumericDrift("wasserstein", min_effect=0.1).test(rng.normal(0, 1, 200_000),
                                                          rng.normal(0.02, 1, 200_000))
    assert r.p_value < 1e-4 and not r.large_enough


def test_distribution_drift_bad_configuration() -> None:
    with pytest.raises(ValueError, match="unknown numeric effect"):
        NumericDrift("median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 finite values"):
        NumericDrift().test([1.0], [1.0, 2.0])


def test_explanation_names_the_new_topic_and_redacts_examples() -> None:
    rng = np.random.default_rng(0)
    topics = {"movies": ["what movie did you watch", "favourite movie actor", "movie night"],
              "food": ["best pizza in town", "cook pasta dinner", "pizza or burger food"]}
    centres = {name: rng.normal(size=D) for name in (*topics, "money")}

    def events(name: str, texts: list[str], n: int) -> tuple[np.ndarray, list[str]]:
        vectors = unit(centres[name] + 0.3 * rng.normal(size=(n, D)))
        return vectors, [texts[i % len(texts)] for i in range(n)]

    ref_parts = [events(name, texts, 200) for name, texts in topics.items()]
    ref = np.vstack([v for v, _ in ref_parts])
    ref_texts = [t for _, ts in ref_parts for t in ts]
    model = fit_clusters(ref, ref_texts, k=2)
    money = ["stock market crash", "how to invest money in stock", "mail me at a@b.example"]
    new_v, new_t = events("money", money, 60)
    cur_v, cur_t = events("movies", topics["movies"], 140)
    result = explain(model, np.vstack([new_v, cur_v]), new_t + cur_t, reference_size=400)
    first = result.shifts[0]
    assert first.kind == "new" and "stock" in first.label
    assert first.current_share == pytest.approx(0.3, abs=0.03)  # + the ~2 % outliers
    assert "[EMAIL]" in " ".join(first.examples) or all("@" not in e for e in first.examples)
    assert "new: prompts about" in result.summary
    quiet = explain(model, ref[:200], ref_texts[:200], reference_size=400)
    assert not any(s.kind == "new" for s in quiet.shifts)


@pytest.mark.parametrize("module", [fdr, language, redact, embedding_drift])
def test_doctests(module) -> None:  # noqa: ANN001
    assert doctest.testmod(module).failed == 0


def test_a_round_spends_most_of_its_budget_on_the_prompt_embedding() -> None:
    """One real prompt drift (p = 0.01) among 15 null metrics: plain Benjamini–Hochberg would
    need p ≤ 0.05/16 and miss it; the weighted round fires it, and still fires nothing when
    every metric is null-looking."""
    from llmwatch.detectors.drift_monitor import DriftConfig, decide, round_weights
    from llmwatch.detectors.findings import Finding, Window

    def finding(metric: str, p: float) -> Finding:
        return Finding(detector="embedding_drift" if metric == "prompt_embedding"
                       else "numeric_drift", segment="s", metric=metric, method="m",
                       fired=False, statistic=0.0, threshold=0.0, p_value=p, effect_size=1.0,
                       window=Window(None, None, 1000, 1000))

    others = [finding(f"metric_{i}", 0.3 + 0.04 * i) for i in range(15)]
    round_ = [finding("prompt_embedding", 0.01), *others]
    weights = round_weights(round_, 0.8)
    assert sum(weights) == pytest.approx(len(round_)) and weights[0] == pytest.approx(12.8)
    assert not any(fdr.benjamini_hochberg([f.p_value for f in round_], 0.05))
    decided = decide(round_, DriftConfig())
    assert [f.metric for f in decided if f.fired] == ["prompt_embedding"]
    assert decided[0].details["q_value"] <= 0.05
    calm = decide([finding("prompt_embedding", 0.2), *others], DriftConfig())
    assert not any(f.fired for f in calm)


def test_a_new_theme_in_the_same_register_is_named_by_the_moved_direction() -> None:
    """10 % of the window is about feelings, close enough to the rest to land in its
    clusters: no cluster share moves beyond chance, but the direction the centre moved in is
    labelled with the new theme's words."""
    rng = np.random.default_rng(0)
    d = 32
    base_dir, theme_dir = np.eye(d)[0], np.eye(d)[1]
    chat = ["what did you do this weekend", "do you like pizza or pasta",
            "any plans for the summer holidays", "which movies have you seen lately"]
    feelings = ["do you ever feel angry or sad", "can you express feelings like anger",
                "are you capable of sadness and emotions"]

    def vectors(n: int, toward: float) -> np.ndarray:
        x = base_dir + 0.6 * rng.normal(size=(n, d)) / np.sqrt(d) + toward * theme_dir
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    reference = vectors(1000, 0.0)
    ref_texts = [chat[i % len(chat)] + f" {i}" for i in range(1000)]
    model = fit_clusters(reference, ref_texts, k=4)
    mixed = rng.random(1000) < 0.10
    window = np.where(mixed[:, None], vectors(1000, 0.35), vectors(1000, 0.0))
    texts = [feelings[i % len(feelings)] if m else chat[i % len(chat)]
             for i, m in enumerate(mixed)]
    why = explain(model, window, texts, reference_size=1000,
                  reference_mean=reference.mean(axis=0))
    toward = [s for s in why.shifts if s.kind == "toward"]
    assert toward and {"angry", "anger", "sad", "sadness", "feelings", "emotions", "feel",
                       "express", "capable"} & set(toward[0].label.split(", ")), why.summary
    assert "moved toward prompts about" in why.summary
