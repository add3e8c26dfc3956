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

from .analysis import Analysed, Analyses, LocalAnalyser, ProcessAnalyser

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
    if analyser is None:
        if embedder is None:
            raise TypeError("process_batch needs an embedder or an analyser")
        analyser = LocalAnalyser(embedder, scorer)
    prepared = prepare_batch(messages, analyser=analyser, now=now, limits=limits,
                             dead_letter_bytes=dead_letter_bytes)
    return finish_batch(prepared, store=store, clock=clock)


@dataclass
class PreparedBatch:
    """A batch decoded, with its calls' analyses under way (`prepare_batch`)."""

    now: datetime
    analyser: Analyser
    dead_letter_bytes: int
    calls: list[Call]
    feedback: list[Feedback]
    analyses: list[Future[Analyses]]  # one per CHUNK calls, in order
    outcome: BatchOutcome


def prepare_batch(messages: Sequence[RawMessage], *, analyser: Analyser, now: datetime,
                  limits: Limits = DEFAULT_LIMITS, dead_letter_bytes: int = 65_536
                  ) -> PreparedBatch:
    """Decode a batch and start analysing its calls. Nothing here reads or writes storage,
    so the worker prepares the next batch while the previous one is still being stored
    (`finish_batch` sorts out replays and conflicts against what is stored, in order): the
    analysis process never waits between batches. A replay is analysed for nothing — rare,
    and cheaper than a pause in every batch."""
    calls: list[Call] = []
    feedback: list[Feedback] = []
    outcome = BatchOutcome()
    started = time.perf_counter()
    for msg in messages:
        decoded = decode_event(msg.value, now=now, limits=limits)
        if isinstance(decoded, Rejected):
            outcome.dead_letters.append(dead_letter(msg, decoded.reason, "decode", now,
                                                    dead_letter_bytes))
        elif isinstance(decoded, LLMEvent):
            calls.append((msg, decoded))
        else:
            feedback.append((msg, decoded))
    outcome.time("decode", time.perf_counter() - started)
    return PreparedBatch(now, analyser, dead_letter_bytes, calls, feedback,
                         _submit_chunks(analyser, calls), outcome)


def finish_batch(prepared: PreparedBatch, *, store: Store,
                 clock: Callable[[], datetime] | None = None) -> BatchOutcome:
    """Sort a prepared batch's calls out against storage (new, exact replays, conflicting
    reuses of an id) and store the new ones as their analyses come back. Batches must be
    finished in the order they were taken: the first copy of a call wins."""
    now, analyser, outcome = prepared.now, prepared.analyser, prepared.outcome
    stamp = clock or (lambda: now)
    calls, feedback = prepared.calls, prepared.feedback

    def reject(msg: RawMessage, reason: str, stage: str) -> None:
        outcome.dead_letters.append(dead_letter(msg, reason, stage, now,
                                                prepared.dead_letter_bytes))

    known = until_stored(lambda: store.stored_hashes("events", [e.event_id for _, e in calls]))
    fresh, replayed = _sort_out(calls, known, reject)
    try:
        stored = _store_analysed(calls, prepared.analyses, {id(e) for _, e in fresh}, feedback,
                                 store, stamp)
    except Exception as exc:  # not an outage (those are waited out): some message cannot be stored
        log.error("batch failed (%s); retrying its %d messages one by one",
                  type(exc).__name__, len(fresh) + len(feedback))
        stored = _one_by_one(fresh, feedback, analyser, store, now, stamp,
                             prepared.dead_letter_bytes)
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
    """Analyse and store the calls in chunks (see `_store_analysed`)."""
    return _store_analysed(calls, _submit_chunks(analyser, calls), {id(e) for _, e in calls},
                           feedback, store, stamp)


def _store_analysed(calls: Sequence[Call], analyses: Sequence[Future[Analyses]],
                    fresh: set[int], feedback: Sequence[Feedback], store: Store,
                    stamp: Callable[[], datetime]) -> BatchOutcome:
    """Store the `fresh` calls (by their events' ids, `id()`) of each chunk as its analysis
    comes back; each chunk is its own transaction, all stored before this returns."""
    outcome = BatchOutcome()
    for k, future in enumerate(analyses):
        chunk = calls[k * CHUNK:(k + 1) * CHUNK]
        _store_chunk(outcome, [(call, a) for call, a in zip(chunk, _result(future, outcome),
                                                            strict=True) if id(call[1]) in fresh],
                     store, stamp)
    _store_feedback(outcome, feedback, store, stamp)
    return outcome


def _result(future: Future[Analyses], outcome: BatchOutcome) -> list[Analysed]:
    analyses = future.result()
    for stage, took in analyses.seconds.items():
        outcome.time(stage, took)
    outcome.texts_embedded += analyses.texts_embedded
    return analyses.items


def _store_chunk(outcome: BatchOutcome, analysed: Sequence[tuple[Call, Analysed]],
                 store: Store, stamp: Callable[[], datetime]) -> None:
    if not analysed:
        return
    embedded = [EmbeddedEvent(event, a.prompt_vector, a.response_vector, msg.position,
                              a.quality, a.wire) for (msg, event), a in analysed]
    scores = {event.event_id: a.scores for (_, event), a in analysed if a.scores}
    started = time.perf_counter()
    outcome.new_events += until_stored(lambda: store.save_events(embedded, now=stamp(),
                                                                 quality=scores))
    outcome.time("store", time.perf_counter() - started)
    outcome.embedded.extend(embedded)


def _store_feedback(outcome: BatchOutcome, feedback: Sequence[Feedback], store: Store,
                    stamp: Callable[[], datetime]) -> None:
    verdicts = [fb for _, fb in feedback]
    started = time.perf_counter()
    outcome.new_feedback = until_stored(lambda: store.save_feedback(verdicts, now=stamp()))
    outcome.time("store", time.perf_counter() - started)


def _submit_chunks(analyser: Analyser, calls: Sequence[Call]) -> list[Future[Analyses]]:
    """The analysis of each CHUNK of the calls, all queued at once: started (in the analysis
    process) or done (in this one)."""
    chunks = [calls[i:i + CHUNK] for i in range(0, len(calls), CHUNK)]
    return [analyser.submit([e for _, e in c], [m.position for m, _ in c]) for c in chunks]


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
