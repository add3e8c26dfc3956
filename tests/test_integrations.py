"""The OpenAI client wrapper and the LangChain handler, with the real `openai` client and
`langchain-openai` against a local OpenAI-compatible server, to real Kafka: each call is one
event with prompt, answer, model, tokens, latency and cost; what the app receives is
untouched, errors included; monitoring's own failures never reach the app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import openai
import pytest
from factories import consume
from openai_server import API_KEY, OpenAICompatible

from llmwatch.integrations.openai import watch
from llmwatch.integrations.prices import DEFAULT
from llmwatch.local.kafka import LocalKafka
from llmwatch.schemas import LLMEvent, decode_event
from llmwatch.sdk import Monitor

ANSWER = "The museum opens at nine and closes at five."


@pytest.fixture
def api() -> Iterator[OpenAICompatible]:
    server = OpenAICompatible(chat=lambda messages: ANSWER).start()
    yield server
    server.stop()


def _events(kafka: LocalKafka, topic: str, n: int) -> list[LLMEvent]:
    out = [decode_event(r.value) for r in consume(kafka.bootstrap, topic, expect=n)]
    assert all(isinstance(e, LLMEvent) for e in out), out
    return sorted(out, key=lambda e: e.timestamp)  # type: ignore[arg-type, return-value]


def test_the_openai_wrapper_records_plain_streamed_async_and_failed_calls(
        kafka: LocalKafka, api: OpenAICompatible) -> None:
    topic = f"wrap-{uuid.uuid4().hex[:8]}"
    monitor = Monitor(kafka.bootstrap, topic=topic)
    client = watch(openai.OpenAI(base_url=api.base_url, api_key=API_KEY, max_retries=0),
                   app="museum-bot", monitor=monitor, prompt_version="v3")
    asked = [{"role": "system", "content": "Short answers."},
             {"role": "user", "content": [{"type": "text", "text": "When are you open?"}]}]
    got = client.chat.completions.create(model="gpt-4o-mini", messages=asked)
    assert isinstance(got, openai.types.chat.ChatCompletion)  # the client's own object
    assert got.choices[0].message.content == ANSWER

    stream = client.chat.completions.create(
        model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "And on Sundays?"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == ANSWER

    async def async_call() -> str:
        aclient = watch(openai.AsyncOpenAI(base_url=api.base_url, api_key=API_KEY),
                        app="museum-bot", monitor=monitor)
        done = await aclient.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Tickets?"}])
        parts = []
        async for chunk in await aclient.chat.completions.create(
                model="gpt-4o-mini", stream=True,
                messages=[{"role": "user", "content": "Parking?"}]):
            parts.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
        return str(done.choices[0].message.content) + "|" + "".join(parts)
    assert asyncio.run(async_call()) == ANSWER + "|" + ANSWER

    api.down = True  # the provider fails: the app sees the client's own exception
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": "Still there?"}])
    api.down = False
    monitor.close(timeout_s=30)

    plain, streamed, a_plain, a_streamed, failed = _events(kafka, topic, 5)
    assert [m.role for m in plain.prompt] == ["system", "user"]  # type: ignore[union-attr]
    assert plain.prompt_text == "When are you open?" and plain.response == ANSWER
    assert (plain.app, plain.model, plain.prompt_version) == ("museum-bot", "gpt-4o-mini", "v3")
    # the server counts the words of each message's JSON content, and of the answer
    assert (plain.input_tokens, plain.output_tokens) == (9, 9)
    assert plain.cost_usd == DEFAULT.cost_usd("gpt-4o-mini", 9, 9)
    assert plain.latency_ms is not None and plain.latency_ms > 0
    assert plain.finish_reason == "stop" and plain.error is None
    assert streamed.response == ANSWER and streamed.metadata["streamed"] is True
    assert (streamed.input_tokens, streamed.output_tokens) == (3, 9)
    assert a_plain.prompt_text == "Tickets?" and a_streamed.response == ANSWER
    assert a_streamed.input_tokens is None  # no include_usage: no tokens, no guessed cost
    assert failed.response is None and "InternalServerError" in (failed.error or "")


def test_monitoring_failures_never_reach_the_app(api: OpenAICompatible,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Monitor):
        def emit(self, *a: object, **k: object) -> str | None:
            raise RuntimeError("the SDK itself broke")

    monitor = Broken("127.0.0.1:1", topic="never")
    client = watch(openai.OpenAI(base_url=api.base_url, api_key=API_KEY), app="x",
                   monitor=monitor)
    for _ in range(3):
        got = client.chat.completions.create(model="m", messages=[{"role": "user",
                                                                    "content": "hi"}])
        assert got.choices[0].message.content == ANSWER
    recorder = client.__dict__["llmwatch_recorder"]
    assert recorder.guard.failures == 3
    said = [r for r in caplog.records if "not recorded" in r.getMessage()]
    assert len(said) == 1  # once per kind of failure
    monitor.close(timeout_s=0.1)


def test_the_langchain_handler_records_each_model_call(kafka: LocalKafka,
                                                        api: OpenAICompatible) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    from llmwatch.integrations.langchain import LLMWatchCallbackHandler

    topic = f"lc-{uuid.uuid4().hex[:8]}"
    monitor = Monitor(kafka.bootstrap, topic=topic)
    handler = LLMWatchCallbackHandler(app="lc-bot", monitor=monitor)
    model = ChatOpenAI(model="gpt-4o-mini", base_url=api.base_url, api_key=API_KEY,
                       callbacks=[handler], max_retries=0)
    reply = model.invoke([SystemMessage("Short answers."), HumanMessage("When are you open?")])
    assert reply.content == ANSWER
    streamed = "".join(str(c.content) for c in model.stream("And on Sundays?"))
    assert streamed == ANSWER
    api.down = True
    with pytest.raises(openai.InternalServerError):
        model.invoke("Still there?")
    api.down = False
    monitor.close(timeout_s=30)
    assert handler.guard.failures == 0
    first, second, failed = _events(kafka, topic, 3)
    assert [m.role for m in first.prompt] == ["system", "user"]  # type: ignore[union-attr]
    assert (first.app, first.model, first.response) == ("lc-bot", "gpt-4o-mini", ANSWER)
    assert (first.input_tokens, first.output_tokens) == (6, 9)
    assert first.cost_usd == DEFAULT.cost_usd("gpt-4o-mini", 6, 9)
    assert first.latency_ms is not None and first.finish_reason == "stop"
    assert second.prompt_text == "And on Sundays?" and second.response == ANSWER
    assert failed.response is None and "503" in (failed.error or "")  # LangChain's wrapping
