"""A real local HTTP server that speaks the part of the OpenAI API an LLM judge and an app
use: POST /v1/chat/completions (with `response_format`, usage, streaming as server-sent
events, and the error bodies the `openai` client reads), with injectable faults: down (503),
rate-limited (429), and a reply that is not JSON.

The "model" behind it is either a judge rule the test passes (it gets the call the judge was
shown — the JSON document in the user message — and the checks asked, and answers each
check), or, for an app's calls (`chat=`), a function of the request's messages that returns
the assistant's answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-test-judge"
Rule = Callable[[dict[str, Any], list[str]], dict[str, bool]]


def keyword_rule(document: dict[str, Any], checks: list[str]) -> dict[str, bool]:
    """A stand-in judge: injection when any text says to ignore instructions or tells the
    assistant what to do with the user's data; refusal when the answer declines."""
    texts = " ".join(str(t) for t in [document.get("prompt"), *document.get("tool_outputs", [])]
                     if t).lower()
    answer = str(document.get("answer") or "").lower()
    verdict = {
        "injection": bool(re.search(r"ignore (all |any )?(previous|prior)|assistant,? (please )?"
                                    r"(send|forward|email)", texts)),
        "refusal": bool(re.search(r"\bi can(no|')t help|\bi won't\b|not appropriate", answer)),
        "harmful_answer": False, "relevance": False, "toxicity": False,
    }
    return {c: verdict.get(c, False) for c in checks}


class OpenAICompatible:
    def __init__(self, rule: Rule = keyword_rule,
                 chat: Callable[[list[dict[str, Any]]], str] | None = None) -> None:
        self.rule, self.chat = rule, chat
        self.requests: list[dict[str, Any]] = []
        # "down" | "429" | "garbage": consumed one per request; `down` stays until cleared
        self.faults: deque[str] = deque()
        self.down = False
        self.delay_s = 0.0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAICompatible:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}",
                                               "type": "invalid_request_error"}})
                    return
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    self._send(401, {"error": {"message": "bad key", "type": "auth"}})
                    return
                with api.lock:
                    fault = "down" if api.down else (api.faults.popleft() if api.faults
                                                     else None)
                    if fault != "down":
                        api.requests.append(body)
                if api.delay_s:
                    time.sleep(api.delay_s)
                if fault == "down":
                    self._send(503, {"error": {"message": "overloaded", "type": "server"}})
                    return
                if fault == "429":
                    self._send(429, {"error": {"message": "slow down", "type": "rate"}},
                               {"Retry-After": "0"})
                    return
                if api.chat is not None:
                    self._answer(body, api.chat(body["messages"]))
                    return
                user = body["messages"][-1]["content"]
                document = json.loads(re.search(r"```json\n(.*?)\n```", user, re.S).group(1))
                checks = re.findall(r"^- (\w+):", user, re.M)
                if fault == "garbage":
                    content = "I think this call looks fine!"
                else:
                    verdicts = api.rule(document, checks)
                    content = json.dumps({"verdicts": [
                        {"check": c, "flagged": f, "confidence": 0.9,
                         "reason": "stand-in rule"} for c, f in verdicts.items()]})
                words = len(user.split())
                self._send(200, {
                    "id": f"chatcmpl-{len(api.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "judge"),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": words, "completion_tokens": 60,
                              "total_tokens": words + 60}})

            def _answer(self, body: dict[str, Any], content: str) -> None:
                model = body.get("model", "chat")
                prompt_tokens = sum(len(str(m.get("content", "")).split())
                                    for m in body["messages"])
                usage = {"prompt_tokens": prompt_tokens,
                         "completion_tokens": len(content.split()),
                         "total_tokens": prompt_tokens + len(content.split())}
                ident, created = f"chatcmpl-{len(api.requests)}", int(time.time())
                if not body.get("stream"):
                    self._send(200, {
                        "id": ident, "object": "chat.completion", "created": created,
                        "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant",
                                                                 "content": content}}],
                        "usage": usage})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = content.split(" ")
                chunks = [{"role": "assistant", "content": ""}] + [
                    {"content": w if k == 0 else " " + w} for k, w in enumerate(words)]
                for k, delta in enumerate(chunks):
                    last = k == len(chunks) - 1
                    self._event({"id": ident, "object": "chat.completion.chunk",
                                 "created": created, "model": model,
                                 "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": "stop" if last else None}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._event({"id": ident, "object": "chat.completion.chunk",
                                 "created": created, "model": model, "choices": [],
                                 "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")

            def _event(self, chunk: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
