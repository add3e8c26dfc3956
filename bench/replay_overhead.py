"""A replay of 10,000 stored calls: llmwatch's own time per call beside the endpoint's, one run.

    python -m bench.replay_overhead [--calls 10000] [--concurrency 8]

The calls (real chit-chat turns, 30 % of them about money) are stored first through the
worker's pipeline (static embedding and checks, SQLite). The candidate is the corpus chat
server (`llmwatch/local/chat_server.py`) as a process of its own on loopback. Then one
`llmwatch replay` of the segment, timed by part: choosing the prompts (the query and the
topic clusters), recording the run, asking (the endpoint's time per call as the client saw
it, and the wall time), scoring and storing each answer beside the serving one (the worker's
checks over both answers), and the verdict with its HTML and JSON. Both share the machine's
2 cores with the endpoint process. Writes bench/results/replay.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import results
from llmwatch.config import EmbeddingSettings, QualitySettings
from llmwatch.detectors.redact import DEFAULT_PRIVACY
from llmwatch.detectors.segments import Segment
from llmwatch.local.kafka import free_port
from llmwatch.replay import Candidate, Replay, publish, select_segment
from llmwatch.simulate import TrafficPlan, traffic
from llmwatch.storage import Store, upgrade
from llmwatch.streams.analysis import local_analyser
from llmwatch.streams.pipeline import RawMessage, process_batch


def store_calls(store: Store, analyser: object, n: int, start: datetime) -> float:
    plan = TrafficPlan(events=n, seed=21, start=start, spacing_s=1.0, shift_at=0.0,
                       shift_fraction=0.3, feedback_rate=0.0)
    messages = [m.value for m in traffic(plan)]
    started = time.perf_counter()
    for at in range(0, len(messages), 256):
        raw = [RawMessage("bench", 0, at + i, None, v)
               for i, v in enumerate(messages[at:at + 256])]
        process_batch(raw, store=store, now=datetime.now(UTC), analyser=analyser)  # type: ignore[arg-type]
    return time.perf_counter() - started


def wait_up(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the chat server at {url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="llmwatch-replay-bench-"))
    store = Store(f"sqlite:///{folder / 'bench.db'}", embedding_model="static")
    upgrade(store.engine)
    analyser = local_analyser(EmbeddingSettings(), QualitySettings())
    store.embedding_model = analyser.name
    start = datetime.now(UTC) - timedelta(days=1)
    print(f"storing {args.calls:,} calls through the pipeline ...", flush=True)
    stored_s = store_calls(store, analyser, args.calls, start)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "llmwatch.local.chat_server", "--topic",
                               "money", "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_up(url)
        os.environ.setdefault("LLMWATCH_BENCH_KEY", "bench")
        candidate = Candidate(url, "corpus", api_key_env="LLMWATCH_BENCH_KEY",
                              concurrency=args.concurrency)
        t0 = time.perf_counter()
        chosen = select_segment(store, Segment("support-bot", "*", "*", "*"), start,
                                datetime.now(UTC), limit=args.calls, privacy=DEFAULT_PRIVACY)
        t1 = time.perf_counter()
        job = Replay(store, analyser, candidate, "bench")
        job.start(chosen, datetime.now(UTC))
        t2 = time.perf_counter()
        result = job.run(progress=lambda done, total: print(
            f"\r  {done:,}/{total:,}", end="", flush=True) if done % 500 == 0 else None)
        t3 = time.perf_counter()
        print()
        published = publish(store, "bench", privacy=DEFAULT_PRIVACY, out_dir=folder)
        t4 = time.perf_counter()
    finally:
        server.terminate()
        server.wait(timeout=30)
    n = len(chosen.calls)
    assert result.complete and result.verdict is not None
    per = {
        "choose_ms": 1000 * (t1 - t0) / n,
        "record_ms": 1000 * (t2 - t1) / n,
        "score_and_store_ms": 1000 * result.stats["llmwatch_s"] / n,
        "verdict_and_publish_ms": 1000 * (t4 - t3) / n,
    }
    own = sum(per.values())
    endpoint = 1000 * result.stats["endpoint_s"] / n
    wall = 1000 * (t4 - t0) / n
    print(f"\n{n:,} calls replayed through a local corpus server, concurrency "
          f"{args.concurrency}, on {os.cpu_count()} cores (storing them first took "
          f"{stored_s:.0f} s)")
    print(f"{'per call':38} {'ms':>8}")
    for k, v in per.items():
        print(f"  llmwatch: {k:28} {v:8.2f}")
    print(f"  llmwatch, all its own work          {own:8.2f}")
    print(f"  endpoint, as the client saw it      {endpoint:8.2f}  (calls overlap: "
          f"{args.concurrency} in flight)")
    print(f"  wall clock                          {wall:8.2f}  ({1000 / wall:.0f} calls/s; "
          f"{(t4 - t0) / 60:.1f} min in all)")
    print(f"verdict: {result.verdict.headline}\nHTML: {published.html_path}")
    path = results.write("replay", {
        "calls": n, "concurrency": args.concurrency, "cores": os.cpu_count(),
        "per_call_ms": {**{k: round(v, 3) for k, v in per.items()},
                        "llmwatch_total": round(own, 3), "endpoint": round(endpoint, 3),
                        "wall": round(wall, 3)},
        "calls_per_s": round(1000 / wall, 1), "decision": result.verdict.decision})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
