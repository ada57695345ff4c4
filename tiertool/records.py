"""Frozen records that flow between pipeline stages (ingest -> sample -> replay -> score -> decide)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """One logged LLM request in canonical form, whatever log format it came from."""

    id: str
    source: str  # "file:line", so every decision can be traced back to the log
    model: str  # the model as logged (resolved when the log says which one answered)
    messages: tuple[dict[str, Any], ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    task: str = "untagged"
    task_source: str = "none"  # group_by | tag | name | metadata | inferred | none
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # part of input_tokens
    cache_write_tokens: int = 0  # part of input_tokens
    reasoning_tokens: int = 0  # part of output_tokens
    cost: float | None = None  # cost as logged by the gateway, if it logged one
    time: float | None = None  # unix seconds
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    status: str = "success"
    requested_model: str | None = None
    finish_reason: str | None = None
    latency_s: float | None = None
    is_batch: bool = False
    provider: str | None = None  # openai, anthropic, ... when the log says
    trace_id: str | None = None
    cost_source: str | None = None  # "logged" when `cost` came from the log; None when it must be computed
    expected: str | None = None  # a reference answer logged with the request (eval sets), if any
    template: str | None = None  # inferred: the fixed text of the template (or the topic's terms) it fell in

    @property
    def system(self) -> str | None:
        """The system prompt text, if the request had one."""
        parts = [m.get("content") for m in self.messages if m.get("role") in ("system", "developer")]
        texts = [p if isinstance(p, str) else str(p) for p in parts if p]
        return "\n".join(texts) or None

    @property
    def replayable(self) -> bool:
        """False when the prompt text was not captured: such a request counts for volume only."""
        return bool(self.messages) and self.status == "success"


@dataclass(frozen=True)
class Skipped:
    """A log line that could not be read, with why."""

    source: str
    reason: str


@dataclass(frozen=True)
class Answer:
    """A model's answer to one request, from the log, the cache or a fresh call."""

    text: str | None
    origin: str  # log | cache | call | recorded
    error: str | None = None
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Score:
    """A scorer's verdict: value in [0, 1], pass/fail against the bar, and a short reason."""

    value: float
    passed: bool
    reason: str
