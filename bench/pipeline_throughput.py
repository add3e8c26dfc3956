"""Whole-pipeline throughput per embedding backend on realistic calls, side by side, one run.

    python -m bench.pipeline_throughput [--backends static/calls,minilm/calls,static/minilm]
        [--events 6000] [--minilm-events 400] [--latency-s 20] [--no-eval]
        [--metrics-overhead] [--workers 2] [--processes 2]

A backend is `embedding.backend/drift.space`: `static/calls` reads the static space
everywhere, `minilm/calls` MiniLM everywhere (PyTorch, every call), `static/minilm` the
default — static per-call checks, drift on a sample of calls in ONNX MiniLM (a bare `static`
or `minilm` means `…/calls`).

Calls are built from real text that ships in packages (bench/embedding_budget.py): prompts of
~60 words, answers of ~200 words, no repeats (the embedding cache gets no help). For each
backend, against a real Apache Kafka broker and a real PostgreSQL, with a `llmwatch worker`
process at its defaults (every quality check, drift and alerts on):

1. *sustained*: N calls wait in the topic while the worker is stopped (as after a peak);
   the worker is started and drains them: events/s from the first stored to the last;
2. *ceiling*: the same texts embedded in this process with the same backend and batching;
3. *latency*: calls produced at half the sustained rate for `--latency-s`; p50/p95 of
   stored_at − timestamp (the worker stamps stored_at when it writes; the producer stamps
   the timestamp when it sends);
4. *bytes stored per event*: PostgreSQL's size of the rows of one call (event, vectors,
   quality scores), and the vectors alone;
5. *detection* (unless --no-eval): drift power and false alarms of the centroid test on
   bench/drift_eval.py's data, and precision/recall per quality check of
   bench/quality_eval.py, each with that backend's vectors.

With --metrics-overhead, the first backend also runs once with /metrics off.
Absolute numbers drift on a noisy machine; compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from kafka import KafkaProducer
from sqlalchemy import text

from bench.embedding_budget import calls
from llmwatch.config import Settings
from llmwatch.demo import stop_worker
from llmwatch.embedding import head_space, make_embedder
from llmwatch.local.kafka import LocalKafka, free_port
from llmwatch.local.postgres import LocalPostgres
from llmwatch.schemas import LLMEvent
from llmwatch.storage import Store, upgrade
from llmwatch.streams.topics import ensure_topics

WARM_UP = 64
BATCH = 64


@dataclass
class Result:
    backend: str
    events_per_s: float = 0.0
    ceiling: float = 0.0
    p50_s: float = 0.0
    p95_s: float = 0.0
    latency_rate: float = 0.0
    bytes_per_event: float = 0.0
    vector_bytes: float = 0.0
    drift: dict[str, float] = field(default_factory=dict)
    quality: dict[str, tuple[float, float]] = field(default_factory=dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="static/calls,minilm/calls,static/minilm")
    parser.add_argument("--events", type=int, default=6000, help="sustained run, fast backends")
    parser.add_argument("--minilm-events", type=int, default=400,
                        help="sustained run of the minilm backend (~20 events/s)")
    parser.add_argument("--latency-s", type=float, default=20.0)
    parser.add_argument("--no-eval", action="store_true", help="skip drift and quality")
    parser.add_argument("--workers", type=int, default=1,
                        help="workers in the group while the backlog drains (scale-out)")
    parser.add_argument("--processes", type=int, default=1,
                        help="embedding.processes: analysis processes per worker")
    parser.add_argument("--metrics-overhead", action="store_true",
                        help="also time the first backend with /metrics off")
    parser.add_argument("--review-overhead", action="store_true",
                        help="also time the first backend with a second-opinion worker "
                        "(`llmwatch review`, the reader on) running beside it")
    args = parser.parse_args()
    backends = args.backends.split(",")
    results = []
    with LocalKafka(partitions=4) as kafka:
        for backend in backends:
            n = args.minilm_events if backend.startswith("minilm") else args.events
            with LocalPostgres(database="bench") as pg:
                results.append(run_backend(backend, kafka.bootstrap, pg.url, n, args.latency_s,
                                           workers=args.workers, processes=args.processes))
            if args.metrics_overhead and backend == backends[0]:
                with LocalPostgres(database="bench") as pg:
                    off = run_backend(backend, kafka.bootstrap, pg.url, n, 0, metrics=False,
                                      tag="-nometrics")
                print(f"\n{backend}: metrics on {results[-1].events_per_s:.1f} events/s, off "
                      f"{off.events_per_s:.1f}: ratio {results[-1].events_per_s / off.events_per_s:.3f}")
            if args.review_overhead and backend == backends[0]:
                with LocalPostgres(database="bench") as pg:
                    on = run_backend(backend, kafka.bootstrap, pg.url, n, 0, review=True,
                                     tag="-review")
                print(f"\n{backend}: the second-opinion tier off {results[-1].events_per_s:.1f} "
                      f"events/s, on {on.events_per_s:.1f}: ratio "
                      f"{on.events_per_s / results[-1].events_per_s:.3f} (the bar: ≥ 0.95)")
    for r in results:
        per_call, space = _parts(r.backend)
        r.ceiling = raw_ceiling(per_call, args.events if per_call != "minilm"
                                else args.minilm_events)
        if not args.no_eval:
            r.drift = drift_power("onnx" if space == "minilm" else per_call)
            r.quality = quality(per_call)
    table(results)


def _parts(backend: str) -> tuple[str, str]:
    """`static/minilm` -> ("static", "minilm"): the per-call backend and the drift space."""
    per_call, _, space = backend.partition("/")
    return per_call, space or "calls"


def run_backend(backend: str, bootstrap: str, url: str, n: int, latency_s: float, *,
                metrics: bool = True, tag: str = "", workers: int = 1,
                processes: int = 1, review: bool = False) -> Result:
    name = f"{backend}{tag}".replace("/", "-")
    backend, space = _parts(backend)
    workdir = Path(tempfile.mkdtemp(prefix=f"llmwatch-bench-{name}-"))
    settings = Settings.model_validate({
        "kafka": {"bootstrap_servers": bootstrap}, "storage": {"url": url},
        "topics": {"events": f"events-{name}", "enriched": f"enriched-{name}",
                   "deadletter": f"dl-{name}"},
        "worker": {"data_dir": str(workdir / "worker"), "app_id": f"bench-{name}"}})
    ensure_topics(settings)
    store = Store(url)
    upgrade(store.engine)
    env = {**os.environ,
           "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": bootstrap, "LLMWATCH_STORAGE__URL": url,
           "LLMWATCH_EMBEDDING__BACKEND": backend, "LLMWATCH_DRIFT__SPACE": space,
           "LLMWATCH_EMBEDDING__PROCESSES": str(processes),
           "LLMWATCH_WORKER__DATA_DIR": str(settings.worker.data_dir),
           "LLMWATCH_WORKER__APP_ID": settings.worker.app_id,
           "LLMWATCH_TOPICS__EVENTS": settings.topics.events,
           "LLMWATCH_TOPICS__ENRICHED": settings.topics.enriched,
           "LLMWATCH_TOPICS__DEADLETTER": settings.topics.deadletter,
           "LLMWATCH_WORKER__METRICS_PORT": str(port := free_port()) if metrics else "off"}
    log = (workdir / "worker.log").open("ab")

    def start(own_port: bool = False) -> subprocess.Popen[bytes]:
        extra = {"LLMWATCH_WORKER__METRICS_PORT": "off",
                 "LLMWATCH_WORKER__DATA_DIR": str(workdir / f"w{free_port()}")} if own_port else {}
        return subprocess.Popen([sys.executable, "-m", "llmwatch", "worker", "--loglevel",
                                 "warn"], env={**env, **extra}, stdout=log,
                                stderr=subprocess.STDOUT)

    worker = start()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             batch_size=256 * 1024)
    pairs = calls(WARM_UP + n + 40_000, repeat=0.0, seed=11)
    topic = settings.topics.events
    result = Result(f"{backend}/{space}{tag}")
    try:
        send(producer, topic, pairs[:WARM_UP])
        wait_stored(store, WARM_UP, worker, timeout_s=900)  # a first static build included
        # the backlog: N calls waiting while the worker is down (as after a peak or an
        # outage); the rate is how fast a running worker drains it, timed by the stored_at
        # stamps of the first and the last — the producer's own CPU is not in the way
        stop(worker)
        ids = send(producer, topic, pairs[WARM_UP:WARM_UP + n])
        print(f"[{name}] {n} calls waiting; worker restarted to drain them ...", flush=True)
        worker = start()
        helpers = [start(own_port=True) for _ in range(workers - 1)]  # the same group
        if review:  # the second-opinion worker at its defaults, its own group
            helpers.append(subprocess.Popen(
                [sys.executable, "-m", "llmwatch", "review"],
                env={**env, "LLMWATCH_REVIEW__GROUP": f"bench-{name}-review"},
                stdout=log, stderr=subprocess.STDOUT))
        wait_stored(store, WARM_UP + 1, worker)  # loaded and draining: count CPU from here
        before, started = cpu_seconds(), time.monotonic()
        wait_stored(store, WARM_UP + n, worker)
        used, wall = cpu_seconds(), time.monotonic() - started
        for helper in helpers:
            stop(helper)
        result.events_per_s = drain_rate(store, ids)
        print(f"[{name}] sustained {result.events_per_s:.1f} events/s with {workers} "
              "worker(s)", flush=True)
        print(f"[{name}] cores used while draining ({wall:.0f} s): " + ", ".join(
            f"{who} {(used.get(who, 0) - before.get(who, 0)) / wall:.2f}"
            for who in ("worker", "analysis", "postgres", "kafka", "other")), flush=True)
        if metrics:
            print(f"[{name}] worker time by stage: {stage_seconds(port)}", flush=True)
        if latency_s > 0:
            rate = result.events_per_s / 2
            paced = pairs[WARM_UP + n:WARM_UP + n + int(rate * latency_s)]
            ids = send(producer, topic, paced, rate=rate)
            wait_stored(store, WARM_UP + n + len(paced), worker)
            result.p50_s, result.p95_s = latency(store, ids)
            result.latency_rate = rate
            print(f"[{name}] at {rate:.0f} events/s: p50 {result.p50_s:.2f} s, p95 "
                  f"{result.p95_s:.2f} s", flush=True)
        result.bytes_per_event, result.vector_bytes = stored_bytes(store)
        with store.engine.connect() as conn:
            sampled = conn.execute(text("SELECT count(*) FROM drift_vectors")).scalar_one()
            windows = conn.execute(text("SELECT coalesce(sum(windows), 0) FROM drift_cursors")
                                   ).scalar_one()
        print(f"[{name}] drift space: {sampled} calls sampled; {windows} windows judged",
              flush=True)
    finally:
        producer.close()
        stop(worker)
        store.dispose()
    return result


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the processes of this machine, by role: the llmwatch
    worker, its analysis process, PostgreSQL, Kafka, and the rest (this script included)."""
    tick = os.sysconf("SC_CLK_TCK")
    workers, found = set(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parent, seconds = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if "llmwatch worker" in cmd:
            workers.add(int(entry.name))
        found.append((parent, cmd, seconds))
    out: dict[str, float] = {}
    for parent, cmd, seconds in found:
        who = ("worker" if "llmwatch worker" in cmd else "analysis" if parent in workers
               else "postgres" if "postgres" in cmd else "kafka" if "kafka.Kafka" in cmd
               else "other")
        out[who] = out.get(who, 0.0) + seconds
    return out


def stop(worker: subprocess.Popen[bytes]) -> None:
    stop_worker(worker, timeout_s=60)


def stage_seconds(port: int) -> str:
    """The worker's own account (/metrics): seconds spent per stage of ingest, batches."""
    import re
    import urllib.request

    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    parts = [f"{m[0]} {float(m[1]):.1f} s" for m in re.findall(
        r'llmwatch_batch_seconds_sum\{stage="(\w+)"\} (\S+)', body)]
    batches = re.search(r"llmwatch_batch_size_count (\S+)", body)
    return ", ".join(parts) + (f"; {float(batches[1]):.0f} batches" if batches else "")


def drain_rate(store: Store, ids: list[str]) -> float:
    with store.engine.connect() as conn:
        first, last = conn.execute(text(
            "SELECT min(stored_at), max(stored_at) FROM events WHERE event_id = ANY(:ids)"),
            {"ids": ids}).one()
    return (len(ids) - 1) / max((last - first).total_seconds(), 1e-9)


def send(producer: KafkaProducer, topic: str, pairs: list[tuple[str, str]],
         rate: float | None = None) -> list[str]:
    ids = []
    started = time.perf_counter()
    for i, (prompt, answer) in enumerate(pairs):
        if rate:
            ahead = started + i / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        event = LLMEvent(event_id=uuid.uuid4().hex, timestamp=datetime.now(UTC),
                         app="support-bot", model="gpt-4o", prompt=prompt, response=answer,
                         latency_ms=900.0, input_tokens=80, output_tokens=260,
                         cost_usd=0.0021)
        producer.send(topic, key=event.partition_key, value=event.model_dump_json().encode())
        ids.append(event.event_id)
    producer.flush()
    return ids


def wait_stored(store: Store, n: int, worker: subprocess.Popen[bytes],
                timeout_s: float = 1800) -> None:
    deadline = time.monotonic() + timeout_s
    while store.counts().events < n:
        if worker.poll() is not None:
            raise SystemExit(f"worker exited with {worker.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the worker")
        # the rate is timed by stored_at, not by this poll (a count every 50 ms cost
        # PostgreSQL a tenth of a core, taken from the worker it measures)
        time.sleep(0.5)


def latency(store: Store, ids: list[str]) -> tuple[float, float]:
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT EXTRACT(EPOCH FROM stored_at - timestamp) FROM events "
            "WHERE event_id = ANY(:ids)"), {"ids": ids}).scalars().all()
    seconds = np.array([float(r) for r in rows])
    return float(np.percentile(seconds, 50)), float(np.percentile(seconds, 95))


def stored_bytes(store: Store) -> tuple[float, float]:
    """Bytes of one call's rows (event, vectors, quality scores), and of its vectors alone."""
    with store.engine.connect() as conn:
        events = conn.execute(text("SELECT count(*), sum(pg_column_size(e.*)) FROM events e")
                              ).one()
        vectors = conn.execute(text(
            "SELECT (SELECT coalesce(sum(pg_column_size(v.*)), 0) FROM embeddings v)"
            " + (SELECT coalesce(sum(pg_column_size(d.*)), 0) FROM drift_vectors d)")
            ).scalar_one()
        scores = conn.execute(text("SELECT sum(pg_column_size(q.*)) FROM quality_scores q")
                              ).scalar_one()
    n = max(int(events[0]), 1)
    return (int(events[1] or 0) + int(vectors or 0) + int(scores or 0)) / n, int(vectors or 0) / n


def raw_ceiling(backend: str, n: int) -> float:
    embedder = make_embedder(backend, batch_size=Settings().embedding.model_batch_size)
    pairs = calls(WARM_UP + n, repeat=0.0, seed=11)[WARM_UP:]
    embedder.encode([p for p, _ in pairs[:16]])  # warm-up, as the worker had
    started = time.perf_counter()
    for i in range(0, len(pairs), BATCH):  # the worker's batching: one call per batch
        chunk = pairs[i:i + BATCH]
        embedder.encode([p for p, _ in chunk] + [a for _, a in chunk])
    return len(pairs) / (time.perf_counter() - started)


def drift_power(backend: str) -> dict[str, float]:
    from bench import drift_eval
    from bench.embedded_corpus import load_corpus

    corpus = load_corpus("coding", backend=backend)
    with contextlib.redirect_stdout(io.StringIO()):
        row = drift_eval.windowed("centroid", drift_eval._ours("centroid"), corpus,
                                  np.random.default_rng(42), 1000, 200)
    return {"false_alarms": row.false_alarm_rate,
            **{f"power@{s:.0%}": p for s, p in row.power.items()}}


def quality(backend: str) -> dict[str, tuple[float, float]]:
    from bench import quality_eval
    from llmwatch.detectors.quality import QualityConfig

    with contextlib.redirect_stdout(io.StringIO()):
        return quality_eval.evaluate(make_embedder(backend), QualityConfig(),
                                     head_space(backend))


def table(results: list[Result]) -> None:
    print("\nbackend           events/s  ceiling  p50 s  p95 s (at ev/s)  bytes/event (vectors)"
          "  false-alarm  power@5%  power@10%  power@20%")
    for r in results:
        d = r.drift
        drift = (f"  {d['false_alarms']:>7.3f}/0.05 {d['power@5%']:>9.2f} {d['power@10%']:>10.2f}"
                 f" {d['power@20%']:>10.2f}") if d else ""
        print(f"{r.backend:<15} {r.events_per_s:>9.1f} {r.ceiling:>8.1f} {r.p50_s:>6.2f} "
              f"{r.p95_s:>6.2f} ({r.latency_rate:>5.0f})  {r.bytes_per_event:>9.0f} "
              f"({r.vector_bytes:>5.0f}){drift}")
    if any(r.quality for r in results):
        checks = list(next(r.quality for r in results if r.quality))
        print("\nquality (precision / recall)  " + "  ".join(f"{c:>13}" for c in checks))
        for r in results:
            print(f"{r.backend:<29} " + "  ".join(
                f"{r.quality[c][0]:>6.3f}/{r.quality[c][1]:.3f}" for c in checks))
    base = next((r for r in results if r.backend.startswith("minilm")), None)
    if base:
        for r in results:
            if r is not base and base.events_per_s:
                print(f"\n{r.backend} / {base.backend}: "
                      f"{r.events_per_s / base.events_per_s:.1f}× the pipeline's events/s")


if __name__ == "__main__":
    main()
