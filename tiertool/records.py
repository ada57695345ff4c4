"""Frozen records that cross a stage boundary (README 'Architecture'): ingest makes `Request`s and the volume
(`Key` -> `Usage`), replay turns `Call`s into `Answer`s, scorers turn answers into `Score`s and `Result`s, decide
fixes the `Family`, keeps each sequential test's `TestState` and says per task why it moved or not (`Status`).
Stages exchange only these."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Tier

Message = dict[str, Any]

# How a request got its task type (Request.task_source), in the order typing tries them, in the words that
# inspect, the audit's warnings and the report all use: one vocabulary, one set of counts.
TASK_SOURCES = {"group_by": "--group-by path", "tag": "task tag or property", "column": "mapped task column",
                "name": "trace / workflow name", "metadata": "metadata.task", "template": "inferred from template",
                "cluster": "inferred topic cluster", "none": "untyped"}
INFERRED_SOURCES = ("template", "cluster")  # typed by tiertool from the prompt, not by the log


@dataclass(frozen=True)
class Request:
    """One logged LLM request in canonical form, whatever log format it came from."""

    id: str
    source: str  # "file:line", so every decision can be traced back to the log
    model: str  # the model as logged (resolved when the log says which one answered)
    messages: tuple[Message, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    task: str = "untagged"
    task_source: str = "none"  # how it got its task type: a key of TASK_SOURCES
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
    # The logged answer's tool calls, in OpenAI chat shape ({id, type: "function", function: {name, arguments}}):
    # an answer that is a tool call has no text, and scoring it needs the calls.
    output_tool_calls: tuple[Message, ...] = ()
    # Why the request cannot be replayed as it was sent (a part the log lacks, or one replay cannot carry);
    # None when nothing stands in the way. Such a request still counts for volume.
    unreplayable: str | None = None
    session_id: str | None = None  # the conversation / agent session the log links it to
    parent_id: str | None = None  # the parent span or run in its trace

    @property
    def system(self) -> str | None:
        """The system prompt text, if the request had one."""
        parts = [content_text(m.get("content")) for m in self.messages if m.get("role") in ("system", "developer")]
        return "\n".join(p for p in parts if p) or None

    def logged_answer(self) -> Answer | None:
        """The answer the log holds (text "" when it is only tool calls), or None when it holds none."""
        if self.output is None and not self.output_tool_calls:
            return None
        return Answer(self.output or "", "log", input_tokens=self.input_tokens, output_tokens=self.output_tokens,
                      tool_calls=self.output_tool_calls, reasoning_tokens=self.reasoning_tokens)

    @property
    def replayable(self) -> bool:
        """False when the prompt was not captured, the call failed, or the request cannot be sent as logged:
        such a request counts for volume only."""
        return self.not_replayable_because is None

    @property
    def not_replayable_because(self) -> str | None:
        """Why the request is not replayed (counted and shown by `inspect`), or None."""
        if self.status != "success":
            return f"the call failed ({self.status})"
        if self.unreplayable:
            return self.unreplayable
        return None if self.messages else "no prompt captured in the log"


def content_text(content: Any) -> str | None:
    """Text of a message `content`, which is a string or a list of typed parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", None)]
        return "".join(parts)
    return str(content)


@dataclass(frozen=True)
class Skipped:
    """A log line that could not be read, with why."""

    source: str
    reason: str


UNSENT = "unsent"  # Answer.origin of a call that was never sent (offline and not cached, over the budget, stopped)
LABELLED = "label"  # Answer.origin of an answer never fetched because an imported label grades it


@dataclass(frozen=True)
class Answer:
    """A model's answer to one request, from the log, the cache or a fresh call."""

    text: str | None
    origin: str  # log | cache | call | recorded | unsent | label
    error: str | None = None
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0  # reasoning tokens included, as providers bill them
    # Tool calls the answer made, in OpenAI chat shape (as Request.output_tool_calls); text is "" when the
    # answer is only tool calls.
    tool_calls: tuple[Message, ...] = ()
    reasoning_tokens: int = 0  # part of output_tokens


def call_key(model: str, messages: Iterable[Message], params: dict[str, Any]) -> str:
    """The content address of a call: the same model, messages and decoding params are the same call."""
    payload = json.dumps({"model": model, "messages": list(messages), "params": params},
                         sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Call:
    """One model call: a request's messages sent to one tier (or the judge's prompt to the judge)."""

    key: str
    tier: Tier
    messages: tuple[Message, ...]
    params: dict[str, Any]
    input_tokens: int = 0  # as logged (0: unknown); for the plan, the budget and tpm
    output_tokens: int = 0  # expected answer length, e.g. the logged reference answer's (0: unknown)

    @classmethod
    def to(cls, tier: Tier, messages: tuple[Message, ...], params: dict[str, Any], input_tokens: int = 0,
           output_tokens: int = 0) -> Call:
        """The call as sent: the tier's own `params` merged over the request's (the tier wins), so they are
        part of the key and two variants of one model never share an answer."""
        sent = tier.merged(params)
        return cls(call_key(tier.model, messages, sent), tier, messages, sent, input_tokens, output_tokens)


@dataclass(frozen=True)
class Score:
    """A scorer's verdict: value in [0, 1], pass/fail against the bar, and a short reason."""

    value: float
    passed: bool
    reason: str


@dataclass(frozen=True)
class Result:
    """One sampled request answered by one tier and scored against the reference (a row of the audit)."""

    request_id: str
    source: str
    task: str
    tier: str
    model: str
    reference: str | None
    answer: str | None
    value: float | None
    passed: bool | None  # None: not scored (the call failed or no reference)
    reason: str
    origin: str  # where the answer came from: log | cache | call | recorded | label (graded by a label alone)
    error: str | None = None
    round: int = 0  # the sampling round that scored it (sequential audits look after every round)
    scorer_passed: bool | None = None  # a labelled answer: the scorer's own verdict, to check it against the label


RESULT_COLUMNS = tuple(f.name for f in fields(Result))


@dataclass(frozen=True)
class Key:
    """A volume group: the task type, the logged model, whether it went through a batch API, and the day."""

    task: str
    model: str
    batch: bool
    day: str  # YYYY-MM-DD (UTC), or "" when the log has no time


@dataclass(frozen=True)
class Usage:
    """What one volume group holds: what is spent today, and what savings are priced on."""

    requests: int = 0
    replayable: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    logged_cost: float = 0.0
    logged_cost_n: int = 0  # requests whose cost the log recorded

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self.row(), other.row(), strict=True)))

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in USAGE_COLUMNS)


USAGE_COLUMNS = tuple(f.name for f in fields(Usage))


@dataclass(frozen=True)
class Family:
    """The (task, tier) tests an audit runs, and the Bonferroni level each one is held to; fixed from the
    replayable traffic before any outcome is seen."""

    tested: tuple[str, ...]  # tasks with enough replayable traffic for a proof to be possible at all
    tiers: int  # cheaper tiers per task
    alpha: float  # per-test level: (1 - confidence) / (len(tested) * tiers)
    needed: int  # all-passing samples a proof needs at that level
    to_join: int = 0  # all-passing samples a proof would need if one more task type joined the family


class _Looks:
    """A sequential test's cumulative (passed, scored) at each look."""

    looks: tuple[tuple[int, int], ...]

    @property
    def passed(self) -> int:
        return self.looks[-1][0] if self.looks else 0

    @property
    def scored(self) -> int:
        return self.looks[-1][1] if self.looks else 0


@dataclass(frozen=True)
class PartTest(_Looks):
    """A sub-population of a task type tested apart on one cheaper tier, because its pass rate there was below
    the rest of the task's (decide/subpop.py): the task moves to the tier only when this test is proven too."""

    __test__ = False  # not a pytest test class

    task: str
    tier: str
    feature: str  # template | tags | length
    part: str  # what a router sees: the template's fixed text, the tag set, the band of input tokens
    share: float  # of the task's sample
    reason: str  # why it was separated: the screen's counts and p-value
    since: int  # the part's samples scored before it was separated: not in its test
    state: str  # proven | open | futile | capped
    looks: tuple[tuple[int, int], ...] = ()  # cumulative (passed, scored) of its own test


@dataclass(frozen=True)
class TestState(_Looks):
    """Where one (task, cheaper tier) sequential test ended: its state and cumulative (passed, scored) at
    each look. The audit keeps it so that decisions read what the rounds saw instead of recomputing it."""

    __test__ = False  # not a pytest test class

    task: str
    tier: str
    state: str  # open | proven | futile | capped | skipped, or a policy status (decide.policy.KINDS)
    looks: tuple[tuple[int, int], ...] = ()
    lower_bound: float | None = None  # the test's own bound at its level (policy audits; None: from the looks)
    level: float | None = None  # the level it was held to: its final Holm level (policy audits)


@dataclass(frozen=True)
class Status:
    """Why one task type moved or stayed on the reference, as the sampling policy left it (decide/policy.py)."""

    task: str
    kind: str  # one of decide.policy.KINDS
    tier: str | None  # the proven tier, or the tier the reason is about
    reason: str
    samples: int = 0
    passed: int = 0
    more_samples: int | None = None  # about how many more samples a proof would need at the observed rate
    more_cost_usd: float | None = None
