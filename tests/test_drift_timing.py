"""How a backlog falls into batches and rounds never changes which windows fire.

The same stream of calls — three partitions, a shift two thirds in — is handed to the drift
stage as one backlog, in batches of 7 with one partition 90 calls behind the others, and in
batches of random sizes with the partitions merged in random order (each partition's calls
in their own order, as Kafka keeps them), with the clock of each round moving differently.
Every way gives the same windows, the same verdicts and the same p-values."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from factories import make_event

from llmwatch.config import DriftSettings
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition
from llmwatch.storage import Store, upgrade
from llmwatch.streams.drift_stage import DriftStage

T0 = datetime(2026, 11, 2, tzinfo=UTC)
PARTITIONS = 3
CALLS = 1200
SHIFT_AT = 800
SETTINGS = DriftSettings(reference_size=300, window_size=150, clusters=2, online=True,
                         online_window=100, online_check_every=25, false_alarm_every_s=7200,
                         idle_partition_s=3600, lateness_s=0)


def stream() -> list[EmbeddedEvent]:
    rng = np.random.default_rng(7)
    shift = np.zeros(16)
    shift[3] = 0.9
    calls = []
    for i in range(CALLS):
        v = rng.normal(size=16) + (shift if i >= SHIFT_AT and i % 2 else 0)
        v = (v / np.linalg.norm(v)).astype(np.float32)
        event = make_event(i, timestamp=T0 + timedelta(seconds=i), prompt=f"question {i:05d}")
        calls.append(EmbeddedEvent(event, v, v, SourcePosition("events", i % PARTITIONS, i)))
    return calls


def by_partition(calls: Sequence[EmbeddedEvent]) -> list[list[EmbeddedEvent]]:
    return [[c for c in calls if c.source and c.source.partition == p] for p in range(PARTITIONS)]


def one_backlog(calls: Sequence[EmbeddedEvent]) -> Iterator[list[EmbeddedEvent]]:
    yield list(calls)


def small_batches_one_partition_behind(calls: Sequence[EmbeddedEvent]
                                       ) -> Iterator[list[EmbeddedEvent]]:
    order = [c for c in calls if c.source and c.source.partition != 2]
    lagging = [c for c in calls if c.source and c.source.partition == 2]
    merged, k = [], 0
    for c in order:  # partition 2 arrives 90 calls (of its own) late
        merged.append(c)
        if c.event.timestamp - T0 >= timedelta(seconds=270) and k < len(lagging):
            merged.append(lagging[k])
            k += 1
    merged += lagging[k:]
    for start in range(0, len(merged), 7):
        yield merged[start:start + 7]


def random_batches_random_merge(calls: Sequence[EmbeddedEvent]
                                ) -> Iterator[list[EmbeddedEvent]]:
    rng = random.Random(3)
    queues = [list(reversed(q)) for q in by_partition(calls)]
    merged = []
    while any(queues):
        q = rng.choice([q for q in queues if q])
        merged += [q.pop() for _ in range(min(len(q), rng.randint(1, 40)))]
    at = 0
    while at < len(merged):
        size = rng.randint(1, 60)
        yield merged[at:at + size]
        at += size


def verdicts(tmp_path: Path, name: str,
             schedule: Callable[[Sequence[EmbeddedEvent]], Iterator[list[EmbeddedEvent]]],
             seconds_per_round: float) -> list[tuple[object, ...]]:
    store = Store(f"sqlite:///{tmp_path / name}.db")
    upgrade(store.engine)
    stage = DriftStage(store, SETTINGS, partitions=PARTITIONS)
    now = datetime.now(UTC)
    found = []
    try:
        for batch in schedule(stream()):
            store.save_events(batch)
            found += stage.process(batch, now)
            now += timedelta(seconds=seconds_per_round)
        found += stage.process([], now)  # a quiet tick after the last batch
        assert stage.late == 0
    finally:
        store.dispose()
    return sorted((f.detector, f.metric, f.window.start, f.window.end, f.window.n_current,
                   f.fired, f.severity, round(f.p_value or 0.0, 9)) for f in found)


@pytest.mark.timeout(600)
def test_the_same_stream_in_any_batches_and_delays_gives_the_same_findings(
        tmp_path: Path) -> None:
    reference = verdicts(tmp_path, "backlog", one_backlog, 0.0)
    windows = {(v[2], v[3]) for v in reference if v[1] == "prompt_embedding"}
    assert len(windows) >= 4  # the stream was judged, window by window
    fired = [v for v in reference if v[1] == "prompt_embedding" and v[5]]
    assert fired and all(v[2] >= T0 + timedelta(seconds=SHIFT_AT - 150) for v in fired)
    assert any(v[0] == "online_drift" and v[5] for v in reference)  # the online one too
    assert verdicts(tmp_path, "small", small_batches_one_partition_behind, 0.5) == reference
    assert verdicts(tmp_path, "random", random_batches_random_merge, 3.0) == reference
