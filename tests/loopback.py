"""A loopback OpenAI-compatible chat server whose answers and faults the test controls.

It records every call (model, messages) so tests can assert on exactly what was sent. An answerer returns the
answer's text, or a `Reply` when a call needs more than text (tool calls, the answering model's own name, real-looking
usage, an HTTP error for this one call), as producer fixtures do.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A whole answer: text and/or tool calls, the model the server says answered, usage, or an error status."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    model: str | None = None  # the answering model as the server names it (default: the requested one)
    usage: dict[str, Any] | None = None  # the chat completion's `usage` object (default: 10/5/15)
    finish_reason: str | None = None  # default: "tool_calls" with tool calls, else "stop"
    status: int | None = None  # answer this call with an OpenAI-style error of this HTTP status instead
    error: str = "error"


Answerer = Callable[[str, list[dict[str, Any]]], str | Reply]


@dataclass
class Faults:
    """Shares of calls that fail, drawn with a seeded RNG so runs are repeatable."""

    rate_limit: float = 0.0  # 429 with Retry-After
    server_error: float = 0.0  # 500
    garbage: float = 0.0  # 200 with a body that is not a chat completion
    drop: float = 0.0  # close the connection without answering
    slow: float = 0.0  # answer after `slow_s`
    slow_s: float = 0.5
    retry_after: float = 0.05
    status: int | None = None  # answer every call with this status (401, 404, ...)
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


class LoopbackLLM:
    def __init__(self, answer: Answerer, faults: Faults | None = None) -> None:
        self.answer = answer
        self.faults = faults or Faults()
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.attempts = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                server._handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def __enter__(self) -> LoopbackLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
              ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        f = self.faults
        with self.lock:
            self.attempts += 1
            roll = f.rng.random()
        if f.status:
            self._send(h, f.status, {"error": {"message": f"status {f.status}", "type": "invalid_request_error"}})
            return
        edge = 0.0
        for kind in ("rate_limit", "server_error", "garbage", "drop"):
            edge += getattr(f, kind)
            if roll < edge:
                if kind == "rate_limit":
                    self._send(h, 429, {"error": {"message": "slow down"}}, {"retry-after": str(f.retry_after)})
                elif kind == "server_error":
                    self._send(h, 500, {"error": {"message": "boom"}})
                elif kind == "garbage":
                    self._send(h, 200, b"<html>not json")
                else:
                    h.close_connection = True
                    h.connection.shutdown(2)
                return
        if f.rng.random() < f.slow:
            time.sleep(f.slow_s)
        messages = body["messages"]
        answer = self.answer(body["model"], messages)
        reply = answer if isinstance(answer, Reply) else Reply(content=answer)
        with self.lock:
            self.calls.append((body["model"], messages))
        if reply.status:
            self._send(h, reply.status, {"error": {"message": reply.error, "type": "invalid_request_error"}})
            return
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        self._send(h, 200, {
            "id": f"chatcmpl-{len(self.calls)}", "object": "chat.completion", "created": int(time.time()),
            "model": reply.model or body["model"],
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": reply.usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })
