"""A flood of hostile messages against the real worker, broker and PostgreSQL, with the
accounting and the valid events' throughput beside a run without the flood.

    python -m bench.flood [--valid 1000] [--bad 10000] [--nested 40]

1. Starts Apache Kafka, PostgreSQL and a `llmwatch worker` (restarted if it ever exits:
   exits are counted), warms it up.
2. Clean run: `--valid` realistic calls alone; times until all are stored.
3. Flood run: `--bad` bad messages of every kind (llmwatch/flood.py: random bytes, truncated
   and deep JSON, wrong types, near-1-MB and over-limit sizes, NaN/Infinity, lone surrogates,
   NUL bytes, extreme timestamps and numbers, reused ids with other content, exact replays,
   empty and null-key messages, and `--nested` ~800 KB messages of nested containers) with
   `--valid` new calls mixed in; times until those are stored.
4. Prints the accounting — valid stored, bad dead-lettered or exact replays, lost, worker
   exits — and the valid events' throughput with and without the flood, and their ratio.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from llmwatch.config import Settings
from llmwatch.flood import KINDS, hostile_messages
from llmwatch.local.kafka import LocalKafka
from llmwatch.local.postgres import LocalPostgres
from llmwatch.schemas import DeadLetter
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage import Store, upgrade
from llmwatch.streams.topics import ensure_topics

WARM_UP = 64


class Supervised:
    """The worker process, restarted when it exits (as a supervisor would), exits counted."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.exits = env, log, 0
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "llmwatch", "worker"], env=self.env,
                                stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def check(self) -> None:
        if self.proc.poll() is not None:
            self.exits += 1
            self.proc = self._start()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--valid", type=int, default=1000)
    parser.add_argument("--bad", type=int, default=10_000)
    parser.add_argument("--nested", type=int, default=40,
                        help="~800 KB messages of nested containers, added to the mix")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="llmwatch-flood-"))
    start = datetime.now(UTC) - timedelta(hours=2)
    plan = TrafficPlan(events=WARM_UP + 2 * args.valid, feedback_rate=0, seed=5, start=start,
                       spacing_s=0.5)
    calls = [(m.key, m.value) for m in traffic(plan)]
    warm, clean, mixed = (calls[:WARM_UP], calls[WARM_UP:WARM_UP + args.valid],
                          calls[WARM_UP + args.valid:])
    with LocalKafka(partitions=6) as kafka, LocalPostgres() as pg:
        url = pg.url
        s = Settings.model_validate({"kafka": {"bootstrap_servers": kafka.bootstrap},
                                     "storage": {"url": url},
                                     "worker": {"data_dir": str(work / "w")}})
        ensure_topics(s)
        store = Store(url)
        upgrade(store.engine)
        env = {"LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap,
               "LLMWATCH_STORAGE__URL": url, "LLMWATCH_WORKER__DATA_DIR": str(work / "w"),
               "LLMWATCH_REPORT__OUT_DIR": str(work / "reports"),
               **_python_env()}
        worker = Supervised(env, work / "worker.log")
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=20,
                                 max_request_size=1_048_000)
        try:
            send(producer, s.topics.events, warm)
            wait_stored(store, WARM_UP, worker)
            clean_eps = timed(producer, s, store, worker, clean, [], WARM_UP)
            bad = list(hostile_messages(args.bad, clean, seed=9))
            rng = random.Random(9)
            for _ in range(args.nested):  # spread through the flood
                bad.insert(rng.randrange(len(bad) + 1), KINDS["nested"](rng, clean))
            flood_eps, positions = timed_flood(producer, s, store, worker, mixed, bad,
                                               WARM_UP + args.valid)
            expected = {p for p, expect in positions.items() if expect == "dead_letter"}
            letters = read_dead_letters(kafka.bootstrap, s.topics.deadletter, len(expected))
        finally:
            producer.close()
            worker.stop()
        counts = store.counts()
        store.dispose()
    lettered = {(d.source_partition, d.source_offset) for d in letters}
    replays = {p for p, expect in positions.items() if expect == "replay"}
    lost = expected - lettered
    wrongly = lettered & replays
    kinds = Counter(k for k, _ in bad_kinds(bad))
    print(f"\nbad messages: {len(bad):,} of {len(kinds)} kinds; valid calls: "
          f"{2 * args.valid + WARM_UP:,}")
    for kind, n in sorted(kinds.items()):
        print(f"  {kind:28s} {n:6,}")
    print(f"valid stored:            {counts.events:,} of {2 * args.valid + WARM_UP:,}")
    print(f"bad dead-lettered:       {len(lettered & expected):,} of {len(expected):,}")
    print(f"bad exact replays:       {len(replays):,} (stored once, silently)")
    print(f"lost:                    {len(lost):,}")
    print(f"replays dead-lettered:   {len(wrongly):,}")
    print(f"worker exits:            {worker.exits}")
    print(f"largest dead letter:     {max(len(d.model_dump_json()) for d in letters):,} bytes")
    print(f"valid events/s without the flood: {clean_eps:7.1f}")
    print(f"valid events/s during the flood:  {flood_eps:7.1f}   "
          f"ratio {flood_eps / clean_eps:.2f} (the bar: ≥ 0.5)")


def _python_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("LLMWATCH_")}


def bad_kinds(bad: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(h.kind, h.expect) for h in bad]


def send(producer: KafkaProducer, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    for key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()


def wait_stored(store: Store, n: int, worker: Supervised, timeout_s: float = 1800) -> None:
    deadline = time.monotonic() + timeout_s
    while store.counts().events < n:
        worker.check()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {store.counts().events} of {n} stored")
        time.sleep(0.2)


def timed(producer: KafkaProducer, s: Settings, store: Store, worker: Supervised,
          valid: list, bad: list, before: int) -> float:  # type: ignore[type-arg]
    began = time.monotonic()
    send(producer, s.topics.events, valid)
    wait_stored(store, before + len(valid), worker)
    return len(valid) / (time.monotonic() - began)


def timed_flood(producer: KafkaProducer, s: Settings, store: Store, worker: Supervised,
                valid: list, bad: list, before: int  # type: ignore[type-arg]
                ) -> tuple[float, dict[tuple[int, int], str]]:
    """Valid calls spread evenly through the bad ones; the clock runs from the first message
    to the last valid call stored."""
    began = time.monotonic()
    futures, every = [], max(1, len(bad) // max(1, len(valid)))
    queue = list(valid)
    for i, h in enumerate(bad):
        futures.append((producer.send(s.topics.events, key=h.key, value=h.value), h.expect))
        if i % every == 0 and queue:
            key, value = queue.pop(0)
            producer.send(s.topics.events, key=key, value=value)
    send(producer, s.topics.events, queue)
    wait_stored(store, before + len(valid), worker)
    eps = len(valid) / (time.monotonic() - began)
    positions = {}
    for future, expect in futures:
        md = future.get(60)
        positions[(md.partition, md.offset)] = expect
    return eps, positions


def read_dead_letters(bootstrap: str, topic: str, expect: int,
                      timeout_s: float = 300) -> list[DeadLetter]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=2000,
                             fetch_max_bytes=50_000_000)
    out: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expect and time.monotonic() < deadline:
            out.extend(DeadLetter.model_validate_json(r.value) for r in consumer)
    finally:
        consumer.close()
    return out


if __name__ == "__main__":
    main()
