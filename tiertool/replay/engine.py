"""The Replayer: send the calls an audit needs through litellm (llm.py, the one door): cache first, one payer
per call across processes, bounded concurrency, rate limits, retries, the budget, worker processes. It is also
the `Caller` the judge is given.

What it promises on faults (README "Guarantees under failure"):
* every attempt is charged at its worst case until the provider's usage says what it cost, and an attempt is sent
  only when that worst case fits the budget: a timeout or a body cut short may be billed, so it stays charged;
* each attempt ends by `replay.timeout`, however slowly the body drips in;
* only a usable answer is cached (a chat completion with content, or tool calls, within MAX_ANSWER_CHARS): a
  200 with no choices, `content: null` or an HTML page is a failed attempt, retried, and never replayed from the
  cache once the provider recovers;
* 401/403/404 stop the tier at once; an endpoint that stops answering, or fails FAIL_STREAK calls in a row after
  their retries, stops it too; the audit then says it could not be audited instead of judging quality;
* when the cache cannot be written (a full disk) nothing more is sent, so no further answer is paid for and lost.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from ..config import Replay, Tier
from ..errors import ReplayError
from ..limits import MAX_ANSWER_CHARS
from ..pricing.prices import lookup
from ..records import UNSENT, Answer, Call
from ..text import mask_then_clip
from .batchapi import ItemFailed, Reply, chat_reply
from .cache import WRITE_ERRORS, Cache
from .llm import litellm
from .plan import (
    Budget,
    Plan,
    PlanDeclined,
    input_estimate,
    make_plan,
    max_output,
    output_estimate,
    requested_max,
    worst_case_usd,
)
from .progress import Progress
from .ratelimit import TierLimits
from .workers import Pool, merge, unsuitable

FAIL_STREAK = 10  # calls of one tier failing in a row, after their retries: the endpoint is down, stop paying
CLAIM_POLL = 0.1  # seconds between looks at a call another process is paying for


@dataclass
class ReplayStats:
    """What a Replayer did, summed over its runs (audit rounds, judge calls) and its worker processes."""

    sent: int = 0  # calls that reached the provider and were answered
    cached: int = 0
    failed: int = 0
    retried: int = 0
    spend: float = 0.0  # USD charged: the provider's usage, else the attempt's worst case
    unconfirmed: int = 0  # attempts charged at their worst case: no usage came back (timeout, body cut short)
    unconfirmed_usd: float = 0.0
    missing: list[str] = field(default_factory=list)  # offline: keys with no recorded answer
    over_budget: int = 0  # calls not sent (or not retried) because they could have broken --budget
    unsaved: int = 0  # answers paid for that could not be written to the cache


class Unusable(Exception):
    """A response that arrived but is not an answer (no choices, content null, too long); `cost` is what its
    usage says was billed, None when it says nothing."""

    def __init__(self, message: str, cost: float | None = None) -> None:
        super().__init__(message)
        self.cost = cost


class CallTimeout(Exception):
    """No complete answer within replay.timeout (a slow-drip body never trips a per-read timeout)."""


class OverBudget(Exception):
    """This attempt's worst case does not fit in --budget."""


def where(tier: Tier) -> str:
    return f"api_base {tier.api_base}" if tier.api_base else "the provider's default endpoint"


def key_hint(tier: Tier) -> str:
    if tier.api_key_env:
        return f"check {tier.api_key_env} (api_key_env of tier '{tier.name}' in tiertool.yaml)"
    return f"set the provider's API key or api_key_env for tier '{tier.name}' in tiertool.yaml"


def preflight(tiers: list[Tier]) -> None:
    """Fail before any call when a tier has no credentials, naming what to set."""
    problems = []
    for tier in tiers:
        if tier.api_key_env:
            if not tier.api_key():
                problems.append(f"tier '{tier.name}' ({tier.model}): environment variable {tier.api_key_env} "
                                f"is not set (api_key_env in tiertool.yaml)")
            continue
        missing = litellm().validate_environment(tier.model).get("missing_keys") or []
        if missing:
            problems.append(f"tier '{tier.name}' ({tier.model}): set {' or '.join(missing)}, or api_key_env "
                            f"for this tier in tiertool.yaml")
    if problems:
        raise ReplayError("; ".join(problems) + " (or run with --offline to use cached answers only)")


def secrets(tier: Tier) -> set[str]:
    """Every credential the process holds: the tier's key and any *_KEY / *_TOKEN variable."""
    return {tier.api_key() or ""} | {v for k, v in os.environ.items() if k.endswith(("_KEY", "_TOKEN"))}


def http_status(exc: BaseException) -> int | None:
    """The HTTP status the endpoint really answered with, or None when no status came back (a timeout, a dropped
    connection, a body that is not JSON: litellm reports all of those as a 500 of its own)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ItemFailed):
            return seen.status
        if type(seen).__module__.split(".")[0] in ("httpx", "openai", "anthropic"):
            code = getattr(getattr(seen, "response", None), "status_code", None)
            if isinstance(code, int):
                return code
        seen = seen.__cause__ or seen.__context__
    return None


def _classify(exc: BaseException) -> str:
    """'fatal' stops the tier, 'request' fails this call only, 'retry' is worth another attempt."""
    lt = litellm()
    if isinstance(exc, lt.BadRequestError) and "LLM Provider NOT provided" in str(exc):
        return "fatal"
    status = http_status(exc)
    if status in (401, 403, 404):  # litellm reports a 403 from an OpenAI-compatible endpoint as a plain APIError
        return "fatal"
    if status is not None and 400 <= status < 500 and status not in (408, 409, 429):
        return "request"
    if status is None and isinstance(exc, (lt.AuthenticationError, lt.PermissionDeniedError, lt.NotFoundError)):
        return "fatal"
    if status is None and isinstance(exc, lt.BadRequestError):
        return "request"
    return "retry"


def _unreachable(exc: BaseException) -> bool:
    """Whether the endpoint could not be reached at all (litellm wraps this as a 500, so walk the chain)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ConnectionRefusedError, socket.gaierror)) or type(seen).__name__ in (
                "ConnectError", "ConnectTimeout", "ClientConnectorError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        value = headers.get("retry-after")
        return min(float(value), 120.0) if value is not None else None
    except (TypeError, ValueError):
        return None


class Replayer:
    """Answers calls cache first; `run` may be called repeatedly (audit rounds, judge calls): the budget,
    the stats and the stopped tiers carry over from one call to the next."""

    def __init__(self, cache: Cache, settings: Replay, offline: bool = False, *, budget: float | None = None,
                 approve: Callable[[Plan], bool] | None = None, progress: Progress | None = None,
                 prices: Mapping[str, Any] | None = None) -> None:
        self.cache = cache
        self.settings = settings
        self.offline = offline
        self.budget = Budget(budget)
        self.prices = prices  # the config's `prices:`, which win over litellm's map for the plan and the budget
        self.approve_hook = approve
        self.approved = approve is None
        self.progress = progress or Progress()
        self.stats = ReplayStats()
        self.stopped: dict[str, str] = {}  # tier name -> why
        self.halted: str | None = None  # the cache cannot be written: nothing more is sent
        self.answers: dict[str, Answer] = {}  # filled as answers arrive, so a stopped run keeps them
        self.unsaved: dict[str, tuple[str, Answer]] = {}  # key -> (model, answer) paid for, not yet cached
        self.ok: Counter[str] = Counter()  # answered calls per tier
        self.streak: Counter[str] = Counter()  # calls failed in a row per tier
        self.limits: dict[str, TierLimits] = {}
        self._pool: Pool | None = None
        self._checked: set[str] = set()
        self._warm: set[str] = set()  # models whose litellm set-up this process has done
        self.batched: frozenset[str] = frozenset()  # tiers sent through a batch API (batch.BatchReplayer)

    def approve(self, calls: list[Call], expected: list[Call] | None = None) -> None:
        """Show the plan for these calls and ask once; raise PlanDeclined when the answer is no.

        `run` does this itself before its first send; an audit that replays in rounds calls it first with
        every call it could need and those it is `expected` to need (the rounds may stop early), so the plan
        shows the whole audit. Offline, the plan says what is cached and what is missing.
        """
        if self.approved or self.approve_hook is None:
            return
        todo: list[Call] = []
        cached: list[Call] = []
        for call in {c.key: c for c in calls}.values():
            (cached if self.cache.has(call.key) else todo).append(call)
        likely = None if expected is None else [c for c in {c.key: c for c in expected}.values()
                                                if not self.cache.has(c.key)]
        self.approved = True
        if not self.approve_hook(make_plan(todo, cached, self.budget.cap, likely, self.offline, self.prices,
                                           self.batched)):
            raise PlanDeclined("nothing sent")

    def run(self, calls: list[Call]) -> dict[str, Answer]:
        """Answer every call (cache first); raise ReplayError if a tier could not be called at all."""
        answers = self.answers
        todo: list[Call] = []
        for call in {c.key: c for c in calls}.values():
            hit = self.cache.get(call.key)
            if hit is not None:
                self.stats.cached += 1
                answers[call.key] = hit
            elif self.offline:
                self.stats.missing.append(call.key)
                answers[call.key] = Answer(None, UNSENT, error="offline: neither cached nor recorded")
            else:
                todo.append(call)
        if todo:
            self.approve(calls)  # before the key check, so that --dry-run needs no key
            preflight(list({c.tier.name: c.tier for c in todo}.values()))
            if unsuitable(self.settings.workers, todo, self.budget.cap):
                asyncio.run(self._run_all(todo))
            else:
                self._run_workers(todo)
        self._flush()
        problems = [f"tier '{t}': {why}" for t, why in self.stopped.items()] + ([self.halted] if self.halted else [])
        if problems:
            raise ReplayError("; ".join(problems))
        return answers

    def ask(self, calls: Sequence[Call]) -> dict[str, Answer]:
        """The `Caller` door (judge calls): answers this Replayer already has, the rest through `run`."""
        missing = [c for c in calls if c.key not in self.answers]
        if missing:
            self.run(missing)
        return self.answers

    def check(self, tier: Tier, timeout: float = 5.0) -> None:
        """Before any replay call: the tier has its key and its endpoint accepts connections (once per tier;
        nothing to check offline)."""
        if self.offline or tier.name in self._checked:
            return
        self._checked.add(tier.name)
        preflight([tier])
        if not tier.api_base:
            return
        url = urlparse(tier.api_base)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname or "", port), timeout=timeout).close()
        except OSError as e:
            raise ReplayError(f"{tier.model} at {where(tier)} is unreachable ({e}); check the api_base of "
                              f"'{tier.name}' in tiertool.yaml and that the endpoint is up") from None

    def _run_workers(self, calls: list[Call]) -> None:
        """Split the calls over worker processes (workers.py) and take in their answers and counts."""
        if self._pool is None:
            asyncio.run(self._warm_up(calls))  # before the fork: the workers start warm
            self._pool = Pool(self.settings.workers)
        self.progress.start(dict(Counter(c.tier.name for c in calls)))
        try:
            got = merge(self._pool.run(_shard, str(self.cache.path), self.settings, calls, self.prices))
        finally:
            self.progress.stop()
        self.answers.update(got["answers"])
        self.unsaved.update(got["unsaved"])
        for name, value in got["stats"].items():
            setattr(self.stats, name, getattr(self.stats, name) + value)
        for tier, why in got["stopped"].items():
            self.stopped.setdefault(tier, why)
        self.halted = self.halted or got["halted"]
        self.ok.update(got["ok"])

    def close(self) -> None:
        """Stop the worker processes, if any were started, and make a last try at caching unsaved answers."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._flush()

    async def _warm_up(self, calls: list[Call]) -> None:
        """litellm does its one-time set-up (imports, clients: seconds on a busy machine) in its first call; a
        mock call (litellm's `mock_response`: nothing is sent) does it now, so that replay.timeout times the
        provider rather than tiertool's start-up."""
        for model in sorted({c.tier.model for c in calls} - self._warm):
            with suppress(Exception):  # an unknown model fails again, properly reported, when it is called
                await litellm().acompletion(model=model, messages=[{"role": "user", "content": "warm-up"}],
                                            mock_response="ok")
            self._warm.add(model)

    async def _run_all(self, calls: list[Call]) -> None:
        await self._warm_up(calls)
        self.budget.bind()
        limits = {c.tier.name: asyncio.Semaphore(c.tier.concurrency or self.settings.concurrency) for c in calls}
        for c in calls:
            if c.tier.name not in self.limits:
                self.limits[c.tier.name] = TierLimits(c.tier.rpm, c.tier.tpm)
        self.progress.start(dict(Counter(c.tier.name for c in calls)))
        try:
            await asyncio.gather(*(self._one(c, limits[c.tier.name]) for c in calls))
        finally:
            self.progress.stop()

    def _stopping(self, tier: Tier) -> bool:
        return self.halted is not None or tier.name in self.stopped

    async def _one(self, call: Call, limit: asyncio.Semaphore) -> None:
        tier = call.tier
        async with limit:
            if self._stopping(tier):
                return self._skip(call)
            theirs = await self._claim(call)
            if theirs is not None:  # another process paid for it meanwhile
                self.stats.cached += 1
                self.answers[call.key] = theirs
                self.progress.update(tier.name, done=1)
                return None
            if self._stopping(tier):
                return self._skip(call)
            await self.limits[tier.name].acquire(input_estimate(call) + output_estimate(call))
            if self._stopping(tier):  # stopped while this call waited for its rate limit
                self.cache.release(call.key)
                return self._skip(call)
            try:
                answer = await self._attempts(call)
            except OverBudget as e:
                self.cache.release(call.key)
                self.stats.over_budget += 1
                self.progress.update(tier.name, unsent=1)
                self.answers[call.key] = Answer(None, UNSENT, error=str(e))
                return None
            except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is dropped
                self.cache.release(call.key)
                self.answers[call.key] = self._failed(call, exc)
                self.progress.update(tier.name, failed=1)
                return None
        self._answered(call, answer)
        return None

    def _answered(self, call: Call, answer: Answer) -> None:
        """A paid answer: cached, kept, counted and shown (per call or from a batch alike)."""
        self._store(call, answer)
        self.answers[call.key] = answer
        self.ok[call.tier.name] += 1
        self.streak[call.tier.name] = 0
        self.stats.sent += 1
        self.progress.update(call.tier.name, done=1)

    async def _claim(self, call: Call) -> Answer | None:
        """Become the process that pays for this call, or wait for the answer of the one that already is.
        Returns that answer, or None when this process is to send the call."""
        lease = self.settings.max_attempts * (self.settings.timeout + 30.0) + 60.0  # the longest a call can take
        while True:
            try:
                mine = self.cache.claim(call.key, lease)
                hit = self.cache.get(call.key)
            except WRITE_ERRORS as e:
                self._halt(e)
                return None
            if mine and hit is not None:
                self.cache.release(call.key)
            if mine or hit is not None:
                return hit
            await asyncio.sleep(CLAIM_POLL)

    def _skip(self, call: Call) -> None:
        """A call of a stopped tier (or of a halted replay): not sent, and said so in the audit."""
        self.progress.update(call.tier.name, unsent=1)
        why = "the answer cache cannot be written" if self.halted else f"tier '{call.tier.name}' stopped"
        self.answers[call.key] = Answer(None, UNSENT, error=f"not sent: {why}")

    async def _attempts(self, call: Call) -> Answer:
        """Send with retries: exponential backoff with jitter, or the provider's Retry-After if longer."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        tier = call.tier
        backoff = wait_exponential_jitter(multiplier=self.settings.backoff, max=30, jitter=self.settings.backoff)

        def wait(state: Any) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return max(backoff(state), (_retry_after(exc) if exc else None) or 0.0)

        def before_sleep(state: Any) -> None:
            self.stats.retried += 1
            self.progress.update(tier.name, retried=1)

        def worth_retrying(exc: BaseException) -> bool:
            return not isinstance(exc, OverBudget) and _classify(exc) == "retry" and not self._stopping(tier)

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts), wait=wait, reraise=True,
            retry=retry_if_exception(worth_retrying), before_sleep=before_sleep,
        ):
            with attempt:
                return await self._attempt(call, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _attempt(self, call: Call, number: int) -> Answer:
        """One try inside the budget: hold its worst case, send, charge what the provider says it cost (an
        error status: nothing; no usage: the worst case)."""
        worst = worst_case_usd(call, self.prices)
        if not await self.budget.reserve(worst):
            why = "no price for this model" if worst is None else f"its worst case ${worst:.4f}"
            raise OverBudget(f"{'not sent' if number == 1 else 'not retried'}: --budget ${self.budget.cap:,.4f} "
                             f"would not cover it ({why}, ${self.budget.spent:,.4f} spent)")
        try:
            answer, cost = await self._send(call)
        except Exception as exc:
            cost = exc.cost if isinstance(exc, Unusable) else 0.0 if http_status(exc) is not None else None
            self._charge(call.tier, await self.budget.settle(worst, cost), cost is None)
            raise
        charge = await self.budget.settle(worst, cost)
        self._charge(call.tier, charge, cost is None)
        return replace(answer, cost=charge)

    def _charge(self, tier: Tier, usd: float, unconfirmed: bool) -> None:
        self.stats.spend += usd
        if unconfirmed:
            self.stats.unconfirmed += 1
            self.stats.unconfirmed_usd += usd
        self.progress.update(tier.name, spend=usd)

    async def _send(self, call: Call) -> tuple[Answer, float | None]:
        """One request, ended by replay.timeout as a whole; the answer and its cost (None: no usage came back)."""
        tier = call.tier
        try:
            response = await asyncio.wait_for(litellm().acompletion(
                model=tier.model, messages=list(call.messages), api_base=tier.api_base, api_key=tier.api_key(),
                timeout=self.settings.timeout, max_retries=0, **self._params(call)), self.settings.timeout)
        except asyncio.TimeoutError:
            raise CallTimeout(f"no complete answer within replay.timeout ({self.settings.timeout:g} s)") from None
        return self._answer(tier, chat_reply(response), response)

    def _params(self, call: Call) -> dict[str, Any]:
        params = dict(call.params)
        if self.budget.cap is not None and requested_max(call) is None:
            params["max_tokens"] = max_output(call)  # the worst case assumed this cap: have the provider keep it
        return params

    def _answer(self, tier: Tier, reply: Reply, response: Any = None, batch: bool = False
                ) -> tuple[Answer, float | None]:
        """The answer a reply carries and what it cost (None: no usage came back); Unusable when it is none."""
        i, o = reply.input_tokens, reply.output_tokens
        cost = None if i is None or o is None else self._cost(tier, response, i, o, min(reply.cached_tokens, i), batch)
        if not reply.choices:
            raise Unusable("the response has no choices", cost)
        text, calls = reply.text, reply.tool_calls
        if text is None and not calls:
            raise Unusable("the answer's content is null", cost)
        size = len(text or "") + sum(len(c["function"]["arguments"]) for c in calls)
        if size > MAX_ANSWER_CHARS:
            raise Unusable(f"an answer of {size:,} characters, over the {MAX_ANSWER_CHARS:,} limit", cost)
        return Answer(text=text or "", origin="call", input_tokens=i or 0, output_tokens=o or 0, tool_calls=calls,
                      reasoning_tokens=reply.reasoning_tokens), cost

    def _cost(self, tier: Tier, response: Any, i: int, o: int, cached: int, batch: bool = False) -> float:
        price = lookup(tier.model, self.prices)
        if price is not None:
            return (price.batched() if batch else price).cost(i, o, cached)
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        return float(cost) if isinstance(cost, (int, float)) and cost >= 0 else 0.0

    def _failed(self, call: Call, exc: BaseException) -> Answer:
        tier, kind = call.tier, _classify(exc)
        message = mask_then_clip(str(exc) or type(exc).__name__, secrets(tier))
        status = http_status(exc)
        if kind == "fatal":
            key = status in (401, 403) or isinstance(exc, litellm().AuthenticationError)
            hint = key_hint(tier) if key else f"check the model name '{tier.model}' and {where(tier)}"
            self.stopped.setdefault(tier.name, f"{tier.model} at {where(tier)} failed: {message}; {hint}")
        elif _unreachable(exc):
            self.stopped.setdefault(
                tier.name, f"cannot reach {tier.model} at {where(tier)} ({message}) after {self.ok[tier.name]} "
                f"answers; check api_base for tier '{tier.name}' in tiertool.yaml and that the endpoint is up")
        else:
            self.streak[tier.name] += 1
            if self.streak[tier.name] >= FAIL_STREAK:
                self.stopped.setdefault(tier.name, f"{FAIL_STREAK} calls in a row failed after their retries "
                                        f"(last: {message}); check {tier.model} at {where(tier)}")
        self.stats.failed += 1
        return Answer(text=None, origin="call", error=message)

    def _store(self, call: Call, answer: Answer) -> None:
        try:
            self.cache.put(call.key, call.tier.model, answer)
        except WRITE_ERRORS as e:
            self.unsaved[call.key] = (call.tier.model, answer)
            self._halt(e)

    def _halt(self, e: BaseException) -> None:
        if self.halted is None:
            self.halted = (f"cannot write the answer cache {self.cache.path} ({e}): stopped sending, so that no "
                           f"answer is paid for and then lost; free space (or make it writable) and re-run")

    def _flush(self) -> None:
        """Write answers that could not be cached, now that the cache may take them again."""
        for key, (model, answer) in list(self.unsaved.items()):
            try:
                self.cache.put(key, model, answer)
            except WRITE_ERRORS:
                break
            del self.unsaved[key]
        self.stats.unsaved = len(self.unsaved)


def _shard(cache_path: str, settings: Replay, calls: list[Call], prices: Mapping[str, Any] | None
           ) -> dict[str, Any]:
    """In a worker process (workers.py): answer these calls with an in-process Replayer on its own cache
    connection, and send back the answers and counts."""
    cache = Cache(cache_path)
    try:
        replayer = Replayer(cache, settings.model_copy(update={"workers": 1}), prices=prices)
        replayer.approved = True  # the parent showed the plan and checked the keys
        asyncio.run(replayer._run_all(calls))
        replayer._flush()
    finally:
        cache.close()
    stats = asdict(replayer.stats)
    stats["unsaved"] = 0  # the parent counts what it still cannot write
    return {"answers": replayer.answers, "stats": stats, "stopped": replayer.stopped, "ok": dict(replayer.ok),
            "unsaved": replayer.unsaved, "halted": replayer.halted}
