"""A loopback OpenAI-compatible chat server whose answers and faults the test controls.

It records every call (model, messages) so tests can assert on exactly what was sent, and every request
(path, body) so they can assert on the whole body (tools, parameters). Besides chat completions (streamed
too) it answers the OpenAI Responses API (`/v1/responses`) and Anthropic's Messages API (`/v1/messages`), so
producers that only speak those can be run against it (tests/fixtures/producers/). An answerer returns plain
text, or an `Answer` with tool calls, reasoning and token counts by class, rendered in each API's own shape
(checked against the OpenAI and Anthropic SDK types by tests/fixtures/producers/make_openai.py and
make_anthropic.py); it raises `Fail` to answer with an API error.

For fault injection, `Faults` draws per call either a fault before any answer is made (429, 500, a garbage body,
a dropped connection: nothing billed) or, once the answer is made and so billed, a broken delivery of it: a
slow-drip body, a body cut short, `content: null`, empty `choices`, an HTML page. `ledger` is the provider's
side of the bill: one `Bill` per answer the server made, whatever happened to its delivery, with output tokens
capped at the request's `max_tokens` as a real provider caps them; tests compare it with tiertool's budget.
`kill()` stops the server mid-audit (connections are refused from then on). `routes` takes extra routes (GET
too), e.g. both batch APIs (tests/loopback_batch.py).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str


@dataclass(frozen=True)
class Answer:
    """A reply beyond plain text; each route renders it in its API's shape."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str = ""  # Anthropic thinking / Responses reasoning summary; chat reports only its tokens
    input_tokens: int = 10  # all prompt tokens, cached ones included (OpenAI's count)
    output_tokens: int = 5  # reasoning tokens included
    cached_tokens: int = 0  # prompt tokens read from the provider's cache
    cache_write_tokens: int = 0  # prompt tokens written to the cache
    reasoning_tokens: int = 0
    model: str = ""  # the model the reply names (a dated snapshot, say); the requested one when empty


class Fail(Exception):
    """Raised by an answerer: the call is answered with this HTTP status and the API's error body."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None
                 ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code


Answerer = Callable[[str, list[dict[str, Any]]], "str | Answer"]
Route = Callable[[BaseHTTPRequestHandler, str, str, bytes], bool]  # (handler, method, path, raw body) -> answered


@dataclass(frozen=True)
class Bill:
    """What the provider charges for one answer it made."""

    model: str
    input_tokens: int
    output_tokens: int
    delivery: str  # ok | drip | truncate | null_content | empty_choices | html


DELIVERIES = ("drip", "truncate", "null_content", "empty_choices", "html")


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
    # broken deliveries of an answer already made (and billed), drawn after the faults above
    drip: float = 0.0  # the body trickles in over `drip_s`, a few bytes at a time (no read ever waits long)
    drip_s: float = 5.0
    truncate: float = 0.0  # content-length announces the whole body, half of it is sent, the connection closes
    null_content: float = 0.0  # a chat completion whose message content is null
    empty_choices: float = 0.0  # a chat completion with "choices": []
    html: float = 0.0  # 200 with a proxy's HTML error page
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


class LoopbackLLM:
    def __init__(self, answer: Answerer, faults: Faults | None = None) -> None:
        self.answer = answer
        self.faults = faults or Faults()
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, body) of every request answered
        self.ledger: list[Bill] = []  # every answer made, as billed
        self.attempts = 0
        self.busy = 0  # requests being handled (a slow-drip body keeps its handler busy after the client gave up)
        self.dead = False  # killed: every request, on a connection kept open too, is dropped unanswered
        self.routes: list[Route] = []  # tried before the chat, responses and messages routes
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall per call

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if not server._route(self, "GET", b""):
                    server._send(self, 404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                with server.lock:
                    server.busy += 1
                try:
                    raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                    if server.dead:
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if not server._route(self, "POST", raw):
                        server._handle(self, json.loads(raw))
                finally:
                    with server.lock:
                        server.busy -= 1

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
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

    def kill(self) -> None:
        """Stop serving now, as a provider that went down (safe to call from an answerer): new connections are
        refused and requests on open (keep-alive) ones are dropped."""
        self.dead = True
        threading.Thread(target=self.__exit__, daemon=True).start()

    def settle(self, quiet: float = 0.3, timeout: float = 60) -> None:
        """Wait until no request has been in hand for `quiet` seconds: the requests a client gave up on are
        still made (and billed) by the server, so a test counting the bill waits for them first."""
        deadline, since = time.monotonic() + timeout, time.monotonic()
        while time.monotonic() < deadline:
            if self.busy:
                since = time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.02)
        raise AssertionError(f"the loopback server is still handling {self.busy} request(s) after {timeout:g} s")

    def billed(self, usd_in: float, usd_out: float) -> float:
        """The provider-side spend at these per-token prices."""
        return sum(b.input_tokens * usd_in + b.output_tokens * usd_out for b in self.ledger)

    def _route(self, h: BaseHTTPRequestHandler, method: str, raw: bytes) -> bool:
        path = h.path.split("?")[0].rstrip("/")
        return any(route(h, method, path, raw) for route in self.routes)

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
        path = h.path.split("?")[0].rstrip("/")
        api = "responses" if path.endswith("/responses") else "messages" if path.endswith("/messages") else "chat"
        messages = _input_messages(body) if api == "responses" else body["messages"]
        try:
            answer = self.answer(body["model"], messages)
        except Fail as e:
            with self.lock:
                self.requests.append((path, body))
                request_id = f"req_{len(self.requests):06d}"
            error = {"type": e.kind, "message": e.message}
            payload = ({"type": "error", "error": error, "request_id": request_id} if api == "messages"
                       else {"error": {"message": e.message, "type": e.kind, "param": None, "code": e.code}})
            self._send(h, e.status, payload, {"x-request-id": request_id, "request-id": request_id})
            return
        a = Answer(text=answer) if isinstance(answer, str) else answer
        cap = next((body[k] for k in ("max_completion_tokens", "max_tokens") if isinstance(body.get(k), int)), None)
        if cap is not None and a.output_tokens > cap:  # a provider never writes past max_tokens
            answer = a = replace(a, output_tokens=cap)
        with self.lock:
            self.calls.append((body["model"], messages))
            self.requests.append((path, body))
            n, request_id = len(self.calls), f"req_{len(self.requests):06d}"
            roll, edge = f.rng.random(), 0.0
            delivery = next((d for d in DELIVERIES if roll < (edge := edge + getattr(f, d))), "ok")
            self.ledger.append(Bill(body["model"], a.input_tokens, a.output_tokens, delivery))
        headers = {"x-request-id": request_id, "request-id": request_id}
        if delivery != "ok":
            self._deliver_badly(h, delivery, _chat(n, body, a), headers)
            return
        if isinstance(answer, str) and api == "chat" and not body.get("stream"):  # the original reply, unchanged
            self._send(h, 200, {
                "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": answer}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }, headers)
            return
        if api == "chat" and body.get("stream"):
            self._stream(h, _chat_chunks(n, body, a), headers)
        else:
            render = {"chat": _chat, "responses": _response, "messages": _message}[api]
            self._send(h, 200, render(n, body, a), headers)

    def _deliver_badly(self, h: BaseHTTPRequestHandler, delivery: str, payload: dict[str, Any],
                       headers: dict[str, str]) -> None:
        """A made (and billed) chat completion that does not arrive as one."""
        if delivery == "null_content":
            payload["choices"][0]["message"]["content"] = None
        elif delivery == "empty_choices":
            payload["choices"] = []
        if delivery in ("null_content", "empty_choices"):
            self._send(h, 200, payload, headers)
            return
        data = (b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>" if delivery == "html"
                else json.dumps(payload).encode())
        h.send_response(200)
        h.send_header("content-type", "text/html" if delivery == "html" else "application/json")
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        try:
            if delivery == "truncate":
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(2)
            elif delivery == "drip":
                step = max(1, len(data) // 40)
                for i in range(0, len(data), step):
                    h.wfile.write(data[i:i + step])
                    h.wfile.flush()
                    time.sleep(self.faults.drip_s / 40)
            else:
                h.wfile.write(data)
        except OSError:  # the client gave up (its deadline): the answer was made and stays billed
            h.close_connection = True

    def _stream(self, h: BaseHTTPRequestHandler, events: list[dict[str, Any]], headers: dict[str, str]) -> None:
        """Server-sent events, then `[DONE]`; the connection closes to end the body (no length known)."""
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        for event in events:
            h.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        h.wfile.write(b"data: [DONE]\n\n")
        h.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    """A client that gives up (a deadline, a killed audit) resets its connection: that is not the server's
    error to print in the middle of the test's output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _input_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The Responses API `input` as a message list: a bare string is one user message."""
    given = body["input"]
    return [{"role": "user", "content": given}] if isinstance(given, str) else list(given)


def _chat_usage(a: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": a.input_tokens, "completion_tokens": a.output_tokens,
        "total_tokens": a.input_tokens + a.output_tokens,
        "prompt_tokens_details": {"cached_tokens": a.cached_tokens, "cache_write_tokens": a.cache_write_tokens,
                                  "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": a.reasoning_tokens, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def _chat_tool_calls(a: Answer) -> list[dict[str, Any]]:
    return [{"id": t.id, "type": "function", "function": {"name": t.name, "arguments": json.dumps(t.arguments)}}
            for t in a.tool_calls]


def _chat(n: int, body: dict[str, Any], a: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": a.text or None, "refusal": None}
    if a.tool_calls:
        message["tool_calls"] = _chat_tool_calls(a)
    return {
        "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
        "model": a.model or body["model"],
        "choices": [{"index": 0, "finish_reason": "tool_calls" if a.tool_calls else "stop", "message": message,
                     "logprobs": None}],
        "usage": _chat_usage(a), "system_fingerprint": None,
    }


def _chat_chunks(n: int, body: dict[str, Any], a: Answer) -> list[dict[str, Any]]:
    """The chunks of a streamed chat completion: role, text in two pieces, tool calls, finish, usage."""
    head = {"id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": a.model or body["model"]}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    half = len(a.text) // 2
    deltas += [{"content": piece} for piece in (a.text[:half], a.text[half:]) if piece]
    deltas += [{"tool_calls": [{"index": i, **call}]} for i, call in enumerate(_chat_tool_calls(a))]
    chunks = [{**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    finish = "tool_calls" if a.tool_calls else "stop"
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**head, "choices": [], "usage": _chat_usage(a)})
    return chunks


def _response(n: int, body: dict[str, Any], a: Answer) -> dict[str, Any]:
    """A Responses API `Response` object, echoing the request's settings as the API does."""
    output: list[dict[str, Any]] = []
    if a.reasoning:
        output.append({"type": "reasoning", "id": f"rs_{n:06d}",
                       "summary": [{"type": "summary_text", "text": a.reasoning}]})
    if a.text:
        output.append({"type": "message", "id": f"msg_{n:06d}", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": a.text, "annotations": []}]})
    output += [{"type": "function_call", "id": f"fc_{n:06d}_{i}", "call_id": t.id, "name": t.name,
                "arguments": json.dumps(t.arguments), "status": "completed"} for i, t in enumerate(a.tool_calls)]
    return {
        "id": f"resp_{n:06d}", "object": "response", "created_at": int(time.time()), "status": "completed",
        "model": a.model or body["model"], "output": output, "instructions": body.get("instructions"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True), "tool_choice": body.get("tool_choice", "auto"),
        "tools": [{"strict": True, **t} for t in body.get("tools", [])],
        "temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0),
        "max_output_tokens": body.get("max_output_tokens"), "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning"), "metadata": body.get("metadata", {}),
        "text": body.get("text", {"format": {"type": "text"}}), "truncation": "disabled", "error": None,
        "incomplete_details": None, "user": None,
        "usage": {"input_tokens": a.input_tokens, "input_tokens_details": {
                      "cached_tokens": a.cached_tokens, "cache_write_tokens": a.cache_write_tokens},
                  "output_tokens": a.output_tokens, "output_tokens_details": {"reasoning_tokens": a.reasoning_tokens},
                  "total_tokens": a.input_tokens + a.output_tokens},
    }


def _message(n: int, body: dict[str, Any], a: Answer) -> dict[str, Any]:
    """An Anthropic `Message`; its input_tokens exclude the cached ones, as Anthropic counts them."""
    content: list[dict[str, Any]] = []
    if a.reasoning:
        content.append({"type": "thinking", "thinking": a.reasoning, "signature": f"sig-{n:06d}"})
    if a.text:
        content.append({"type": "text", "text": a.text})
    content += [{"type": "tool_use", "id": t.id, "name": t.name, "input": t.arguments} for t in a.tool_calls]
    usage: dict[str, Any] = {
        "input_tokens": a.input_tokens - a.cached_tokens - a.cache_write_tokens, "output_tokens": a.output_tokens,
        "cache_read_input_tokens": a.cached_tokens, "cache_creation_input_tokens": a.cache_write_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": a.cache_write_tokens, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard"}
    if a.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": a.reasoning_tokens}
    return {
        "id": f"msg_{n:06d}", "type": "message", "role": "assistant", "model": a.model or body["model"],
        "content": content,
        "stop_reason": "tool_use" if a.tool_calls else "end_turn", "stop_sequence": None,
        "usage": usage,
    }
