"""Storage on SQLite and PostgreSQL: migrations, idempotent writes, embeddings, outages."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from factories import make_event
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from llmwatch.schemas import FeedbackEvent
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition
from llmwatch.storage import Store
from llmwatch.storage.retry import until_stored


def embedded(i: int, *, response: bool = True) -> EmbeddedEvent:
    rng = np.random.default_rng(i)
    v = rng.normal(size=384).astype(np.float32)
    return EmbeddedEvent(make_event(i), v / np.linalg.norm(v), -v if response else None,
                         SourcePosition("t", 0, i))


def test_migrations_build_exactly_the_models_schema(store: Store) -> None:
    from llmwatch.storage.tables import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"events", "embeddings", "feedback", "findings", "alembic_version"} <= set(
        inspect(store.engine).get_table_names())


def test_replayed_events_are_stored_once(store: Store) -> None:
    batch = [embedded(i) for i in range(5)]
    assert store.save_events(batch[:3]) == 3
    assert store.save_events(batch) == 2  # the first three are replays
    assert store.save_events(batch + batch) == 0  # duplicates within one batch too
    counts = store.counts()
    assert (counts.events, counts.embeddings) == (5, 5)
    assert sorted(store.event_ids()) == [f"evt-{i:06d}" for i in range(5)]


def test_embeddings_round_trip_in_half_precision(store: Store) -> None:
    items = [embedded(1), embedded(2, response=False)]
    store.save_events(items)
    loaded = store.load_vectors(["evt-000001", "evt-000002"])
    prompt, response = loaded["evt-000001"]
    assert prompt.dtype == np.float32 and prompt.shape == items[0].prompt_vector.shape
    np.testing.assert_allclose(prompt, items[0].prompt_vector, atol=1e-3)
    np.testing.assert_allclose(response, items[0].response_vector, atol=1e-3)
    assert float(prompt @ items[0].prompt_vector) > 0.9999  # cosine: nothing a test can see
    assert loaded["evt-000002"][1] is None
    with store.engine.connect() as conn:  # 2 bytes a dimension, not 4
        size = conn.execute(text("SELECT length(prompt_vector) FROM embeddings WHERE "
                                 "event_id = 'evt-000001'")).scalar_one()
    assert size == 2 * prompt.shape[0]


def test_vectors_stored_as_float32_before_still_read() -> None:
    from llmwatch.storage import vectors

    v = np.random.default_rng(0).normal(size=384).astype(np.float32)
    legacy = np.ascontiguousarray(v, dtype="<f4").tobytes()
    np.testing.assert_array_equal(vectors.from_bytes(legacy, 384), v)
    np.testing.assert_allclose(vectors.from_bytes(vectors.to_bytes(v), 384), v, rtol=1e-3)
    with pytest.raises(ValueError, match="expected 384"):
        vectors.from_bytes(legacy[:-4], 384)


def test_feedback_is_idempotent(store: Store) -> None:
    fb = FeedbackEvent(feedback_id="fb-1", event_id="evt-000001",
                       timestamp=make_event(1).timestamp, thumbs="down", comment="wrong")
    assert store.save_feedback([fb]) == 1
    assert store.save_feedback([fb]) == 0
    assert store.counts().feedback == 1


def test_until_stored_waits_out_transient_errors_only() -> None:
    calls, waits = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        return "stored"

    assert until_stored(flaky, sleep=waits.append) == "stored"
    assert waits == [0.5, 1.0, 2.0]
    with pytest.raises(ZeroDivisionError):
        until_stored(lambda: 1 / 0, sleep=waits.append)


@pytest.mark.postgres
def test_a_database_outage_delays_the_write_and_loses_nothing(postgres_url: str,
                                                              postgres) -> None:  # noqa: ANN001
    from llmwatch.storage import upgrade

    store = Store(postgres_url)
    upgrade(store.engine)
    postgres.pause()  # the server goes away
    result: dict[str, int] = {}
    writer = threading.Thread(target=lambda: result.update(
        n=until_stored(lambda: store.save_events([embedded(7)]), first_wait_s=0.2,
                       max_wait_s=0.5)))
    writer.start()
    time.sleep(2.0)
    assert writer.is_alive() and not result  # waiting, not dropped
    postgres.resume()
    writer.join(60)
    assert result == {"n": 1}
    assert store.event_ids() == ["evt-000007"]
    store.dispose()


def test_replicas_starting_together_migrate_one_after_the_other(postgres_url: str) -> None:
    """Several workers upgrading one empty PostgreSQL database at once: the advisory lock
    serialises them, the first migrates, the others find the schema current."""
    from llmwatch.storage import upgrade

    errors: list[BaseException] = []

    def migrate() -> None:
        s = Store(postgres_url)
        try:
            upgrade(s.engine)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            s.dispose()

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    s = Store(postgres_url)
    assert "alert_states" in inspect(s.engine).get_table_names()
    s.dispose()
