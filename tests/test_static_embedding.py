"""The static embedding (the default backend) and what the worker does with two backends."""

from __future__ import annotations

import os
import random
import signal
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from factories import make_event

from llmwatch.config import EmbeddingSettings, QualitySettings
from llmwatch.detectors import quality
from llmwatch.detectors.drift_monitor import DriftConfig, EventSample, fit_baseline
from llmwatch.detectors.quality import ExemplarIndex, QualityConfig
from llmwatch.detectors.segments import Segment
from llmwatch.embedding import Embedder
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition
from llmwatch.static_embedding import RECIPE, pool
from llmwatch.storage import Store
from llmwatch.storage.drift_repo import DriftRepository
from llmwatch.streams.analysis import ProcessAnalyser, local_analyser


def test_pool_is_the_normalised_mean_of_token_vectors() -> None:
    vectors = np.array([[1, 0, 0], [0, 2, 0], [0, 0, 3]], dtype=np.float32)
    out = pool(vectors, [[0, 1], [2], [], [0, 0, 2]])
    np.testing.assert_allclose(out[0], np.array([1, 2, 0]) / np.sqrt(5), rtol=1e-6)
    np.testing.assert_allclose(out[1], [0, 0, 1])
    assert not out[2].any()  # no tokens: a zero vector, not NaN
    np.testing.assert_allclose(out[3], np.array([2, 0, 3]) / np.sqrt(13), rtol=1e-6)


def test_rarer_tokens_weigh_more() -> None:
    from training.static_space import sif_weights

    w = sif_weights(30_000)
    assert w[0] < w[1000] < w[20_000] <= 1.0


def test_static_vectors_are_normalised_and_mean_something(static_embedder: Embedder) -> None:
    refund, refund2, weather, code = static_embedder.encode([
        "How can I get my money back for this order?",
        "I want a refund for my purchase.",
        "It will rain in Paris tomorrow afternoon.",
        "def parse(path): return json.loads(open(path).read())",
    ])
    for v in (refund, refund2, weather, code):
        assert v.dtype == np.float32 and v.shape == (384,)
        assert abs(float(np.linalg.norm(v)) - 1) < 1e-5
    assert refund @ refund2 > refund @ weather + 0.1
    assert refund @ refund2 > refund @ code + 0.1
    assert static_embedder.name.endswith(RECIPE)  # stored vectors carry their space


def test_relevance_head_tells_off_topic_answers(static_embedder: Embedder) -> None:
    head = static_embedder.relevance_head
    assert head is not None  # built and stored with the static vectors
    config = QualityConfig()
    password, reset, bananas = static_embedder.encode([
        "How do I reset my password?", "Go to Settings and choose Reset password.",
        "Bananas are rich in potassium and grow in the tropics."])
    on_topic = quality.relevance(password, reset, config, head)
    off_topic = quality.relevance(password, bananas, config, head)
    assert not on_topic.flagged
    assert off_topic.details["off_topic"] > on_topic.details["off_topic"] + 0.3
    # flagged at an operating point with more false alarms than the default 0.5 %
    assert quality.relevance(password, bananas, config, replace(head, threshold=0.7)).flagged
    index = ExemplarIndex.of(static_embedder)
    assert index.relevance is head  # the worker's scorer uses it


def test_relevance_head_beats_the_static_cosine_on_held_out_chats(
        static_embedder: Embedder) -> None:
    """On conversations it never saw: real replies vs other replies to the same turns, the
    head ranks better than the static cosine (the check it replaces) and flags near its
    validation rate of real replies (0.5 %: the check must not cry wolf)."""
    from sklearn.metrics import roc_auc_score

    from llmwatch.relevance import judged
    from llmwatch.simulate import chitchat_pairs

    rng = random.Random(3)
    pairs = rng.sample(judged(chitchat_pairs("heldout")), 2000)
    prompts = static_embedder.encode([p for p, _ in pairs])
    replies = static_embedder.encode([r for _, r in pairs])
    shuffled = replies[rng.sample(range(len(pairs)), len(pairs))]
    head = static_embedder.relevance_head
    assert head is not None
    labels = np.r_[np.zeros(len(pairs)), np.ones(len(pairs))]
    cosine = -np.r_[np.einsum("ij,ij->i", prompts, replies),
                    np.einsum("ij,ij->i", prompts, shuffled)]
    learned = np.r_[head.off_topic(prompts, replies), head.off_topic(prompts, shuffled)]
    assert roc_auc_score(labels, learned) > roc_auc_score(labels, cosine) + 0.03
    real_flagged = float(np.mean(learned[:len(pairs)] >= head.threshold))
    assert real_flagged <= 0.012


def test_chitchat_splits_are_disjoint_and_cover_every_pair() -> None:
    from llmwatch.simulate import chitchat_pairs

    parts = [set(chitchat_pairs(s)) for s in ("train", "validation", "heldout")]
    assert all(len(p) > 10_000 for p in parts)
    assert len(parts[0] & parts[2]) < 0.01 * len(parts[2])  # only stock lines recur ("hi")
    assert sum(len(chitchat_pairs(s)) for s in ("train", "validation", "heldout")) == len(
        chitchat_pairs())


def test_static_agrees_with_minilm_on_what_is_close(static_embedder: Embedder,
                                                    embedder: Embedder) -> None:
    """Not the same vectors, but the same neighbours for most texts."""
    texts = [
        "my card was charged twice", "refund for a double charge", "the app crashes on login",
        "cannot sign in after the update", "what is your opening time on sundays",
        "are you open on weekends", "translate this sentence into french",
        "how do you say thank you in french", "write a python function to sort a list",
        "sort a list in python",
    ]
    fast, slow = static_embedder.encode(texts), embedder.encode(texts)
    agree = 0
    for i in range(len(texts)):
        sims_fast, sims_slow = fast @ fast[i], slow @ slow[i]
        sims_fast[i] = sims_slow[i] = -9
        agree += int(np.argmax(sims_fast) == np.argmax(sims_slow))
    assert agree >= 8, agree


def test_the_space_is_the_shipped_file_and_a_changed_one_is_refused(
        static_embedder: Embedder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every machine reads the same space: the file in detectors/data, checked against the
    digest its provenance records; a file that differs is refused with what to do."""
    from llmwatch.detectors import artifacts
    from llmwatch.static_embedding import SPACE_FILE, load_static

    record = artifacts.provenance(SPACE_FILE)
    assert static_embedder.sha256 == record["sha256"]
    assert record["command"] == "python -m training.static_space"
    assert "networkx" in record["sources"] and "chitchat-dataset" in record["sources"]
    changed = tmp_path / SPACE_FILE
    data = bytearray(artifacts.data_file(SPACE_FILE).read_bytes())
    data[-100] ^= 1
    changed.write_bytes(bytes(data))
    monkeypatch.setattr(artifacts, "data_file",
                        lambda name: changed if name == SPACE_FILE else tmp_path / name)
    load_static.cache_clear()
    try:
        with pytest.raises(artifacts.ArtifactMismatch, match="differs from its provenance.*"
                           "make train"):
            load_static()
    finally:
        load_static.cache_clear()


def test_the_analysis_process_gives_what_this_process_gives() -> None:
    events = [make_event(i) for i in range(6)]
    sources = [SourcePosition("t", 0, i) for i in range(6)]
    local = local_analyser(EmbeddingSettings(), QualitySettings())
    here = local(events, sources)
    assert (local.name, local.dim) == (f"all-MiniLM-L6-v2/{RECIPE}", 384)
    child = ProcessAnalyser(EmbeddingSettings(), QualitySettings())
    try:
        there = child(events, sources)
        assert (child.name, child.dim) == (f"all-MiniLM-L6-v2/{RECIPE}", 384)
        for a, b in zip(here.items, there.items, strict=True):
            np.testing.assert_allclose(a.prompt_vector, b.prompt_vector, atol=1e-6)
            assert {k: s.flagged for k, s in a.scores.items()} == \
                {k: s.flagged for k, s in b.scores.items()}
            assert a.wire == b.wire
        # a child that dies is replaced, and the work done
        [pid] = [p.pid for p in child._pool._processes.values()]
        os.kill(pid, signal.SIGKILL)
        again = child(events, sources)
        assert [a.wire for a in again.items] == [a.wire for a in here.items]
    finally:
        child.close()


def test_the_analysis_process_ends_with_a_worker_killed_hard(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL leaves no orphan: the child sees its parent gone and exits."""
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "from llmwatch.config import EmbeddingSettings, QualitySettings\n"
        "from llmwatch.streams.analysis import ProcessAnalyser\n"
        "if __name__ == '__main__':\n"
        "    a = ProcessAnalyser(EmbeddingSettings(), QualitySettings())\n"
        "    print(*[p.pid for p in a._pool._processes.values()], flush=True)\n"
        "    import time; time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(child, 0)  # alive
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the analysis process outlived its worker")


def _embedded(i: int, vector: np.ndarray) -> EmbeddedEvent:
    event = make_event(i, timestamp=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i))
    return EmbeddedEvent(event, vector, vector)


def test_vectors_of_two_backends_are_never_compared(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A worker switched to another backend ignores the old vectors and the old baseline,
    and takes a new baseline from calls embedded in its own space."""
    url = f"sqlite:///{tmp_path / 'two.db'}"
    from llmwatch.storage import upgrade

    old = Store(url, embedding_model="all-MiniLM-L6-v2")
    upgrade(old.engine)
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(120, 384)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    old.save_events([_embedded(i, unit[i]) for i in range(60)])
    segment = Segment("support-bot", "gpt-test", "2026-10", "v1")
    old_repo = DriftRepository(old)
    records, last = old_repo.records(segment)
    assert len(records) == 60 and last is not None
    baseline = fit_baseline(segment.key, EventSample.of(records), DriftConfig())
    old_repo.save_baseline(segment, baseline, last, [], datetime.now(UTC))
    assert old_repo.baseline(segment.key) is not None

    new = Store(url, embedding_model="all-MiniLM-L6-v2/static-v1")
    new_repo = DriftRepository(new)
    assert new_repo.count_after(segment, None) == 0 and new_repo.records(segment)[0] == []
    assert new_repo.baseline(segment.key) is None  # fitted in the other space: taken anew
    new.save_events([_embedded(i, unit[i]) for i in range(60, 120)])
    assert [r.event_id for r in new_repo.records(segment)[0]] == \
        [f"evt-{i:06d}" for i in range(60, 120)]
    assert old_repo.count_after(segment, None) == 60  # and the other way round


def test_a_minilm_worker_borrows_the_static_spaces_injection_head() -> None:
    """The analysis process of a MiniLM worker reads injections with the static space's head
    (MiniLM has none of its own), built from the same installed model and cache."""
    local = local_analyser(EmbeddingSettings(backend="minilm"), QualitySettings())
    assert local.name == "all-MiniLM-L6-v2"
    assert local.scorer is not None
    head = local.scorer.index.injection_head
    assert head is not None and head.embedding == f"all-MiniLM-L6-v2/{RECIPE}"
    assert local.scorer.index.encode_for_head is not None
