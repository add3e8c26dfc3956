"""The database tables (SQLAlchemy 2.0). Alembic migrations in migrations/ build the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A segment key is a JSON array of four names of up to 200 characters each (detectors/
# segments.py); JSON escapes at most double a name, so keys stay under this.
SEGMENT_KEY_LENGTH = 2000
LINEAGE_LENGTH = 1000


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything llmwatch stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class EventRow(Base):
    """One LLM call, as received (prompt and response text included)."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    app: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(200))
    prompt_text: Mapped[str] = mapped_column(Text)
    prompt_messages: Mapped[list[Any] | None] = mapped_column(JSON)
    response_text: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    user_hash: Mapped[str | None] = mapped_column(String(128))
    session_hash: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[list[Any]] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    source_partition: Mapped[int | None] = mapped_column(Integer)
    source_offset: Mapped[int | None] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # SHA-256 of the event as first stored: tells an exact replay (same hash, silently
    # skipped) from a reused event_id with other content (dead-lettered as a conflict)
    content_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_events_segment_time", "app", "model", "model_version", "prompt_version",
              "timestamp"),
    )


class _Vectors:
    """An event's prompt and response vectors: little-endian float16 (float32 before),
    L2-normalised, tagged with the space's name."""

    event_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    model_name: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    prompt_vector: Mapped[bytes] = mapped_column(LargeBinary)
    response_vector: Mapped[bytes | None] = mapped_column(LargeBinary)


class EmbeddingRow(_Vectors, Base):
    """Every call's vectors in the per-call space (`embedding.backend`)."""

    __tablename__ = "embeddings"


class DriftVectorRow(_Vectors, Base):
    """The sampled calls' vectors in the drift space (`drift.space`): drift windows,
    baselines and their explanations read these (streams/drift_space.py). Prompts are in the
    drift space; answers too with `drift.space_answers`, else their per-call vectors."""

    __tablename__ = "drift_vectors"

    # the share of the segment's calls sampled when this one was (1.0: every call)
    fraction: Mapped[float] = mapped_column(Float)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    feedback_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), index=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    thumbs: Mapped[str | None] = mapped_column(String(8))
    score: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    user_hash: Mapped[str | None] = mapped_column(String(128))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content_hash: Mapped[str | None] = mapped_column(String(64))


class FindingRow(Base):
    """What a detector concluded about a window of a segment (written by the detector stages)."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    detector: Mapped[str] = mapped_column(String(100))
    segment: Mapped[str] = mapped_column(String(SEGMENT_KEY_LENGTH), index=True)
    metric: Mapped[str] = mapped_column(String(200))
    method: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str | None] = mapped_column(String(16))
    explanation: Mapped[str | None] = mapped_column(Text)
    fired: Mapped[bool]
    statistic: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    effect_size: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DriftBaselineRow(Base):
    """A segment's fitted reference (tests' states, clusters, online calibration)."""

    __tablename__ = "drift_baselines"

    segment: Mapped[str] = mapped_column(String(SEGMENT_KEY_LENGTH), primary_key=True)
    lineage: Mapped[str] = mapped_column(String(LINEAGE_LENGTH), index=True)
    size: Mapped[int] = mapped_column(Integer)
    reference_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reference_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_event_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DriftCursorRow(Base):
    """How far a segment's windows have been evaluated (and where its online window starts).
    Positions are in event time: (timestamp, event_id) of the last call read (the columns
    keep their first names: `last_stored_at` holds that timestamp since migration 0013)."""

    __tablename__ = "drift_cursors"

    segment: Mapped[str] = mapped_column(String(SEGMENT_KEY_LENGTH), primary_key=True)
    last_stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_event_id: Mapped[str] = mapped_column(String(128))
    windows: Mapped[int] = mapped_column(Integer)
    online_from_stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    online_from_event_id: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QualityScoreRow(Base):
    """One quality check of one event (refusal, injection, pii_response, ...)."""

    __tablename__ = "quality_scores"

    event_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool]
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class AlertStateRow(Base):
    """Where each alert (by fingerprint) is in its lifecycle."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_notified: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notifications: Mapped[int] = mapped_column(Integer)
    segment: Mapped[str] = mapped_column(String(SEGMENT_KEY_LENGTH))
    severity: Mapped[str] = mapped_column(String(16))
    streak: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged: Mapped[bool] = mapped_column(default=False)
    detector: Mapped[str | None] = mapped_column(String(100))
    metric: Mapped[str | None] = mapped_column(String(200))


class AlertSilenceRow(Base):
    """A silence or maintenance window set from the CLI."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    segment: Mapped[str | None] = mapped_column(String(SEGMENT_KEY_LENGTH))
    detector: Mapped[str | None] = mapped_column(String(100))
    metric: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertOutboxRow(Base):
    """A notice to deliver. Written in the transaction that decided it; delivered after."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    blocks: Mapped[list[Any]] = mapped_column(JSON)
    sink: Mapped[str] = mapped_column(String(32), default="slack")  # slack | webhook | pagerduty
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | sent
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    slack_ts: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TicketRow(Base):
    """A retraining ticket: one per alert fingerprint, updated while the problem persists."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    title: Mapped[str] = mapped_column(String(300))
    segment: Mapped[str] = mapped_column(String(SEGMENT_KEY_LENGTH))
    detector: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    dataset: Mapped[str] = mapped_column(Text)  # chat fine-tuning JSONL
    examples: Mapped[int] = mapped_column(Integer)
    windows: Mapped[int] = mapped_column(Integer)
    external: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # sink → issue number/key
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertEpisodeRow(Base):
    """One firing period of an alert, from its first firing window to its recovery: what the
    weekly report counts (how many, time to resolve, how many were noise)."""

    __tablename__ = "alert_episodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    detector: Mapped[str] = mapped_column(String(100))
    segment: Mapped[str] = mapped_column(String(SEGMENT_KEY_LENGTH))
    metric: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    windows: Mapped[int] = mapped_column(Integer)  # firing windows in a row, at most
    notified: Mapped[bool]  # a notice went out (not silenced or inhibited throughout)
    acknowledged: Mapped[bool] = mapped_column(default=False)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # wall clock
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # event time: the end of the first window that fired and of the first quiet one after
    first_window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                              index=True)
    resolved_window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportRow(Base):
    """A drift report: its figures (the JSON file's content) and its HTML, gzip-compressed."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # scheduled run or ad hoc
    kind: Mapped[str] = mapped_column(String(16))  # scheduled | on_demand
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    html_gz: Mapped[bytes | None] = mapped_column(LargeBinary)
    html_path: Mapped[str | None] = mapped_column(Text)
    json_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewQueueRow(Base):
    """A call waiting for its second opinion (`streams/review_stage.py`). The text is read
    from `events` when it is judged, so erasure and at-rest redaction reach it too."""

    __tablename__ = "review_queue"

    event_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON)  # documents | unsure | sample
    cheap: Mapped[dict[str, Any]] = mapped_column(JSON)  # check → [score, flagged]
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | done | failed
    answered: Mapped[list[Any]] = mapped_column(JSON)  # evaluators that have answered
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class VerdictRow(Base):
    """A second opinion on one check of one call, by one tier's evaluator."""

    __tablename__ = "verdicts"

    event_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True)
    check: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16), primary_key=True)  # reader | classifier | judge
    evaluator: Mapped[str] = mapped_column(String(200))
    flagged: Mapped[bool]
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    reasons: Mapped[list[Any]] = mapped_column(JSON)  # why the call was re-judged
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewSpendRow(Base):
    """What the second opinion spent in a UTC day, across every review worker."""

    __tablename__ = "review_spend"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    usd: Mapped[float] = mapped_column(Float)


class ReplayRunRow(Base):
    """A replay of stored traffic through a candidate model (`llmwatch/replay.py`): what was
    replayed, through what, and the verdict once done. Never read by drift, alerts or
    reports: candidate answers live only here and in `replay_calls`."""

    __tablename__ = "replay_runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done
    source: Mapped[dict[str, Any]] = mapped_column(JSON)  # segment/period, ticket, or file
    candidate: Mapped[dict[str, Any]] = mapped_column(JSON)  # base_url, model, system prompt
    finding: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the ticket's, if any
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    html_gz: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReplayCallRow(Base):
    """One prompt of a replay: the messages the serving model got, its answer and the
    candidate's, both scored by the same checks. Its text follows the source event's
    retention and erasure (`source_timestamp`, `source_id`, `user_hash`)."""

    __tablename__ = "replay_calls"

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("replay_runs.run_id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    source_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_hash: Mapped[str | None] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(16))  # finding | other
    cluster: Mapped[str] = mapped_column(String(200))
    messages: Mapped[list[Any] | None] = mapped_column(JSON)  # as sent to the serving model
    serving: Mapped[dict[str, Any]] = mapped_column(JSON)  # answer, latency, cost, flags
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer)
    candidate: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # answer, usage, flags
    error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
