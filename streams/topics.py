"""Create llmwatch's topics if they are missing (kafka-python admin client)."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from llmwatch.config import Settings
from llmwatch.schemas import DeadLetter

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings) -> list[str]:
    """Create the events, dead-letter, enriched, findings and tickets topics, with the
    retention their text asks for (`topic_configs`); returns those created. Topics that
    exist are brought to `retention.raw_topic_hours` when it is set."""
    t = settings.topics
    configs = topic_configs(settings)
    admin = KafkaAdminClient(**settings.kafka.kafka_python_options(), request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=t.partitions, replication_factor=t.replication_factor,
                     topic_configs=configs[name])
            for name in configs
            if name not in existing
        ]
        if settings.retention.raw_topic_hours is not None:
            _align(admin, {n: c for n, c in configs.items()
                           if n in existing and n in raw_text_topics(settings)})
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another worker created it first
            log.info("created topics %s", [m.name for m in missing])
        return [m.name for m in missing]
    finally:
        admin.close()


def raw_text_topics(settings: Settings) -> list[str]:
    """The topics that hold users' text as sent."""
    t = settings.topics
    return [t.events, t.enriched, t.deadletter]


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """retention.ms (and segment.ms, so that retention can act: Kafka deletes whole segments)
    of each topic llmwatch creates."""
    t = settings.topics
    out = {}
    for name in (t.events, t.deadletter, t.enriched, t.findings, t.tickets):
        hours = erase_bound_hours(settings, name)[0]
        out[name] = {"retention.ms": str(int(hours * 3_600_000)),
                     "segment.ms": str(int(segment_hours(hours) * 3_600_000))}
    return out


def segment_hours(retention_hours: float) -> float:
    return min(retention_hours / 4, 24.0)


def erase_bound_hours(settings: Settings, topic: str) -> tuple[float, float]:
    """(retention, the longest a record can outlive its write) in hours: retention, plus
    the segment it sits in, plus Kafka's 5-minute retention check."""
    raw = settings.retention.raw_topic_hours
    hours = raw if raw is not None and topic in raw_text_topics(settings) else (
        settings.retention.topic_days * 24)
    return hours, hours + segment_hours(hours) + 5 / 60


def _align(admin: KafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    if wanted:
        result = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs=c)
                                      for name, c in wanted.items()])
        failed = {name: r for kind in result.values() for name, r in kind.items()
                  if str(r) != "OK"}
        if failed:
            log.warning("could not set the retention of %s: %s", sorted(failed), failed)
            return
        log.info("retention of %s set to %s ms", sorted(wanted),
                 next(iter(wanted.values()))["retention.ms"])


def end_offsets(settings: Settings, topic: str) -> int:
    """Total number of records ever written to `topic` (sum of its partitions' end offsets)."""
    return topic_sizes(settings, [topic])[topic]


def topic_sizes(settings: Settings, topics: list[str]) -> dict[str, int]:
    """end_offsets of several topics through one consumer connection."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka.kafka_python_options())
    try:
        sizes = {}
        for topic in topics:
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            sizes[topic] = sum(consumer.end_offsets(tps).values()) if tps else 0
        return sizes
    finally:
        consumer.close()


def read_dead_letters(settings: Settings, *, timeout_ms: int = 3000) -> list[DeadLetter]:
    """Every record on the dead-letter topic, oldest first (for `status` and the demo)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topics.deadletter, **settings.kafka.kafka_python_options(),
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=timeout_ms,
    )
    try:
        return [DeadLetter.model_validate_json(m.value) for m in consumer]
    finally:
        consumer.close()
