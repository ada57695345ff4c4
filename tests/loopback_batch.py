"""Both batch APIs on the loopback server (tests/loopback.py), for `tiertool audit --batch`.

OpenAI: `POST /v1/files` (multipart, purpose "batch"), `POST /v1/batches`, `GET /v1/batches/{id}`,
`GET /v1/files/{id}/content`. Anthropic: `POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`,
`GET /v1/messages/batches/{id}/results`. Shapes follow the SDKs' types (openai.types.Batch / FileObject,
anthropic.types.messages.MessageBatch and its results; tests/test_batch.py checks the OpenAI ones with the
installed openai SDK). Each item is answered by the server's answerer, rendered as its chat or messages route
renders it, and billed in the same ledger (`server.calls`, `server.ledger`), when the batch ends.

The test controls the ending: a batch stays in progress while `held` and for its first `delay_polls` status
requests; `expire_after` items are processed and the rest expire; custom ids in `lose` are missing from the
results; an answerer raising `Fail` errors that item; `fail_batch` fails the whole batch (OpenAI: status
"failed"; Anthropic: the create request is refused); the next `poll_errors` status requests are answered 500.
`submissions` lists every batch created; `polls` counts
status requests.
"""

from __future__ import annotations

import email.parser
import json
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import Answer, Bill, Fail, LoopbackLLM, _chat, _message

EXPIRED = "This request could not be executed before the completion window expired."


@dataclass
class Batch:
    id: str
    api: str  # openai | anthropic
    items: list[tuple[str, dict[str, Any]]]  # (custom_id, request body)
    created: float
    polls: int = 0
    input_file_id: str = ""
    results: list[dict[str, Any]] | None = None  # made when the batch ends
    errors: list[dict[str, Any]] = field(default_factory=list)  # OpenAI's error file
    failed: str | None = None


class BatchAPI:
    def __init__(self, server: LoopbackLLM, *, delay_polls: int = 0, expire_after: int | None = None,
                 lose: tuple[str, ...] = (), fail_batch: str | None = None) -> None:
        self.server = server
        self.delay_polls, self.expire_after, self.lose, self.fail_batch = delay_polls, expire_after, lose, fail_batch
        self.held = False
        self.poll_errors = 0
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, Batch] = {}
        self.submissions: list[str] = []
        self.polls = 0
        self.lock = threading.Lock()
        server.routes.append(self.route)

    def route(self, h: BaseHTTPRequestHandler, method: str, path: str, raw: bytes) -> bool:
        parts = path.split("/")[1:]  # v1, ...
        send = self.server._send
        if method == "POST" and parts == ["v1", "files"]:
            send(h, 200, self._upload(h.headers.get("content-type", ""), raw))
        elif method == "POST" and parts == ["v1", "batches"]:
            send(h, 200, self._openai(self._create_openai(json.loads(raw))))
        elif method == "POST" and parts == ["v1", "messages", "batches"]:
            if self.fail_batch:
                send(h, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": self.fail_batch}})
            else:
                send(h, 200, self._anthropic(self._create_anthropic(json.loads(raw))))
        elif method == "GET" and self.poll_errors and len(parts) in (3, 4) and "batches" in parts:
            self.poll_errors -= 1
            send(h, 500, {"error": {"message": "the batch service is unavailable", "type": "server_error"}})
        elif method == "GET" and parts[:2] == ["v1", "batches"] and len(parts) == 3:
            send(h, 200, self._openai(self._poll(parts[2])))
        elif method == "GET" and parts[:3] == ["v1", "messages", "batches"] and len(parts) == 4:
            send(h, 200, self._anthropic(self._poll(parts[3])))
        elif method == "GET" and parts[:3] == ["v1", "messages", "batches"] and parts[4:] == ["results"]:
            lines = self.batches[parts[3]].results or []
            send(h, 200, "".join(json.dumps(r) + "\n" for r in lines).encode())
        elif method == "GET" and parts[:2] == ["v1", "files"] and parts[3:] == ["content"]:
            send(h, 200, self.files[parts[2]])
        else:
            return False
        return True

    def _upload(self, content_type: str, raw: bytes) -> dict[str, Any]:
        form = email.parser.BytesParser().parsebytes(f"content-type: {content_type}\r\n\r\n".encode() + raw)
        parts = {p.get_param("name", header="content-disposition"): p for p in form.get_payload()}
        data = parts["file"].get_payload(decode=True)
        with self.lock:
            file_id = f"file-{len(self.files) + 1:06d}"
            self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": parts["file"].get_filename(), "purpose": parts["purpose"].get_payload(),
                "status": "processed"}

    def _create_openai(self, body: dict[str, Any]) -> Batch:
        lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
        return self._add("openai", [(x["custom_id"], x["body"]) for x in lines], body["input_file_id"])

    def _create_anthropic(self, body: dict[str, Any]) -> Batch:
        return self._add("anthropic", [(r["custom_id"], r["params"]) for r in body["requests"]])

    def _add(self, api: str, items: list[tuple[str, dict[str, Any]]], input_file_id: str = "") -> Batch:
        with self.lock:
            n = len(self.batches) + 1
            batch = Batch(f"batch_{n:06d}" if api == "openai" else f"msgbatch_{n:06d}", api, items, time.time(),
                          input_file_id=input_file_id)
            self.batches[batch.id] = batch
            self.submissions.append(batch.id)
        return batch

    def _poll(self, batch_id: str) -> Batch:
        with self.lock:
            self.polls += 1
            batch = self.batches[batch_id]
            batch.polls += 1
            if batch.results is None and not self.held and batch.polls > self.delay_polls:
                self._end(batch)
        return batch

    def _end(self, batch: Batch) -> None:
        """Answer the items (billed), expire the rest, leave out the lost ones."""
        if batch.api == "openai" and self.fail_batch:
            batch.failed, batch.results = self.fail_batch, []
            return
        batch.results = []
        for i, (custom_id, body) in enumerate(batch.items):
            if self.expire_after is not None and i >= self.expire_after:
                if batch.api == "openai":
                    batch.errors.append({"id": f"batch_req_{i}", "custom_id": custom_id, "response": None,
                                         "error": {"code": "batch_expired", "message": EXPIRED}})
                else:
                    batch.results.append({"custom_id": custom_id, "result": {"type": "expired"}})
                continue
            line = self._answer(batch, i, custom_id, body)
            if custom_id not in self.lose:
                (batch.errors if batch.api == "openai" and line.get("error_file") else batch.results).append(
                    {k: v for k, v in line.items() if k != "error_file"})
        if batch.api == "openai":
            out = "".join(json.dumps(r) + "\n" for r in batch.results).encode()
            err = "".join(json.dumps(r) + "\n" for r in batch.errors).encode()
            self.files[f"{batch.id}-output"], self.files[f"{batch.id}-errors"] = out, err

    def _answer(self, batch: Batch, i: int, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
        s = self.server
        request_id = f"req_batch_{i:06d}"
        try:
            got = s.answer(body["model"], body["messages"])
        except Fail as e:
            if batch.api == "anthropic":
                return {"custom_id": custom_id, "result": {"type": "errored", "error": {
                    "type": "error", "error": {"type": e.kind, "message": e.message}, "request_id": request_id}}}
            return {"id": f"batch_req_{i}", "custom_id": custom_id, "error_file": True, "error": None, "response": {
                "status_code": e.status, "request_id": request_id,
                "body": {"error": {"message": e.message, "type": e.kind, "param": None, "code": e.code}}}}
        a = Answer(text=got) if isinstance(got, str) else got
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(cap, int) and a.output_tokens > cap:
            a = replace(a, output_tokens=cap)
        s.calls.append((body["model"], body["messages"]))
        s.requests.append((f"batch:{batch.id}", body))
        s.ledger.append(Bill(body["model"], a.input_tokens, a.output_tokens, "ok"))
        if batch.api == "anthropic":
            return {"custom_id": custom_id, "result": {"type": "succeeded", "message": _message(i, body, a)}}
        return {"id": f"batch_req_{i}", "custom_id": custom_id, "error": None,
                "response": {"status_code": 200, "request_id": request_id, "body": _chat(i, body, a)}}

    def _counts(self, batch: Batch) -> dict[str, int]:
        done = batch.results is not None
        kinds = [r["result"]["type"] for r in batch.results or []] if batch.api == "anthropic" else []
        return {"processing": 0 if done else len(batch.items), "succeeded": kinds.count("succeeded"),
                "errored": kinds.count("errored"), "canceled": 0, "expired": kinds.count("expired")}

    def _openai(self, b: Batch) -> dict[str, Any]:
        """An openai.types.Batch."""
        ended = b.results is not None
        status = ("failed" if b.failed else "expired" if any(e["error"] for e in b.errors) else "completed"
                  ) if ended else "in_progress"
        now = int(time.time())
        return {
            "id": b.id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": b.input_file_id,
            "completion_window": "24h", "status": status, "created_at": int(b.created),
            "errors": {"object": "list", "data": [{"code": "invalid_request", "message": b.failed, "param": None,
                                                   "line": None}]} if b.failed else None,
            "output_file_id": f"{b.id}-output" if ended and not b.failed else None,
            "error_file_id": f"{b.id}-errors" if ended and b.errors else None,
            "in_progress_at": int(b.created), "expires_at": int(b.created) + 86400, "finalizing_at": None,
            "completed_at": now if status == "completed" else None, "failed_at": now if b.failed else None,
            "expired_at": now if status == "expired" else None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": len(b.items), "completed": len(b.results or []) if ended else 0,
                               "failed": len(b.errors)},
            "metadata": None,
        }

    def _anthropic(self, b: Batch) -> dict[str, Any]:
        """An anthropic.types.messages.MessageBatch."""
        ended = b.results is not None

        def at(t: float | None) -> str | None:
            return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")

        base = f"{self.server.api_base.removesuffix('/v1')}/v1/messages/batches/{b.id}"
        return {"id": b.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": self._counts(b), "created_at": at(b.created), "expires_at": at(b.created + 86400),
                "ended_at": at(time.time()) if ended else None, "archived_at": None, "cancel_initiated_at": None,
                "results_url": f"{base}/results" if ended else None}
