"""A LangChain callback handler that records each chat-model and LLM call.

    from llmwatch.integrations.langchain import LLMWatchCallbackHandler

    handler = LLMWatchCallbackHandler(app="support-bot")
    ChatOpenAI(model="gpt-4o-mini", callbacks=[handler]).invoke("Hi")
    # or chain.invoke(..., config={"callbacks": [handler]})

One event per model call (a chain of three calls gives three): the messages LangChain sent,
the generation, the model name the provider answered with, tokens (from the provider's
`token_usage` or LangChain's `usage_metadata`), cost from a price table, latency, finish
reason, or the error. Monitoring's own failures are counted and logged once, never raised.
Needs `langchain-core` (`pip install 'llmwatch[langchain]'`).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from llmwatch.sdk import Monitor

from .calls import Call, Guard, content_text, event_of
from .prices import DEFAULT, Prices

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
          "function": "tool", "developer": "developer"}


class LLMWatchCallbackHandler(BaseCallbackHandler):
    raise_error = False  # LangChain: a handler's failure never breaks the chain

    def __init__(self, app: str, monitor: Monitor | None = None, *,
                 prices: Prices | None = DEFAULT, prompt_version: str | None = None,
                 tags: tuple[str, ...] = ()) -> None:
        self.monitor = monitor or Monitor()
        self.app, self.prices, self.prompt_version, self.tags = app, prices, prompt_version, tags
        self.guard = Guard()
        self._open: dict[UUID, tuple[Call, float]] = {}
        self._lock = threading.Lock()

    # --- starts --------------------------------------------------------------------------
    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]],
                            *, run_id: UUID, **kwargs: Any) -> None:
        self.guard.run("reading the request", self._start, run_id, serialized, kwargs,
                       [{"role": _ROLES.get(m.type, "user"), "content": content_text(m.content)}
                        for m in (messages[0] if messages else [])])

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID,
                     **kwargs: Any) -> None:
        self.guard.run("reading the request", self._start, run_id, serialized, kwargs,
                       [{"role": "user", "content": p} for p in prompts[:1]])

    def _start(self, run_id: UUID, serialized: dict[str, Any] | None, kwargs: dict[str, Any],
               messages: list[dict[str, Any]]) -> None:
        params = kwargs.get("invocation_params") or {}
        model = (params.get("model") or params.get("model_name")
                 or ((serialized or {}).get("kwargs") or {}).get("model_name")
                 or ((serialized or {}).get("kwargs") or {}).get("model")
                 or params.get("_type") or "unknown")
        with self._lock:
            self._open[run_id] = (Call(model=str(model), messages=messages,
                                       started=datetime.now(UTC),
                                       streamed=bool(params.get("stream"))),
                                  time.perf_counter())

    # --- ends ----------------------------------------------------------------------------
    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.guard.run("recording the call", self._end, run_id, response, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.guard.run("recording the call", self._end, run_id, None, error)

    def _end(self, run_id: UUID, response: LLMResult | None,
             error: BaseException | None) -> None:
        with self._lock:
            opened = self._open.pop(run_id, None)
        if opened is None:
            return
        call, t0 = opened
        call.latency_ms = (time.perf_counter() - t0) * 1e3
        if error is not None:
            call.error = f"{type(error).__name__}: {error}"
        elif response is not None:
            _read_result(call, response)
        self.monitor.emit(event_of(call, app=self.app, prices=self.prices,
                                   prompt_version=self.prompt_version, tags=self.tags))


def _read_result(call: Call, response: LLMResult) -> None:
    out = response.llm_output or {}
    gen = response.generations[0][0] if response.generations and response.generations[0] \
        else None
    if gen is not None:
        message = getattr(gen, "message", None)
        call.response = content_text(message.content) if message is not None else gen.text
        info = gen.generation_info or {}
        call.finish_reason = info.get("finish_reason")
        meta = getattr(message, "response_metadata", None) or {}
        call.model_version = meta.get("model_name") or call.model_version
        call.finish_reason = call.finish_reason or meta.get("finish_reason")
        usage = getattr(message, "usage_metadata", None)
        if usage:
            call.input_tokens = usage.get("input_tokens")
            call.output_tokens = usage.get("output_tokens")
    tokens = out.get("token_usage") or {}
    if call.input_tokens is None and tokens:
        call.input_tokens = tokens.get("prompt_tokens")
        call.output_tokens = tokens.get("completion_tokens")
    call.model_version = out.get("model_name") or call.model_version
    call.response_id = out.get("id") or call.response_id
