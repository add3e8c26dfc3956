"""The embedding model: offline, batched, normalised, and meaningful."""

from __future__ import annotations

import numpy as np
from factories import make_event

from llmwatch.embedding import Embedder


def test_vectors_are_normalised_float32(embedder: Embedder) -> None:
    v = embedder.encode(["hello there", "how do I get a refund?"])
    assert v.shape == (2, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)


def test_paraphrases_are_closer_than_unrelated_text(embedder: Embedder) -> None:
    refund, refund2, weather = embedder.encode([
        "How can I get my money back for this order?",
        "I want a refund for my purchase.",
        "It will rain in Paris tomorrow afternoon.",
    ])
    assert refund @ refund2 > refund @ weather + 0.3


def test_embed_events_pairs_vectors_with_their_events(embedder: Embedder) -> None:
    events = [make_event(1), make_event(2, response=None, error="timeout"),
              make_event(3, prompt="Tell me a joke", response="Why did the chicken...")]
    out = embedder.embed_events(events)
    assert [e.event.event_id for e in out] == ["evt-000001", "evt-000002", "evt-000003"]
    assert out[1].response_vector is None
    single = embedder.encode(["Tell me a joke", "Why did the chicken..."])
    np.testing.assert_allclose(out[2].prompt_vector, single[0], atol=1e-5)
    np.testing.assert_allclose(out[2].response_vector, single[1], atol=1e-5)
    assert embedder.embed_events([]) == []


def test_repeated_texts_come_from_the_cache_with_the_same_vectors(embedder: Embedder) -> None:
    cached = Embedder(embedder.model, batch_size=32, cache_size=3)
    system = "You are a helpful assistant for ACME's billing questions."
    first = cached.encode([system, "how do I pay?", system])
    assert (cached.hits, cached.misses) == (1, 2)  # the repeat inside the batch is one pass
    again = cached.encode([system, "where is my invoice?"])
    assert (cached.hits, cached.misses) == (2, 3)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[0], first[2])
    assert np.allclose(first, embedder.encode([system, "how do I pay?", system]), atol=1e-6)
    cached.encode(["a", "b", "c", "d"])  # the cache keeps at most cache_size texts
    assert len(cached._cache) == 3


def test_a_token_budget_caps_what_the_model_reads() -> None:
    from llmwatch.embedding import load_model

    model = load_model()
    long = " ".join(["the invoice was paid twice and the refund never arrived"] * 60)
    budget = Embedder(model, max_tokens=32)
    assert model.max_seq_length == 32
    head = " ".join(long.split()[:20])
    assert float(budget.encode([long])[0] @ budget.encode([head])[0]) > 0.95
