"""Record the span attributes an instrumentation package writes, as a test fixture.

    python scripts/record_spans.py OUT.json

Run it in a virtualenv holding the instrumentation to record (the tests' own environment
holds only the newest releases): e.g. OpenLLMetry 0.40.14, the last of its releases that
writes the numbered `gen_ai.prompt.N.*` attributes still common in production:

    venv=$(mktemp -d) && python -m venv "$venv" && "$venv/bin/pip" install \\
        opentelemetry-instrumentation-openai==0.40.14 'openai<2' opentelemetry-sdk
    PYTHONPATH=tests "$venv/bin/python" scripts/record_spans.py \\
        tests/data/otel/openllmetry-0.40.14.json; rm -rf "$venv"

It drives the real `openai` client against the tests' local OpenAI-compatible server (a
system and a user message; a streamed call) and writes each span's attributes and times.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

from openai_server import API_KEY, OpenAICompatible


def main() -> None:
    import openai
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    api = OpenAICompatible(chat=lambda messages: "Paris is the capital of France.").start()
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=api.base_url, api_key=API_KEY)
    client.chat.completions.create(model="gpt-4o-mini-2024-07-18", messages=[
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is the capital of France?"}])
    for _ in client.chat.completions.create(
            model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "And of Italy?"}]):
        pass
    api.stop()
    spans = [{"name": s.name, "attributes": dict(s.attributes or {}),
              "start_time_unix_nano": s.start_time, "end_time_unix_nano": s.end_time}
             for s in memory.get_finished_spans()]
    package = "opentelemetry-instrumentation-openai"
    doc = {"recorded_with": {package: version(package), "openai": version("openai")},
           "spans": spans}
    with open(sys.argv[1], "w") as out:
        json.dump(doc, out, indent=1, default=list, sort_keys=True)
        out.write("\n")


if __name__ == "__main__":
    main()
