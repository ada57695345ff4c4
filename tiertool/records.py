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
    task_source: str = "none"  # tag | metadata | group_by | none
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
    expected: str | None = None

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
