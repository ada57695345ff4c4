"""The Replayer: send the calls an audit needs through litellm (llm.py, the one door): cache first, bounded
concurrency, rate limits, retries, the budget, worker processes. It is also the `Caller` the judge is given."""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from ..config import Replay, Tier
from ..errors import ReplayError
from ..pricing.prices import lookup
from ..records import UNSENT, Answer, Call
from .cache import Cache
from .llm import litellm
from .plan import Budget, Plan, PlanDeclined, input_estimate, make_plan, output_estimate, worst_case_usd
from .progress import Progress
from .ratelimit import TierLimits
from .workers import Pool, merge, unsuitable


@dataclass
class ReplayStats:
    """What a Replayer did, summed over its runs (audit rounds, judge calls) and its worker processes."""

    sent: int = 0  # calls that reached the provider and were answered
    cached: int = 0
    failed: int = 0
    retried: int = 0
    spend: float = 0.0
    missing: list[str] = field(default_factory=list)  # offline: keys with no recorded answer
    over_budget: int = 0  # calls not sent because they could have broken --budget


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


def scrub(text: str, tier: Tier) -> str:
    """Mask every credential the process holds (the tier's key, any *_KEY / *_TOKEN variable) in a message."""
    secrets = {tier.api_key() or ""} | {v for k, v in os.environ.items() if k.endswith(("_KEY", "_TOKEN"))}
    for secret in sorted((x for x in secrets if len(x) >= 8), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _classify(exc: BaseException) -> str:
    """'fatal' stops the tier, 'request' fails this call only, 'retry' is worth another attempt."""
    lt = litellm()
    if isinstance(exc, (lt.AuthenticationError, lt.PermissionDeniedError, lt.NotFoundError)):
        return "fatal"
    if isinstance(exc, lt.BadRequestError):
        return "fatal" if "LLM Provider NOT provided" in str(exc) else "request"
    return "retry"


def _unreachable(exc: BaseException) -> bool:
    """Whether the endpoint could not be reached at all (litellm wraps this as a 500, so walk the chain)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ in (
                "APIConnectionError", "ConnectError", "ConnectTimeout", "Timeout", "ClientConnectorError"):
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
                 approve: Callable[[Plan], bool] | None = None, progress: Progress | None = None) -> None:
        self.cache = cache
        self.settings = settings
        self.offline = offline
        self.budget = Budget(budget)
        self.approve_hook = approve
        self.approved = approve is None
        self.progress = progress or Progress()
        self.stats = ReplayStats()
        self.stopped: dict[str, str] = {}  # tier name -> why
        self.answers: dict[str, Answer] = {}  # filled as answers arrive, so a stopped run keeps them
        self.ok: Counter[str] = Counter()  # answered calls per tier
        self.limits: dict[str, TierLimits] = {}
        self._pool: Pool | None = None
        self._checked: set[str] = set()

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
        if not self.approve_hook(make_plan(todo, cached, self.budget.cap, likely, self.offline)):
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
        if self.stopped:
            raise ReplayError("; ".join(f"tier '{t}': {why}" for t, why in self.stopped.items()))
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
        """Split the calls over worker processes (tiertool/workers.py) and take in their answers and counts."""
        if self._pool is None:
            self._pool = Pool(self.settings.workers)
        self.progress.start(dict(Counter(c.tier.name for c in calls)))
        try:
            answers, stats, stopped, ok = merge(self._pool.run(_shard, str(self.cache.path), self.settings, calls))
        finally:
            self.progress.stop()
        self.answers.update(answers)
        for name, value in stats.items():
            setattr(self.stats, name, getattr(self.stats, name) + value)
        for tier, why in stopped.items():
            self.stopped.setdefault(tier, why)
        self.ok.update(ok)

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def _run_all(self, calls: list[Call]) -> None:
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

    async def _one(self, call: Call, limit: asyncio.Semaphore) -> Answer | None:
        tier = call.tier
        async with limit:
            if tier.name in self.stopped:
                self._skip(call)
                return None
            worst = worst_case_usd(call) if self.budget.cap is not None else None
            if not await self.budget.reserve(worst):
                self.stats.over_budget += 1
                self.progress.update(tier.name, unsent=1)
                why = "no price for this model" if worst is None else f"its worst case ${worst:.4f}"
                self.answers[call.key] = Answer(None, UNSENT, error=f"not sent: --budget ${self.budget.cap:,.4f} "
                                                f"would not cover it ({why}, ${self.budget.spent:,.4f} spent)")
                return None
            await self.limits[tier.name].acquire(input_estimate(call) + output_estimate(call))
            if tier.name in self.stopped:  # stopped while this call waited for its rate limit
                await self.budget.settle(worst, 0.0)
                self._skip(call)
                return None
            try:
                answer = await self._attempts(call)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is dropped
                await self.budget.settle(worst, 0.0)
                self.answers[call.key] = self._failed(call, exc)
                self.progress.update(tier.name, failed=1)
                return self.answers[call.key]
            await self.budget.settle(worst, answer.cost)
        self.cache.put(call.key, tier.model, answer)
        self.answers[call.key] = answer
        self.ok[tier.name] += 1
        self.stats.sent += 1
        self.stats.spend += answer.cost
        self.progress.update(tier.name, done=1, spend=answer.cost)
        return answer

    def _skip(self, call: Call) -> None:
        """A call of a stopped tier: not sent, and said so in the audit."""
        self.progress.update(call.tier.name, unsent=1)
        self.answers[call.key] = Answer(None, UNSENT, error=f"not sent: tier '{call.tier.name}' stopped")

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

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts), wait=wait, reraise=True,
            retry=retry_if_exception(lambda e: _classify(e) == "retry" and tier.name not in self.stopped),
            before_sleep=before_sleep,
        ):
            with attempt:
                return await self._send(call)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _send(self, call: Call) -> Answer:
        tier = call.tier
        response = await litellm().acompletion(
            model=tier.model, messages=list(call.messages), api_base=tier.api_base, api_key=tier.api_key(),
            timeout=self.settings.timeout, max_retries=0, **call.params,
        )
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise litellm().APIError(status_code=502, message="response has no choices", llm_provider="",
                                     model=tier.model)
        usage = getattr(response, "usage", None)
        i = getattr(usage, "prompt_tokens", 0) or 0
        o = getattr(usage, "completion_tokens", 0) or 0
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        if cost is None:
            price = lookup(tier.model)
            cost = price.cost(i, o) if price else 0.0
        return Answer(text=choices[0].message.content or "", origin="call", cost=float(cost),
                      input_tokens=i, output_tokens=o)

    def _failed(self, call: Call, exc: BaseException) -> Answer:
        tier, kind = call.tier, _classify(exc)
        message = scrub(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__, tier)
        lt = litellm()
        if kind == "fatal":
            hint = key_hint(tier) if isinstance(exc, lt.AuthenticationError) else \
                f"check the model name '{tier.model}' and {where(tier)}"
            self.stopped.setdefault(tier.name, f"{tier.model} at {where(tier)} failed: {message}; {hint}")
        elif _unreachable(exc) and not self.ok[tier.name]:
            self.stopped.setdefault(
                tier.name, f"cannot reach {tier.model} at {where(tier)} ({message}); check api_base for tier "
                f"'{tier.name}' in tiertool.yaml and that the endpoint is up")
        self.stats.failed += 1
        return Answer(text=None, origin="call", error=message)


def _shard(cache_path: str, settings: Replay, calls: list[Call]) -> dict[str, Any]:
    """In a worker process (workers.py): answer these calls with an in-process Replayer on its own cache
    connection, and send back the answers and counts."""
    cache = Cache(cache_path)
    try:
        replayer = Replayer(cache, settings.model_copy(update={"workers": 1}))
        replayer.approved = True  # the parent showed the plan and checked the keys
        asyncio.run(replayer._run_all(calls))
    finally:
        cache.close()
    return {"answers": replayer.answers, "stats": asdict(replayer.stats), "stopped": replayer.stopped,
            "ok": dict(replayer.ok)}
