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
    """Create the events, dead-letter, enriched, findings and tickets topics, with
    `retention.topic_days` as their retention.ms (they carry users' text); returns those
    created. Topics that exist keep their configuration."""
    t = settings.topics
    retention_ms = str(int(settings.retention.topic_days * 86_400_000))
    wanted = [t.events, t.deadletter, t.enriched, t.findings, t.tickets]
    admin = KafkaAdminClient(**settings.kafka.kafka_python_options(), request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=t.partitions, replication_factor=t.replication_factor,
                     topic_configs={"retention.ms": retention_ms})
            for name in wanted
            if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another worker created it first
            log.info("created topics %s", [m.name for m in missing])
        return [m.name for m in missing]
    finally:
        admin.close()


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
