"""Record every chat completion an `openai` client makes, unchanged for the app.

    from openai import OpenAI
    from llmwatch.integrations.openai import watch

    client = watch(OpenAI(), app="support-bot")        # AsyncOpenAI works the same
    client.chat.completions.create(model="gpt-4o-mini", messages=[...])   # as before

`watch` returns the same client with `chat.completions` wrapped: the app gets exactly what
the client returns (objects, streams, exceptions); after each call one event goes to the
SDK's queue (prompt, answer, model and snapshot, latency, tokens, cost from a price table,
finish reason, error). A streamed answer is recorded when the stream ends (or is closed),
from the chunks the app read; with `stream_options={"include_usage": True}` it has tokens
and cost. Monitoring's own failures are counted and logged once, never raised.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from llmwatch.sdk import Monitor

from .calls import Call, Guard, event_of
from .prices import DEFAULT, Prices

C = TypeVar("C")


class Recorder:
    def __init__(self, monitor: Monitor, app: str, prices: Prices | None,
                 prompt_version: str | None, tags: tuple[str, ...]) -> None:
        self.monitor, self.app, self.prices = monitor, app, prices
        self.prompt_version, self.tags = prompt_version, tags
        self.guard = Guard()

    def start(self, kwargs: dict[str, Any]) -> tuple[Call | None, float]:
        call = self.guard.run("reading the request", lambda: Call(
            model=str(kwargs.get("model") or "unknown"),
            messages=[dict(m) for m in kwargs.get("messages") or []],
            started=datetime.now(UTC), streamed=bool(kwargs.get("stream"))))
        return call, time.perf_counter()

    def finish(self, call: Call | None, t0: float, result: Any = None,
               error: BaseException | None = None) -> None:
        if call is None:
            return
        def record() -> None:
            call.latency_ms = (time.perf_counter() - t0) * 1e3
            if error is not None:
                call.error = f"{type(error).__name__}: {error}"
            elif result is not None:
                _read_completion(call, result)
            self.monitor.emit(event_of(call, app=self.app, prices=self.prices,
                                       prompt_version=self.prompt_version, tags=self.tags))
        self.guard.run("recording the call", record)


def _read_completion(call: Call, result: Any) -> None:
    call.model_version = getattr(result, "model", None)
    call.response_id = getattr(result, "id", None)
    choices = getattr(result, "choices", None) or []
    if choices:
        message = choices[0].message
        text = message.content or ""
        tools = getattr(message, "tool_calls", None) or []
        if tools:
            names = ", ".join(t.function.name for t in tools if getattr(t, "function", None))
            text = (text + "\n" if text else "") + f"[tool calls: {names}]"
        call.response = text
        call.finish_reason = choices[0].finish_reason
    usage = getattr(result, "usage", None)
    if usage is not None:
        call.input_tokens, call.output_tokens = usage.prompt_tokens, usage.completion_tokens


class _Chunks:
    """What the app read of a stream, gathered chunk by chunk."""

    def __init__(self, recorder: Recorder, call: Call | None, t0: float) -> None:
        self.recorder, self.call, self.t0 = recorder, call, t0
        self.parts: list[str] = []
        self.done = False

    def add(self, chunk: Any) -> None:
        call = self.call
        if call is None:
            return
        call.model_version = getattr(chunk, "model", None) or call.model_version
        call.response_id = getattr(chunk, "id", None) or call.response_id
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is not None and getattr(delta, "content", None):
                self.parts.append(delta.content)
            if getattr(choice, "finish_reason", None):
                call.finish_reason = choice.finish_reason
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            call.input_tokens, call.output_tokens = usage.prompt_tokens, usage.completion_tokens

    def end(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        if self.call is not None:
            self.call.response = "".join(self.parts)
        self.recorder.finish(self.call, self.t0, error=error)


class WatchedStream:
    """The client's stream, passed through chunk by chunk; recorded when it ends."""

    def __init__(self, stream: Any, chunks: _Chunks) -> None:
        self._stream, self._chunks = stream, chunks
        self._it: Iterator[Any] | None = None

    def _chunks_of(self) -> Iterator[Any]:
        try:
            for chunk in self._stream:
                self._chunks.recorder.guard.run("reading a chunk", self._chunks.add, chunk)
                yield chunk
        except Exception as exc:
            self._chunks.end(exc)
            raise
        self._chunks.end()

    def __iter__(self) -> WatchedStream:
        return self

    def __next__(self) -> Any:
        if self._it is None:
            self._it = self._chunks_of()
        return next(self._it)

    def __enter__(self) -> WatchedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._chunks.end()
        self._stream.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class WatchedAsyncStream:
    def __init__(self, stream: Any, chunks: _Chunks) -> None:
        self._stream, self._chunks = stream, chunks
        self._it: AsyncIterator[Any] | None = None

    async def _chunks_of(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self._stream:
                self._chunks.recorder.guard.run("reading a chunk", self._chunks.add, chunk)
                yield chunk
        except Exception as exc:
            self._chunks.end(exc)
            raise
        self._chunks.end()

    def __aiter__(self) -> WatchedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        if self._it is None:
            self._it = self._chunks_of()
        return await self._it.__anext__()

    async def __aenter__(self) -> WatchedAsyncStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        self._chunks.end()
        await self._stream.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Completions:
    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner, self._recorder = inner, recorder

    def create(self, *args: Any, **kwargs: Any) -> Any:
        call, t0 = self._recorder.start(kwargs)
        try:
            result = self._inner.create(*args, **kwargs)
        except Exception as exc:
            self._recorder.finish(call, t0, error=exc)
            raise
        if kwargs.get("stream"):
            return WatchedStream(result, _Chunks(self._recorder, call, t0))
        self._recorder.finish(call, t0, result)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncCompletions(_Completions):
    async def create(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        call, t0 = self._recorder.start(kwargs)
        try:
            result = await self._inner.create(*args, **kwargs)
        except Exception as exc:
            self._recorder.finish(call, t0, error=exc)
            raise
        if kwargs.get("stream"):
            return WatchedAsyncStream(result, _Chunks(self._recorder, call, t0))
        self._recorder.finish(call, t0, result)
        return result


def watch(client: C, *, app: str, monitor: Monitor | None = None,
          prices: Prices | None = DEFAULT, prompt_version: str | None = None,
          tags: tuple[str, ...] = ()) -> C:
    """Wrap `client.chat.completions` (an `openai.OpenAI` or `AsyncOpenAI`, or any client of
    the same shape, e.g. Azure's); returns the same client."""
    recorder = Recorder(monitor or Monitor(), app, prices, prompt_version, tags)
    chat: Any = client.chat  # type: ignore[attr-defined]
    inner = chat.completions
    wrapper = (_AsyncCompletions if _is_async(inner.create) else _Completions)(inner, recorder)
    chat.__dict__["completions"] = wrapper  # over the client's cached property
    client.__dict__["llmwatch_recorder"] = recorder
    return client


def _is_async(fn: Any) -> bool:
    import inspect

    # the client's decorators hide the coroutine; its class says it (AsyncCompletions)
    owner = type(getattr(fn, "__self__", None)).__name__
    return inspect.iscoroutinefunction(inspect.unwrap(fn)) or owner.startswith("Async")
