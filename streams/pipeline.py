"""What the ingest agent does with one batch of raw messages. Plain, synchronous, faust-free:
decode → dead-letter the invalid → embed the calls in one batch → store idempotently →
dead-letter reused ids with other content (an exact replay stays a silent no-op).

A database outage is waited out (`until_stored`). Any other failure of a batch is retried
message by message, and only the messages that still fail are dead-lettered, with the error:
one poisonous message never holds up or drops the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from llmwatch.detectors.quality import QualityScorer
from llmwatch.embedding import Embedder
from llmwatch.schemas import DeadLetter, FeedbackEvent, LLMEvent, Rejected, decode_event
from llmwatch.schemas.decode import DEFAULT_LIMITS, Limits
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition
from llmwatch.storage import Store
from llmwatch.storage.retry import until_stored
from llmwatch.storage.store import content_hash

from .analysis import Analyses, LocalAnalyser, ProcessAnalyser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def position(self) -> SourcePosition:
        return SourcePosition(self.topic, self.partition, self.offset)


@dataclass
class BatchOutcome:
    embedded: list[EmbeddedEvent] = field(default_factory=list)
    new_events: int = 0
    new_feedback: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # stage → time spent (metrics)
    texts_embedded: int = 0

    def add(self, other: BatchOutcome) -> None:
        self.embedded.extend(other.embedded)
        self.new_events += other.new_events
        self.new_feedback += other.new_feedback
        self.dead_letters.extend(other.dead_letters)
        self.texts_embedded += other.texts_embedded
        for stage, took in other.seconds.items():
            self.time(stage, took)

    def time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


CHUNK = 64  # calls per analysis and per transaction: each is stored as its analysis returns
Call = tuple[RawMessage, LLMEvent]
Feedback = tuple[RawMessage, FeedbackEvent]
Analyser = LocalAnalyser | ProcessAnalyser  # (calls, positions) → vectors, scores, records


def process_batch(
    messages: Sequence[RawMessage], *, embedder: Embedder | None = None, store: Store,
    now: datetime, scorer: QualityScorer | None = None, limits: Limits = DEFAULT_LIMITS,
    dead_letter_bytes: int = 65_536, clock: Callable[[], datetime] | None = None,
    analyser: Analyser | None = None,
) -> BatchOutcome:
    """Decode, check, embed, score and store one batch. `now` judges timestamps and dates
    dead letters; rows are stamped `stored_at` by `clock` at each write (the worker passes the
    wall clock, so a row's stamp is moments before its commit whatever the embedding took:
    the drift stage, reading windows in stored_at order, does not pass over a row another
    worker was still writing), or with `now` when no clock is given."""
    stamp = clock or (lambda: now)
    if analyser is None:
        if embedder is None:
            raise TypeError("process_batch needs an embedder or an analyser")
        analyser = LocalAnalyser(embedder, scorer)
    calls: list[Call] = []
    feedback: list[Feedback] = []
    outcome = BatchOutcome()

    def reject(msg: RawMessage, reason: str, stage: str) -> None:
        outcome.dead_letters.append(dead_letter(msg, reason, stage, now, dead_letter_bytes))

    started = time.perf_counter()
    for msg in messages:
        decoded = decode_event(msg.value, now=now, limits=limits)
        if isinstance(decoded, Rejected):
            reject(msg, decoded.reason, "decode")
        elif isinstance(decoded, LLMEvent):
            calls.append((msg, decoded))
        else:
            feedback.append((msg, decoded))
    outcome.time("decode", time.perf_counter() - started)
    known = until_stored(lambda: store.stored_hashes("events", [e.event_id for _, e in calls]))
    fresh, replayed = _sort_out(calls, known, reject)
    try:
        stored = _embed_and_store(fresh, feedback, analyser, store, stamp)
    except Exception as exc:  # not an outage (those are waited out): some message cannot be stored
        log.error("batch failed (%s); retrying its %d messages one by one",
                  type(exc).__name__, len(fresh) + len(feedback))
        stored = _one_by_one(fresh, feedback, analyser, store, now, stamp, dead_letter_bytes)
    outcome.add(stored)
    outcome.embedded.extend(_from_storage(replayed, store))
    _set_aside_conflicts(outcome, fresh, feedback, store, reject)
    return outcome


def _sort_out(calls: Sequence[Call], stored: dict[str, str | None],
              reject: Callable[[RawMessage, str, str], None]) -> tuple[list[Call], list[Call]]:
    """Calls to embed, and exact replays of stored ones (not embedded again: their stored
    vectors are handed on). A reused id with other content is a conflict; a second copy of a
    call within the batch adds nothing."""
    fresh: list[Call] = []
    replayed: list[Call] = []
    seen: dict[str, str] = {}
    for msg, event in calls:
        digest = content_hash(event)
        truth = seen.get(event.event_id) or stored.get(event.event_id) or None
        if truth is not None and truth != digest:
            reject(msg, _conflict(event.event_id), "conflict")
        elif event.event_id in seen:
            continue
        elif event.event_id in stored:
            replayed.append((msg, event))
        else:
            fresh.append((msg, event))
        seen.setdefault(event.event_id, truth or digest)
    return fresh, replayed


def _from_storage(replayed: Sequence[Call], store: Store) -> list[EmbeddedEvent]:
    vectors = until_stored(lambda: store.load_vectors([e.event_id for _, e in replayed]))
    return [EmbeddedEvent(event, *vectors[event.event_id], msg.position)
            for msg, event in replayed if event.event_id in vectors]


def _conflict(event_id: str) -> str:
    return (f"conflict: event_id {event_id!r} is already stored with other content; ids must "
            "be unique per call (an exact replay is fine)")


def _set_aside_conflicts(outcome: BatchOutcome, calls: Sequence[Call],
                         feedback: Sequence[Feedback], store: Store,
                         reject: Callable[[RawMessage, str, str], None]) -> None:
    """A message reusing a stored id with other content is dead-lettered as a conflict and not
    handed on: the stored event stays what it was."""
    bad_calls, bad_feedback = until_stored(lambda: store.conflicts(
        [e for _, e in calls], [f for _, f in feedback]))
    for i in sorted(bad_calls):
        msg, event = calls[i]
        reject(msg, _conflict(event.event_id), "conflict")
    for i in sorted(bad_feedback):
        msg, verdict = feedback[i]
        reject(msg, f"conflict: feedback_id {verdict.feedback_id!r} is already stored with "
                    "other content", "conflict")
    if bad_calls:
        conflicting = {(calls[i][0].partition, calls[i][0].offset) for i in bad_calls}
        outcome.embedded = [e for e in outcome.embedded if e.source is None or
                            (e.source.partition, e.source.offset) not in conflicting]


def _embed_and_store(calls: Sequence[Call], feedback: Sequence[Feedback], analyser: Analyser,
                     store: Store, stamp: Callable[[], datetime]) -> BatchOutcome:
    """Analyse and store the calls in chunks: all chunks are queued for analysis (in the
    analysis process, when there is one) and each is written as it comes back, so the batch
    takes about the longer of the two, not their sum. Each chunk is its own transaction; all
    are stored before this returns, so the batch's offsets still commit only after every
    row."""
    outcome = BatchOutcome()
    chunks = [calls[i:i + CHUNK] for i in range(0, len(calls), CHUNK)]
    # every chunk queued at once: the analysis process works through them back to back
    # while this thread stores each as it comes (it never waits for a hand-over)
    pending = [_submit(analyser, chunk) for chunk in chunks]
    for chunk, future in zip(chunks, pending, strict=True):
        analyses = future.result()
        for stage, took in analyses.seconds.items():
            outcome.time(stage, took)
        outcome.texts_embedded += analyses.texts_embedded
        embedded = [EmbeddedEvent(event, a.prompt_vector, a.response_vector, msg.position,
                                  a.quality, a.wire)
                    for (msg, event), a in zip(chunk, analyses.items, strict=True)]
        scores = {event.event_id: a.scores for (_, event), a
                  in zip(chunk, analyses.items, strict=True) if a.scores}
        started = time.perf_counter()
        outcome.new_events += until_stored(
            lambda embedded=embedded, scores=scores: store.save_events(  # type: ignore[misc]
                embedded, now=stamp(), quality=scores))
        outcome.time("store", time.perf_counter() - started)
        outcome.embedded.extend(embedded)
    verdicts = [fb for _, fb in feedback]
    started = time.perf_counter()
    outcome.new_feedback = until_stored(lambda: store.save_feedback(verdicts, now=stamp()))
    outcome.time("store", time.perf_counter() - started)
    return outcome


def _submit(analyser: Analyser, chunk: Sequence[Call]) -> Future[Analyses]:
    """The chunk's analysis, started (in the analysis process) or done (in this one)."""
    return analyser.submit([e for _, e in chunk], [m.position for m, _ in chunk])


def _one_by_one(calls: Sequence[Call], feedback: Sequence[Feedback], analyser: Analyser,
                store: Store, now: datetime, stamp: Callable[[], datetime],
                dead_letter_bytes: int) -> BatchOutcome:
    """Store what can be stored; dead-letter each message that cannot, with the error."""
    total = BatchOutcome()
    singles: list[tuple[RawMessage, list[Call], list[Feedback]]] = [
        *((msg, [(msg, ev)], []) for msg, ev in calls),
        *((msg, [], [(msg, fb)]) for msg, fb in feedback),
    ]
    for msg, one_call, one_feedback in singles:
        try:
            total.add(_embed_and_store(one_call, one_feedback, analyser, store, stamp))
        except Exception as exc:  # noqa: BLE001 - becomes the dead letter's reason
            total.dead_letters.append(dead_letter(msg, _error(exc), "store", now,
                                                  dead_letter_bytes))
    return total


def dead_letter(msg: RawMessage, reason: str, stage: str, now: datetime,
                max_bytes: int = 65_536) -> DeadLetter:
    return DeadLetter.of(
        reason=reason, stage=stage, topic=msg.topic, partition=msg.partition,
        offset=msg.offset, key=msg.key, value=msg.value, now=now, max_bytes=max_bytes,
    )


def _error(exc: Exception) -> str:
    first = (str(exc).splitlines() or [""])[0]
    return f"cannot be stored: {type(exc).__name__}: {first}"[:1000]
