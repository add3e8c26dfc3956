"""Whole-pipeline throughput beside the raw embedding throughput of the same model, one run.

    python bench/pipeline_throughput.py [--events 2000] [--batch-size 64] [--metrics-overhead]

With --metrics-overhead the pipeline runs twice on the same broker, with the worker's
/metrics server and lag reader on and off, and prints both rates and their ratio.

1. Starts a real Apache Kafka broker and a `llmwatch worker` process (SQLite storage), warms
   the worker up, then produces `--events` simulated calls and times until all are stored:
   Kafka → decode → embed → store → enriched topic, events/second.
2. Stops the worker and, in this process, embeds the very same prompts and responses with the
   same model and batch size: the ceiling the pipeline could reach, events/second.
3. Prints both and their ratio. Absolute numbers drift on a noisy machine; the ratio is the
   figure to compare between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kafka import KafkaProducer

from llmwatch.config import Settings
from llmwatch.embedding import Embedder, load_model
from llmwatch.local.kafka import LocalKafka, free_port
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage import Store, upgrade
from llmwatch.streams.topics import ensure_topics

WARM_UP = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--metrics-overhead", action="store_true",
                        help="also time the pipeline with metrics off, in the same run")
    args = parser.parse_args()

    plan = TrafficPlan(events=WARM_UP + args.events, feedback_rate=0.0, seed=1)
    messages = [m for m in traffic(plan) if m.kind == "llm_call"]
    warm, timed = messages[:WARM_UP], messages[WARM_UP:]
    workdir = Path(tempfile.mkdtemp(prefix="llmwatch-bench-"))
    with LocalKafka(partitions=3) as kafka:
        settings = Settings.model_validate({
            "kafka": {"bootstrap_servers": kafka.bootstrap},
            "storage": {"url": f"sqlite:///{workdir / 'bench.db'}"},
            "embedding": {"batch_size": args.batch_size},
            "worker": {"data_dir": str(workdir / "worker")},
        })
        pipeline_eps = run_pipeline(settings, warm, timed, workdir)
        if args.metrics_overhead:
            off = settings.model_copy(update={
                "topics": settings.topics.model_copy(update={"events": "events-off",
                                                             "enriched": "enriched-off",
                                                             "deadletter": "dl-off"}),
                "storage": settings.storage.model_copy(
                    update={"url": f"sqlite:///{workdir / 'off.db'}"}),
                "worker": settings.worker.model_copy(update={
                    "data_dir": workdir / "worker-off", "app_id": "llmwatch-off"})})
            off_eps = run_pipeline(off, warm, timed, workdir, metrics=False)
            print(f"\nmetrics on:  {pipeline_eps:8.1f} events/s\nmetrics off: {off_eps:8.1f} "
                  f"events/s\nratio on/off: {pipeline_eps / off_eps:8.3f}")
    raw_eps = run_raw_embedding(timed, args.batch_size)
    print(f"\nevents: {len(timed)}, batch size {args.batch_size}, "
          f"cpu threads {os.cpu_count()}")
    print(f"pipeline (Kafka → worker → SQLite):   {pipeline_eps:8.1f} events/s")
    print(f"raw embedding, same model and texts: {raw_eps:8.1f} events/s "
          "(prompt + response each)")
    print(f"ratio pipeline / raw embedding:       {pipeline_eps / raw_eps:8.2f}")


def run_pipeline(settings: Settings, warm: list, timed: list, workdir: Path,  # type: ignore[type-arg]
                 metrics: bool = True) -> float:
    ensure_topics(settings)
    store = Store(settings.storage.url)
    upgrade(store.engine)
    env = {**os.environ,
           "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "LLMWATCH_STORAGE__URL": settings.storage.url,
           "LLMWATCH_EMBEDDING__BATCH_SIZE": str(settings.embedding.batch_size),
           "LLMWATCH_WORKER__DATA_DIR": str(settings.worker.data_dir),
           "LLMWATCH_WORKER__APP_ID": settings.worker.app_id,
           "LLMWATCH_TOPICS__EVENTS": settings.topics.events,
           "LLMWATCH_TOPICS__ENRICHED": settings.topics.enriched,
           "LLMWATCH_TOPICS__DEADLETTER": settings.topics.deadletter,
           "LLMWATCH_WORKER__METRICS_PORT": str(free_port()) if metrics else "off"}
    log = (workdir / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "llmwatch", "worker", "--loglevel", "warn"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all",
                             linger_ms=5)
    try:
        produce(producer, settings.topics.events, warm)
        wait_stored(store, len(warm), worker)
        print(f"worker warm ({len(warm)} events stored); timing {len(timed)} events ...")
        started = time.perf_counter()
        produce(producer, settings.topics.events, timed)
        wait_stored(store, len(warm) + len(timed), worker)
        elapsed = time.perf_counter() - started
    finally:
        producer.close()
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    return len(timed) / elapsed


def run_raw_embedding(timed: list, batch_size: int) -> float:  # type: ignore[type-arg]
    events = [json.loads(m.value) for m in timed]
    texts = [e["prompt"] for e in events] + [e["response"] for e in events]
    embedder = Embedder(load_model(), batch_size=Settings().embedding.model_batch_size)
    embedder.encode(texts[:batch_size])  # warm-up, as the worker had
    started = time.perf_counter()
    for i in range(0, len(events), batch_size):  # the worker's batching: one call per batch
        chunk = events[i : i + batch_size]
        embedder.encode([e["prompt"] for e in chunk] + [e["response"] for e in chunk])
    return len(events) / (time.perf_counter() - started)


def produce(producer: KafkaProducer, topic: str, messages: list) -> None:  # type: ignore[type-arg]
    for m in messages:
        producer.send(topic, key=m.key, value=m.value)
    producer.flush()


def wait_stored(store: Store, n: int, worker: subprocess.Popen[bytes],
                timeout_s: float = 900) -> None:
    deadline = time.monotonic() + timeout_s
    while store.counts().events < n:
        if worker.poll() is not None:
            raise SystemExit(f"worker exited with {worker.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the worker")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
