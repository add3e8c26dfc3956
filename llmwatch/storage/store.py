"""Reads and idempotent writes. At-least-once delivery replays events; event_id (and
feedback_id) are primary keys and every insert is ON CONFLICT DO NOTHING, so a replay never
adds a row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import JSON, Engine, create_engine, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

from llmwatch.detectors.quality import QualityScore
from llmwatch.schemas import FeedbackEvent, LLMEvent
from llmwatch.schemas.embedded import EmbeddedEvent

from . import vectors
from .tables import DriftVectorRow, EmbeddingRow, EventRow, FeedbackRow, FindingRow, QualityScoreRow

if TYPE_CHECKING:
    from llmwatch.config import Settings

_CHUNK = 500


@dataclass(frozen=True)
class Counts:
    events: int
    embeddings: int
    feedback: int
    findings: int


class Store:
    """The one adapter to the database."""

    def __init__(self, url: str, *, embedding_model: str = "all-MiniLM-L6-v2",
                 text: Callable[[str], str] | None = None,
                 drift_space: str | None = None) -> None:
        """`embedding_model`: the name per-call vectors are stored under; `drift_space`: the
        name of the vectors drift reads (the per-call ones when None; else the sampled calls'
        in `drift_vectors`): drift compares only vectors of one name; `text`: what users' text
        becomes on its way into the tables (as sent when None). `Store.of(settings)` takes the
        configured ones."""
        self.url = url
        self.engine = make_engine(url)
        self.embedding_model = embedding_model
        self.drift_space = drift_space or embedding_model
        # privacy.store_text = redacted: text is redacted on its way into the tables (the
        # content hash, which tells replays from conflicts, is still of the event as sent);
        # the redactor comes from the settings (storage does not import detectors' logic)
        self.text: Callable[[str], str] = text or _as_is

    @classmethod
    def of(cls, settings: Settings) -> Store:
        """The store of these settings: its database, text policy and embedding backend."""
        from llmwatch.embedding import drift_space_name, embedding_name

        return cls(settings.storage.url, text=settings.privacy.text_at_rest(),
                   embedding_model=embedding_name(settings.embedding.backend,
                                                  settings.embedding.model_path),
                   drift_space=drift_space_name(settings))

    def ping(self) -> None:
        """Ask the database a trivial question (raises when it does not answer)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def save_events(self, batch: Sequence[EmbeddedEvent], *, now: datetime | None = None,
                    quality: Mapping[str, Mapping[str, QualityScore]] | None = None) -> int:
        """Store events, embeddings and quality scores in one transaction; returns how many
        events were new."""
        stored_at = now or datetime.now(UTC)
        event_rows = [_event_row(e, stored_at, self.text) for e in batch]
        vector_rows = [self._embedding_row(e) for e in batch]
        score_rows = [_score_row(event_id, s) for event_id, scores in (quality or {}).items()
                      for s in scores.values()]
        with self.engine.begin() as conn:
            new = set(_copy_or_insert(conn, EventRow, event_rows, "event_id"))
            # vectors and scores of the new events only: the others' are stored already (an
            # event's rows are written in one transaction), so nothing can collide
            _insert_new(conn, EmbeddingRow, [r for r in vector_rows if r["event_id"] in new])
            _insert_new(conn, QualityScoreRow,
                        [r for r in score_rows if r["event_id"] in new])
        return len(new)

    def event(self, event_id: str) -> tuple[EventRow, list[QualityScoreRow]] | None:
        """One stored event with its quality scores (`llmwatch event ID`)."""
        from sqlalchemy.orm import Session

        with Session(self.engine) as session:
            row = session.get(EventRow, event_id)
            if row is None:
                return None
            scores = session.execute(select(QualityScoreRow).where(
                QualityScoreRow.event_id == event_id).order_by(QualityScoreRow.name)).scalars()
            return row, list(scores)

    def save_feedback(self, batch: Sequence[FeedbackEvent], *, now: datetime | None = None) -> int:
        stored_at = now or datetime.now(UTC)
        rows = [_feedback_row(f, stored_at, self.text) for f in batch]
        with self.engine.begin() as conn:
            return len(_insert_ignoring_duplicates(conn, FeedbackRow, rows, "feedback_id"))

    def conflicts(self, events: Sequence[LLMEvent], feedback: Sequence[FeedbackEvent]
                  ) -> tuple[set[int], set[int]]:
        """Which of these (already saved) events and verdicts reuse an id that is stored with
        other content: their positions. An exact replay is not a conflict."""
        stored_events = self.stored_hashes("events", [e.event_id for e in events])
        stored_feedback = self.stored_hashes("feedback", [f.feedback_id for f in feedback])
        return ({i for i, e in enumerate(events)
                 if stored_events.get(e.event_id) not in (None, content_hash(e))},
                {i for i, f in enumerate(feedback)
                 if stored_feedback.get(f.feedback_id) not in (None, content_hash(f))})

    def stored_hashes(self, table: str, ids: Sequence[str]) -> dict[str, str | None]:
        """The stored ids among `ids` ("events" or "feedback"), with their content hashes
        (None for rows stored before hashes were kept)."""
        row, key = {"events": (EventRow, EventRow.event_id),
                    "feedback": (FeedbackRow, FeedbackRow.feedback_id)}[table]
        out: dict[str, str | None] = {}
        unique = list(dict.fromkeys(ids))
        with self.engine.connect() as conn:
            for start in range(0, len(unique), _CHUNK):
                out.update(conn.execute(select(key, row.content_hash).where(
                    key.in_(unique[start:start + _CHUNK]))).tuples().all())
        return out

    def counts(self) -> Counts:
        with self.engine.connect() as conn:
            def n(table: type[DeclarativeBase]) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

            return Counts(n(EventRow), n(EmbeddingRow), n(FeedbackRow), n(FindingRow))

    def event_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(EventRow.event_id)).scalars())

    def load_vectors(
        self, event_ids: Iterable[str]
    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """Prompt and response embeddings by event_id (the drift detectors' reference samples)."""
        ids = list(event_ids)
        out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows = conn.execute(select(EmbeddingRow).where(EmbeddingRow.event_id.in_(chunk)))
                for row in rows:
                    prompt = vectors.from_bytes(row.prompt_vector, row.dim)
                    response = (
                        None if row.response_vector is None
                        else vectors.from_bytes(row.response_vector, row.dim)
                    )
                    out[row.event_id] = (prompt, response)
        return out

    def save_drift_vectors(self, rows: Sequence[tuple[str, np.ndarray, np.ndarray | None,
                                                      float]]) -> int:
        """Sampled calls' vectors in the drift space: (event_id, prompt, response, share
        sampled). Idempotent: a call already there (a replay) is skipped; a call erased or
        removed meanwhile is skipped too. Returns how many were new."""
        if not rows:
            return 0
        ids = [r[0] for r in rows]
        with self.engine.begin() as conn:
            present = set(conn.execute(select(DriftVectorRow.event_id)
                                       .where(DriftVectorRow.event_id.in_(ids))).scalars())
            stored = set(conn.execute(select(EventRow.event_id)
                                      .where(EventRow.event_id.in_(ids))).scalars())
            new = [{"event_id": event_id, "model_name": self.drift_space,
                    "dim": int(prompt.shape[0]), "prompt_vector": vectors.to_bytes(prompt),
                    "response_vector": None if response is None else vectors.to_bytes(response),
                    "fraction": float(fraction)}
                   for event_id, prompt, response, fraction in rows
                   if event_id in stored and event_id not in present]
            return len(_insert_ignoring_duplicates(conn, DriftVectorRow, new, "event_id"))

    def dispose(self) -> None:
        self.engine.dispose()

    def _embedding_row(self, e: EmbeddedEvent) -> dict[str, Any]:
        return {
            "event_id": e.event.event_id,
            "model_name": self.embedding_model,
            "dim": int(e.prompt_vector.shape[0]),
            "prompt_vector": vectors.to_bytes(e.prompt_vector),
            "response_vector": (
                None if e.response_vector is None else vectors.to_bytes(e.response_vector)
            ),
        }


def make_engine(url: str) -> Engine:
    """An engine whose errors never carry the statement's parameters: they are other
    people's prompts, and errors end up in logs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (status) never block the worker
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _insert_new(conn: Any, table: type[DeclarativeBase], rows: list[dict[str, Any]]) -> None:
    """Rows that cannot exist yet: PostgreSQL's COPY (a tenth of an INSERT's cost), else an
    executemany."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.__table__.columns if isinstance(c.type, JSON)}
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(
            f"COPY {table.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c]
                            for c in columns])


def _copy_or_insert(conn: Any, table: type[DeclarativeBase], rows: list[dict[str, Any]],
                    key: str) -> list[Any]:
    """`_insert_ignoring_duplicates`, faster: on PostgreSQL the rows are first COPYed in a
    savepoint (the worker checked that these ids are not stored yet); only when another
    worker stored one meanwhile is that undone and the rows inserted one conflict at a time."""
    unique = list({r[key]: r for r in rows}.values())
    if conn.dialect.name == "postgresql" and unique:
        import psycopg

        try:
            with conn.begin_nested():
                _insert_new(conn, table, unique)
            return [r[key] for r in unique]
        except psycopg.errors.UniqueViolation:
            pass
    return _insert_ignoring_duplicates(conn, table, rows, key)


def _insert_ignoring_duplicates(
    conn: Any, table: type[DeclarativeBase], rows: list[dict[str, Any]], *keys: str,
) -> list[Any]:
    """Inserts the rows whose key is not taken; returns the keys (first column) inserted."""
    if not rows:
        return []
    dialect = conn.dialect.name
    upsert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if upsert is None:
        raise ValueError(f"unsupported database '{dialect}': use SQLite or PostgreSQL")
    # one statement, many parameter sets: compiled once and cached; SQLAlchemy sends them
    # as multi-row INSERTs RETURNING the rows actually inserted
    stmt = upsert(table).on_conflict_do_nothing(index_elements=list(keys))
    return list(conn.execute(stmt.returning(table.__table__.c[keys[0]]), rows).scalars())


def _as_is(text: str) -> str:
    return text


def _event_row(e: EmbeddedEvent, stored_at: datetime,
               text: Callable[[str], str] = _as_is) -> dict[str, Any]:
    ev = e.event
    return {
        "event_id": ev.event_id,
        "timestamp": ev.timestamp,
        "app": ev.app,
        "model": ev.model,
        "model_version": ev.model_version,
        "prompt_version": ev.prompt_version,
        "prompt_text": text(ev.prompt_text),
        "prompt_messages": (
            None if isinstance(ev.prompt, str)
            else [{**m.model_dump(), "content": text(m.content)} for m in ev.prompt]
        ),
        "response_text": text(ev.response) if ev.response else ev.response,
        "latency_ms": ev.latency_ms,
        "input_tokens": ev.input_tokens,
        "output_tokens": ev.output_tokens,
        "cost_usd": ev.cost_usd,
        "finish_reason": ev.finish_reason,
        "error": text(ev.error) if ev.error else ev.error,
        "user_hash": ev.user_hash,
        "session_hash": ev.session_hash,
        "tags": list(ev.tags),
        "metadata": {k: text(v) if isinstance(v, str) else v for k, v in ev.metadata.items()},
        "source_partition": e.source.partition if e.source else None,
        "source_offset": e.source.offset if e.source else None,
        "stored_at": stored_at,
        "content_hash": content_hash(ev),
    }


def content_hash(event: LLMEvent | FeedbackEvent) -> str:
    return hashlib.sha256(event.model_dump_json().encode()).hexdigest()


def _score_row(event_id: str, s: QualityScore) -> dict[str, Any]:
    details = dict(s.details)
    if s.spans:
        details["spans"] = [[span.kind, span.start, span.end] for span in s.spans]
    return {"event_id": event_id, "name": s.name, "score": float(s.score),
            "flagged": bool(s.flagged), "details": details}


def _feedback_row(f: FeedbackEvent, stored_at: datetime,
                  text: Callable[[str], str] = _as_is) -> dict[str, Any]:
    return {
        "feedback_id": f.feedback_id,
        "event_id": f.event_id,
        "timestamp": f.timestamp,
        "thumbs": f.thumbs,
        "score": f.score,
        "comment": text(f.comment) if f.comment else f.comment,
        "user_hash": f.user_hash,
        "stored_at": stored_at,
        "content_hash": content_hash(f),
    }
