"""`llmwatch review`: the second-opinion worker. Its own consumer group (`review.group`) on
the enriched topic, so it scales apart from ingest and never slows it: a slow judge backs up
this group's lag and the review queue, not the calls' path.

Each loop: poll the enriched records, admit the calls worth a second opinion into the
review queue (`ReviewStage.admit`), commit the offsets (the queue holds them now), then
drain the queue for a few seconds (`ReviewStage.drain`). A crash before the commit replays
the records; admission is idempotent by event id.
"""

from __future__ import annotations

import logging
import logging.config
import os
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from llmwatch import logs
from llmwatch.config import Settings
from llmwatch.detectors.second_opinion import Evaluator, Selection, clearable
from llmwatch.schemas.embedded import EmbeddedEvent, from_wire_many
from llmwatch.storage.retry import until_stored
from llmwatch.storage.store import Store

from .review_stage import Budgets, ReviewStage

log = logging.getLogger("llmwatch.review")


def evaluators(settings: Settings) -> list[Evaluator]:
    """The evaluators the settings turn on, each loaded (a clear error if one cannot be)."""
    r = settings.review
    out: list[Evaluator] = []
    if r.reader:
        from llmwatch.evaluators import MiniLMReader

        out.append(MiniLMReader.load())
    if r.classifier_dir is not None:
        from llmwatch.evaluators import SequenceClassifier

        if not r.classifier_labels:
            raise ValueError("review.classifier_dir needs review.classifier_labels: which of "
                             "the model's labels mean which check")
        out.append(SequenceClassifier.load(r.classifier_dir, r.classifier_labels,
                                           threshold=r.classifier_threshold))
    if r.judge_url:
        from llmwatch.judge import OpenAIJudge

        out.append(OpenAIJudge.connect(
            r.judge_url, r.judge_model,
            r.judge_api_key.get_secret_value() if r.judge_api_key else None,
            timeout_s=r.judge_timeout_s, retries=r.judge_retries, checks=r.judge_checks,
            redact=settings.privacy.policy().redact if r.judge_redact else None,
            structured=r.judge_structured, usd_per_mtok_in=r.judge_usd_per_mtok_in,
            usd_per_mtok_out=r.judge_usd_per_mtok_out))
    if not out:
        raise ValueError("the review worker has no evaluator: turn on review.reader, or set "
                         "review.classifier_dir or review.judge_url")
    return out


def build_stage(settings: Settings, store: Store,
                chosen: Sequence[Evaluator] | None = None) -> ReviewStage:
    r = settings.review
    judges = chosen if chosen is not None else evaluators(settings)
    return ReviewStage(
        store.engine, judges,
        Selection(r.unsure_low, r.unsure_high, r.documents, r.sample_rate,
                  flagged=clearable(judges) if r.flagged else ()),
        Budgets(r.max_per_s, r.burst, r.max_pending, r.judge_max_per_s, r.judge_usd_per_day,
                r.max_attempts),
        redact=settings.privacy.text_at_rest() or (lambda t: t))


def readable(values: Sequence[tuple[Any, bytes]]) -> list[EmbeddedEvent]:
    out = []
    for where, value in values:
        try:
            out.extend(from_wire_many(value))
        except Exception as exc:  # noqa: BLE001 - a bad record is skipped, not fatal
            log.error("enriched record %s cannot be read (%s); skipped", where,
                      type(exc).__name__)
    return out


def run_review(settings: Settings, stop: threading.Event | None = None,
               chosen: Sequence[Evaluator] | None = None) -> None:
    """Run the review worker until `stop` is set or SIGINT/SIGTERM (blocking)."""
    from kafka import KafkaConsumer

    from .app import wait_for_database, wait_for_kafka

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        configured = logs.config(settings.log.format, settings.log.level)
        if configured:
            logging.config.dictConfig(configured)
        else:
            logging.basicConfig(level=settings.log.level, force=True,
                                format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
        logging.getLogger("kafka").setLevel(logging.WARNING)  # its connection chatter
        logs.install()
    if settings.review.nice:
        os.nice(settings.review.nice)  # ingest first on a shared host (review.nice)
    wait_for_kafka(settings)
    wait_for_database(settings)
    store = Store(settings.storage.url)
    stage = build_stage(settings, store, chosen)
    consumer = KafkaConsumer(
        settings.topics.enriched, **settings.kafka.kafka_python_options(),
        group_id=settings.review.group, enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=500)
    names = ", ".join(e.name for e in stage.evaluators)
    log.info("review worker up: group %s on %s; evaluators %s", settings.review.group,
             settings.topics.enriched, names)
    try:
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=500)
            events = readable([(f"{tp.topic}[{tp.partition}]@{m.offset}", m.value)
                               for tp, ms in polled.items() for m in ms])
            if events:
                until_stored(lambda batch=events: stage.admit(batch, datetime.now(UTC)))
            if polled:
                consumer.commit()
            until_stored(lambda: stage.drain(lambda: datetime.now(UTC)))
    finally:
        consumer.close()
        store.dispose()
        log.info("review worker stopped")
