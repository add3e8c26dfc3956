"""The ingest gateway beside producing to Kafka directly, in one run on this machine:
sustained events/s and the latency each adds (p50/p95), on real chat calls.

    python -m bench.gateway_throughput [--events 20000] [--batch 100] [--clients 4]

Direct: one kafka-python producer (acks=all, idempotent, as the SDK sends), latency from
send() to the acknowledgement. Gateway: `llmwatch gateway` as its own process, `--clients`
threads POSTing batches of `--batch` events to /v1/events (keep-alive), latency from the
request to the 202 — the gate and Kafka's acknowledgement included; and the same calls as
OTLP protobuf spans to /v1/traces. Writes bench/results/gateway.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer

from bench import results
from llmwatch.local.kafka import LocalKafka, free_port
from llmwatch.schemas import LLMEvent
from llmwatch.simulate import chitchat_pairs


def calls(n: int) -> list[bytes]:
    pairs = chitchat_pairs()
    start = datetime.now(UTC) - timedelta(minutes=5)
    out = []
    for i in range(n):
        prompt, response = pairs[i % len(pairs)]
        out.append(LLMEvent(event_id=f"b-{uuid.uuid4().hex}", timestamp=start, app="bench",
                            model="gpt-4o-mini", prompt=[{"role": "user", "content": prompt}],
                            response=response, latency_ms=800.0, input_tokens=40,
                            output_tokens=60, cost_usd=0.0001).model_dump_json(
                                exclude_none=True).encode())
    return out


def percentile(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) > 1 else xs[0]


def direct(bootstrap: str, topic: str, values: list[bytes]) -> dict[str, float]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=20)
    producer.send(topic, value=b"{}").get(timeout=30)  # metadata and connection warm
    latencies: list[float] = []
    lock = threading.Lock()
    started = time.perf_counter()
    for v in values:
        t0 = time.perf_counter()

        def done(_md: object, t0: float = t0) -> None:
            with lock:
                latencies.append(time.perf_counter() - t0)
        producer.send(topic, value=v).add_callback(done)
    producer.flush(timeout=120)
    took = time.perf_counter() - started
    producer.close()
    return {"events_per_s": len(values) / took, "p50_ms": percentile(latencies, 50) * 1e3,
            "p95_ms": percentile(latencies, 95) * 1e3}


def through_gateway(port: int, bodies: list[tuple[bytes, int]], path: str, content_type: str,
                    clients: int) -> dict[str, float]:
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    work = list(bodies)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not work:
                    break
                body, _n = work.pop()
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": content_type})
            answer = conn.getresponse()
            answer.read()
            with lock:
                latencies.append(time.perf_counter() - t0)
                if answer.status >= 300:
                    failures.append(answer.status)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - started
    events = sum(n for _, n in bodies)
    if failures:
        raise SystemExit(f"{len(failures)} requests failed: {sorted(set(failures))}")
    return {"events_per_s": events / took, "p50_ms": percentile(latencies, 50) * 1e3,
            "p95_ms": percentile(latencies, 95) * 1e3}


def otlp_bodies(values: list[bytes], batch: int) -> list[tuple[bytes, int]]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    out = []
    for k in range(0, len(values), batch):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", "bench"
        scope = rs.scope_spans.add()
        now = time.time_ns()
        for v in values[k:k + batch]:
            e = json.loads(v)
            span = scope.spans.add()
            span.name, span.trace_id, span.span_id = "chat", os.urandom(16), os.urandom(8)
            span.start_time_unix_nano, span.end_time_unix_nano = now, now + 800_000_000
            for key, value in (("gen_ai.request.model", e["model"]),
                               ("gen_ai.input.messages", json.dumps([{"role": "user", "parts": [
                                   {"type": "text", "content": e["prompt"][0]["content"]}]}])),
                               ("gen_ai.output.messages", json.dumps([{
                                   "role": "assistant", "parts": [
                                       {"type": "text", "content": e["response"]}]}]))):
                a = span.attributes.add()
                a.key, a.value.string_value = key, value
        out.append((request.SerializeToString(), len(values[k:k + batch])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    values = calls(args.events)
    with LocalKafka(partitions=6) as kafka:
        print(f"{args.events} chat calls, batches of {args.batch}, {args.clients} clients")
        d = direct(kafka.bootstrap, "bench-direct", values)
        port = free_port()
        env = {**os.environ, "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap,
               "LLMWATCH_TOPICS__EVENTS": "bench-gateway", "LLMWATCH_GATEWAY__PORT": str(port)}
        gateway = subprocess.Popen([sys.executable, "-m", "llmwatch", "gateway"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(120):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("GET", "/readyz")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            batches = [(b"[" + b",".join(values[k:k + args.batch]) + b"]",
                        len(values[k:k + args.batch]))
                       for k in range(0, len(values), args.batch)]
            g = through_gateway(port, batches, "/v1/events", "application/json", args.clients)
            o = through_gateway(port, otlp_bodies(values, args.batch), "/v1/traces",
                                "application/x-protobuf", args.clients)
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
    rows = {"direct to Kafka (per event)": d, "gateway /v1/events (per batch)": g,
            "gateway /v1/traces OTLP (per batch)": o}
    print(f"\n{'route':<38} {'events/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'vs direct':>9}")
    for name, r in rows.items():
        print(f"{name:<38} {r['events_per_s']:>9.0f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['events_per_s'] / d['events_per_s']:>8.2f}×")
    path = results.write("gateway", {"events": args.events, "batch": args.batch,
                                     "clients": args.clients, "cores": os.cpu_count(),
                                     "rows": {k: {m: round(v, 2) for m, v in r.items()}
                                              for k, r in rows.items()}})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
