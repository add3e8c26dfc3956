"""Real parts for the tests: an Apache Kafka broker and a PostgreSQL server, each started once
per session on a free loopback port and stopped after. Nothing here is mocked or skipped: if
a real part cannot start, the tests that need it error with the reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from llmwatch.config import Settings
from llmwatch.embedding import Embedder, load_model
from llmwatch.local.kafka import LocalKafka
from llmwatch.local.postgres import LocalPostgres
from llmwatch.storage import Store, upgrade


@pytest.fixture(scope="session")
def kafka() -> Iterator[LocalKafka]:
    with LocalKafka(partitions=3) as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:
        yield server


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(load_model(), batch_size=32)


@pytest.fixture(scope="session")
def world_db(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> str:
    """Three simulated weeks with a shift in the last (tests/report_world.py), through the
    real pipeline, in a SQLite file: built once, copied by the tests that use it."""
    from report_world import build_world

    url = f"sqlite:///{tmp_path_factory.mktemp('world') / 'world.db'}"
    store = Store(url)
    upgrade(store.engine)
    world = build_world(store, embedder)
    assert world.calls > 1000
    store.dispose()
    return url


@pytest.fixture
def postgres_url(postgres: LocalPostgres) -> str:
    """A new, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'llmwatch.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    upgrade(s.engine)
    yield s
    s.dispose()


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings pointing at a broker and database, with topics unique to the test."""

    def make(bootstrap: str, db: str, **sections: dict[str, object]) -> Settings:
        suffix = uuid.uuid4().hex[:8]
        return Settings.model_validate({
            "kafka": {"bootstrap_servers": bootstrap},
            "storage": {"url": db},
            "topics": {"events": f"ev-{suffix}", "deadletter": f"dl-{suffix}",
                       "enriched": f"en-{suffix}", "findings": f"fi-{suffix}",
                       "partitions": 3},
            "worker": {"app_id": f"llmwatch-test-{suffix}", "data_dir": str(tmp_path / "w"),
                       "session_timeout_s": 10},
            "report": {"out_dir": str(tmp_path / "reports")},
            **sections,
        })

    return make


@pytest.fixture(scope="session")
def static_embedder() -> Embedder:
    """The default backend: the static embedding distilled from the installed MiniLM (built
    by `make test`'s set-up, or here once)."""
    from llmwatch.embedding import make_embedder

    return make_embedder("static")
