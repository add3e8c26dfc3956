"""A real local HTTP server that speaks the part of Slack's Web API llmwatch uses:
chat.postMessage, conversations.history and .replies, incoming webhooks, and the file upload
of slack-sdk's files_upload_v2 (files.getUploadURLExternal → POST to the upload URL →
files.completeUploadExternal), with injectable faults (429 with Retry-After, 500, a response
lost after the message or file was stored, and being down)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "xoxb-test-token"


class SlackAPI:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        # ("429", retry_after) | ("500", "") | ("lose", ""): consumed by chat.postMessage calls
        self.faults: deque[tuple[str, str]] = deque()
        # the same kinds of fault, consumed by files.completeUploadExternal calls
        self.file_faults: deque[tuple[str, str]] = deque()
        self.uploads: dict[str, bytes] = {}  # file id → bytes received at its upload URL
        self.upload_names: dict[str, str] = {}
        self.files: list[dict[str, Any]] = []  # shared files: id, name, title, channel, ts
        self.lock = threading.Lock()
        self.calls = 0
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> SlackAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._handle(parse_qs(urlparse(self.path).query))

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(length)
                if self.path.startswith("/upload/"):  # files_upload_v2's step 2
                    with api.lock:
                        api.uploads[self.path.removeprefix("/upload/")] = data
                    body = f"OK - {len(data)}".encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                raw = data.decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                self._handle({**query, **body})

            def _handle(self, args: dict[str, Any]) -> None:
                args = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
                        for k, v in args.items()}
                method = urlparse(self.path).path.removeprefix("/api/")
                if method.startswith("/services/"):  # an incoming webhook
                    return self._webhook(args)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(200, {"ok": False, "error": "invalid_auth"})
                with api.lock:
                    api.calls += 1
                    fault = api.faults.popleft() if api.faults and method == "chat.postMessage" \
                        else None
                    if method == "files.completeUploadExternal" and api.file_faults:
                        fault = api.file_faults.popleft()
                if fault and fault[0] == "429":
                    return self._send(429, {"ok": False, "error": "ratelimited"},
                                      {"Retry-After": fault[1]})
                if fault and fault[0] == "500":
                    return self._send(500, {"ok": False, "error": "internal_error"})
                if method == "chat.postMessage":
                    with api.lock:
                        ts = f"{time.time():.6f}{len(api.messages):04d}"
                        api.messages.append({"ts": ts, "channel": args.get("channel"),
                                             "text": args.get("text"),
                                             "blocks": args.get("blocks"),
                                             "metadata": args.get("metadata")})
                    if fault and fault[0] == "lose":
                        self.close_connection = True  # stored, but the reply never arrives
                        self.connection.close()
                        return None
                    return self._send(200, {"ok": True, "channel": args.get("channel"),
                                            "ts": ts})
                if method == "files.getUploadURLExternal":
                    with api.lock:
                        file_id = f"F{len(api.uploads) + 1:08d}"
                        api.uploads[file_id] = b""
                        api.upload_names[file_id] = str(args.get("filename"))
                    return self._send(200, {"ok": True, "file_id": file_id, "upload_url":
                                            f"http://127.0.0.1:{api.port}/upload/{file_id}"})
                if method == "files.completeUploadExternal":
                    return self._complete_upload(args, fault)
                if method == "conversations.replies":
                    with api.lock:
                        found = [m for m in api.messages if m["channel"] == args.get("channel")
                                 and args.get("ts") in (m["ts"], m.get("thread_ts"))]
                    return self._send(200, {"ok": True, "messages": found, "has_more": False})
                if method == "conversations.history":  # top-level messages, newest first
                    with api.lock:
                        found = [m for m in reversed(api.messages)
                                 if m["channel"] == args.get("channel")
                                 and not m.get("thread_ts")]
                    if str(args.get("include_all_metadata")).lower() not in ("true", "1"):
                        found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
                    return self._send(200, {"ok": True, "messages": found, "has_more": False})
                return self._send(200, {"ok": False, "error": "unknown_method"})

            def _complete_upload(self, args: dict[str, Any],
                                 fault: tuple[str, str] | None) -> None:
                files = json.loads(args.get("files") or "[]")
                channel = args.get("channel_id") or args.get("channel")
                shared = []
                with api.lock:
                    for f in files:
                        if not api.uploads.get(f["id"]):
                            return self._send(200, {"ok": False, "error": "file_not_found"})
                    ts = f"{time.time():.6f}{len(api.messages):04d}"
                    for f in files:
                        name = api.upload_names.get(f["id"], f["id"])
                        shared.append({"id": f["id"], "name": name,
                                       "title": f.get("title") or name})
                        api.files.append({**shared[-1], "channel": channel, "ts": ts,
                                          "bytes": api.uploads[f["id"]]})
                    api.messages.append({"ts": ts, "channel": channel,
                                         "thread_ts": args.get("thread_ts"),
                                         "text": args.get("initial_comment"), "blocks": None,
                                         "metadata": None, "files": shared})
                if fault and fault[0] == "lose":
                    self.close_connection = True
                    self.connection.close()
                    return None
                return self._send(200, {"ok": True, "files": shared})

            def _webhook(self, args: dict[str, Any]) -> None:
                with api.lock:
                    fault = api.faults.popleft() if api.faults else None
                    if fault is None:
                        api.messages.append({"ts": "webhook", "channel": "webhook",
                                             "text": args.get("text"),
                                             "blocks": args.get("blocks"), "metadata": None})
                if fault and fault[0] == "429":
                    return self._send(429, {"ok": False}, {"Retry-After": fault[1]})
                if fault:
                    return self._send(500, {"ok": False})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                return None

            def _send(self, status: int, body: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
