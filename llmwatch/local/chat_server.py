"""A small OpenAI-compatible chat model that answers from a corpus: the candidate the demo
replays its ticket through, and the endpoint of the replay tests and benchmark.

`CorpusModel` answers a prompt with the answer of the corpus question most like it (TF-IDF
cosine over word and character n-grams); `refuse` makes it decline the prompts a rule picks.
`ChatServer` serves it on loopback as POST /v1/chat/completions (no streaming) with usage
counted in words, and GET /v1/models; with `delay_s` each answer waits, with `fail_every`
the first attempt of every k-th call (by its `X-Llmwatch-Replay` header, else its prompt) is
a 503 the `openai` client retries — a fixed set of calls, however requests interleave. It
counts answered requests per prompt and per replayed call (the `X-Llmwatch-Replay` header),
so a test can tell whether a call was asked twice.

    python -m llmwatch.local.chat_server --topic money --port 8099
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llmwatch.schemas import user_turn

REFUSAL = "I'm sorry, but I can't help with that request."


class CorpusModel:
    """Answers with the nearest corpus question's answer."""

    def __init__(self, pairs: Sequence[tuple[str, str]],
                 refuse: Callable[[str], bool] | None = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not pairs:
            raise ValueError("a corpus model needs at least one (question, answer) pair")
        self.questions = [q for q, _ in pairs]
        self.answers = [a for _, a in pairs]
        self.vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5),
                                          sublinear_tf=True, lowercase=True)
        self.matrix = self.vectoriser.fit_transform(self.questions)
        self.refuse = refuse
        self.lock = threading.Lock()

    def answer(self, messages: Sequence[dict[str, Any]]) -> str:
        prompt = user_turn(messages)
        if self.refuse is not None and self.refuse(prompt):
            return REFUSAL
        with self.lock:  # sklearn's transform is not documented as thread-safe
            scores = (self.matrix @ self.vectoriser.transform([prompt]).T).toarray().ravel()
        return self.answers[int(scores.argmax())]


class ChatServer:
    """A real HTTP server speaking the chat-completions API for one `CorpusModel`."""

    def __init__(self, model: CorpusModel, *, api_key: str | None = None, delay_s: float = 0.0,
                 fail_every: int = 0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.model, self.api_key = model, api_key
        self.delay_s, self.fail_every = delay_s, fail_every
        self.host, self.port = host, port
        self.asked: Counter[str] = Counter()  # prompt (last user message) → requests answered
        self.calls: Counter[str] = Counter()  # X-Llmwatch-Replay (run/call) → requests answered
        self.requests = 0
        self.attempted: dict[str, int] = {}  # call → its order of first arrival
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ChatServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [
                        {"id": "corpus", "object": "model", "owned_by": "llmwatch"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    messages = body["messages"]
                except (ValueError, KeyError):
                    self._send(400, {"error": {"message": "a JSON body with messages",
                                               "type": "invalid_request_error"}})
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if api.api_key and self.headers.get("Authorization") != f"Bearer {api.api_key}":
                    self._send(401, {"error": {"message": "bad key", "type": "auth"}})
                    return
                prompt = user_turn(messages)
                call = self.headers.get("X-Llmwatch-Replay") or prompt
                with api.lock:
                    api.requests += 1
                    first = call not in api.attempted
                    if first:
                        api.attempted[call] = len(api.attempted) + 1
                    fail = bool(api.fail_every and first
                                and api.attempted[call] % api.fail_every == 0)
                if api.delay_s:
                    time.sleep(api.delay_s)
                if fail:
                    self._send(503, {"error": {"message": "overloaded, try again",
                                               "type": "server_error"}})
                    return
                content = api.model.answer(messages)
                with api.lock:
                    api.asked[prompt] += 1
                    if self.headers.get("X-Llmwatch-Replay"):
                        api.calls[self.headers["X-Llmwatch-Replay"]] += 1
                tokens_in = sum(len(str(m.get("content") or "").split()) for m in messages)
                tokens_out = len(content.split())
                self._send(200, {
                    "id": f"chatcmpl-{api.requests}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "corpus"),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                              "total_tokens": tokens_in + tokens_out}})

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="chat-server",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def topic_model(topic: str | None, *, refuse: Callable[[str], bool] | None = None,
                chitchat: int = 3000) -> CorpusModel:
    """Chit-chat answers, plus a chatterbot-corpus topic's when `topic` is given: a model
    that knows the topic (or, without it, one that does not)."""
    from llmwatch.simulate import chatterbot_pairs, chitchat_pairs

    pairs = list(chitchat_pairs("train")[:chitchat])
    if topic:
        pairs += chatterbot_pairs(topic)
    return CorpusModel(pairs, refuse=refuse)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", help="A chatterbot-corpus topic the model knows.")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds per answer.")
    args = parser.parse_args(argv)
    server = ChatServer(topic_model(args.topic), delay_s=args.delay, port=args.port).start()
    print(f"serving at {server.base_url} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
