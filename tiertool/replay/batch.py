"""Batch replay (`--batch`, `replay.batch`): each round's calls to a cheaper tier go out as one batch per tier
through the provider's batch API (batchapi.py), at its batch price, polled every `replay.batch_poll` seconds
until it ends; the answers are cached as the per-call path caches them. Calls to other tiers (the reference,
the judge) and those a batch could not answer go through the per-call path (engine.py).

Never paid twice: the batch id is recorded in the cache before the batch is polled, so a re-run after a crash
(SIGKILL included) polls the batch that holds its calls instead of submitting them again; each call's key is
claimed (cache.py) while its batch runs, so a second audit on the same cache waits for the answer.

Item by item, as the per-call path treats the same outcome of a call:
* an answer: cached, charged from its usage at the batch price;
* an error status the per-call path retries (408, 409, 429, 5xx), an item that expired (the batch's window ran
  out) or was cancelled, one missing from the results, or an unusable answer (content null, no choices): sent
  again through the per-call path, with its retries, at the list price;
* any other error status (400, 422, ...): a failed call, counted and listed as one; 401/403/404 stop the tier;
* a batch the provider failed or cancelled as a whole, or one that cannot be submitted or polled: the tier stops
  with one line naming it and the batch id, and the audit cannot be judged (exit 1); a batch that could not be
  polled stays on record, so the re-run polls it.
Charges: an answered item its usage, an errored or expired one nothing (providers bill neither), a missing one
its worst case (nothing says what it cost), as every attempt without usage is charged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from ..config import Tier
from ..records import UNSENT, Answer, Call
from ..text import mask_then_clip
from . import batchapi
from .batchapi import ENDED, BatchFailed, Item, ItemFailed, provider
from .cache import WRITE_ERRORS
from .engine import Replayer, Unusable, _classify, http_status, preflight, secrets, where
from .plan import worst_case_usd

BATCH_LEASE = 25 * 3600.0  # a claim held while a batch runs (24-hour window); it lapses with its process anyway


def _retried(status: int | None) -> bool:
    """Whether the per-call path would send a call that ended so once more (None: expired or cancelled)."""
    return status is None or status in (408, 409, 429) or status >= 500


class BatchReplayer(Replayer):
    """A Replayer that sends the calls of the tiers named in `tiers` through their provider's batch API."""

    def __init__(self, *args: Any, tiers: Collection[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batched = frozenset(tiers)

    def run(self, calls: list[Call]) -> dict[str, Answer]:
        todo = [] if self.offline else [c for c in {c.key: c for c in calls}.values()
                                        if c.tier.name in self.batched and not self.cache.has(c.key)]
        if todo:
            self.approve(calls)
            tiers = {c.tier.name: c.tier for c in todo}
            preflight(list(tiers.values()))
            names = {name: provider(tier) for name, tier in tiers.items()}
            settled = asyncio.run(self._batches(todo, names))
            calls = [c for c in calls if c.key not in settled]
        return super().run(calls)

    async def _batches(self, calls: list[Call], names: dict[str, str]) -> set[str]:
        """One batch per tier (besides the open ones a crashed run left); the keys settled here."""
        self.budget.bind()
        by_tier: dict[str, list[Call]] = {}
        for call in calls:
            by_tier.setdefault(call.tier.name, []).append(call)
        self.progress.start({t: len(cs) for t, cs in by_tier.items()})
        try:
            done = await asyncio.gather(*(self._tier(cs[0].tier, names[t], cs) for t, cs in by_tier.items()))
        finally:
            self.progress.stop()
        return set().union(*done)

    async def _tier(self, tier: Tier, name: str, calls: list[Call]) -> set[str]:
        """Poll this tier's open batches that hold any of these calls, submit one for the rest."""
        todo = {c.key: c for c in calls}
        jobs: list[tuple[str | None, list[Call]]] = []
        for batch_id, keys in self.cache.open_batches(tier.model, tier.api_base or ""):
            held = [todo.pop(k) for k in keys if k in todo]
            if held:
                jobs.append((batch_id, held))
        if todo:
            jobs.append((None, list(todo.values())))
        settled = await asyncio.gather(*(self._job(tier, name, batch_id, cs) for batch_id, cs in jobs))
        return set().union(*settled)

    def _take(self, calls: list[Call], settled: set[str]) -> list[Call]:
        """Claim each call for this process; one another process answered meanwhile is settled from the cache,
        one another live process is paying for is left to the per-call path (which waits for its answer)."""
        mine: list[Call] = []
        for call in calls:
            try:
                claimed, hit = self.cache.claim(call.key, BATCH_LEASE), self.cache.get(call.key)
            except WRITE_ERRORS as e:
                self._halt(e)
                break
            if hit is not None:
                if claimed:
                    self.cache.release(call.key)
                self.stats.cached += 1
                self.answers[call.key] = hit
                self.progress.update(call.tier.name, done=1)
                settled.add(call.key)
            elif claimed:
                mine.append(call)
        return mine

    async def _job(self, tier: Tier, name: str, batch_id: str | None, calls: list[Call]) -> set[str]:
        settled: set[str] = set()
        mine = self._take(calls, settled)
        if self._stopping(tier):
            return settled | self._stop(tier, mine, None)
        worst = {c.key: worst_case_usd(c, self.prices, batch=True) for c in mine}
        if batch_id is None:
            mine = [c for c in mine if self.budget.hold(worst[c.key]) or self._over_budget(c, worst[c.key], settled)]
        else:  # submitted by an earlier run: already on the provider's bill, whatever the budget says now
            for c in mine:
                self.budget.hold(worst[c.key])
        if not mine:
            return settled
        if batch_id is None:
            try:
                batch_id = await batchapi.submit(tier, name, [(c, self._params(c)) for c in mine],
                                                 self.settings.timeout)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none is dropped
                await self._settle_all(tier, mine, worst, 0.0 if http_status(exc) is not None else None)
                return settled | self._stop(tier, mine, f"the batch of {len(mine)} calls could not be submitted to "
                                            f"{tier.model} at {where(tier)}: {self._say(tier, exc)}")
            try:
                self.cache.add_batch(batch_id, tier.model, tier.api_base or "", [c.key for c in mine])
            except WRITE_ERRORS as e:
                self._halt(e)  # still polled: its answers are paid for
            self.progress.note(f"tier '{tier.name}': batch {batch_id} of {len(mine)} calls submitted to {where(tier)}; "
                               f"polling every {self.settings.batch_poll:g} s (if stopped, the same command resumes "
                               f"it)")
        else:
            self.progress.note(f"tier '{tier.name}': resuming batch {batch_id} ({len(mine)} calls), submitted by an "
                               f"earlier run")
        try:
            items = await self._results(tier, name, batch_id)
        except BatchFailed as e:
            self.cache.end_batch(batch_id)
            await self._settle_all(tier, mine, worst, 0.0)
            return settled | self._stop(tier, mine, f"batch {batch_id} failed ({self._say(tier, e)}); a re-run "
                                                    f"submits its calls anew")
        except Exception as exc:  # noqa: BLE001
            await self._settle_all(tier, mine, worst, None)
            return settled | self._stop(tier, mine, f"batch {batch_id} at {where(tier)} could not be polled "
                                                    f"({self._say(tier, exc)}); it stays on record in "
                                                    f"{self.cache.path}: re-run to poll it again")
        for call in mine:
            settled |= await self._item(tier, call, items.pop(call.key, None), worst[call.key])
        self._keep(tier, items)
        self.cache.end_batch(batch_id)
        return settled

    async def _results(self, tier: Tier, name: str, batch_id: str) -> dict[str, Item]:
        """Poll until the batch ends (a poll that fails is tried again, up to replay.max_attempts in a row),
        then read its results."""
        misses = 0
        while True:
            try:
                batch = await batchapi.status(tier, name, batch_id, self.settings.timeout)
            except Exception as exc:
                misses += 1
                if _classify(exc) != "retry" or misses >= self.settings.max_attempts:
                    raise
                batch = None
            if batch is not None and batch.status in ENDED:
                return await batchapi.results(tier, name, batch, self.settings.timeout)
            await asyncio.sleep(self.settings.batch_poll)

    async def _item(self, tier: Tier, call: Call, item: Item | None, worst: float | None) -> set[str]:
        """Take in one item's outcome (the module docstring's rule); returns its key when settled here."""
        if item is None or item.reply is None:
            billed = None if item is None else 0.0  # missing: nothing says what it cost
            self._charge(tier, await self.budget.settle(worst, billed), billed is None)
            if item is not None and not _retried(item.status):
                self.cache.release(call.key)
                self.answers[call.key] = self._failed(call, ItemFailed(item.status or 0, item.error))
                self.progress.update(tier.name, failed=1)
                return {call.key}
            return self._again(call)
        try:
            answer, cost = self._answer(tier, item.reply, batch=True)
        except Unusable as e:
            self._charge(tier, await self.budget.settle(worst, e.cost), e.cost is None)
            return self._again(call)
        charge = await self.budget.settle(worst, cost)
        self._charge(tier, charge, cost is None)
        self._answered(call, replace(answer, cost=charge))
        return {call.key}

    def _keep(self, tier: Tier, items: dict[str, Item]) -> None:
        """Answers in a batch for calls this round does not need (a crashed run's batch): paid for, so cached."""
        for key, item in items.items():
            if item.reply is None or self.cache.has(key):
                continue
            try:
                answer, cost = self._answer(tier, item.reply, batch=True)
                self.cache.put(key, tier.model, replace(answer, cost=cost or 0.0))
            except (Unusable, *WRITE_ERRORS):
                continue
            self._charge(tier, cost or 0.0, cost is None)

    def _again(self, call: Call) -> set[str]:
        """Left to the per-call path, which sends it with its retries."""
        self.cache.release(call.key)
        self.stats.retried += 1
        self.progress.update(call.tier.name, retried=1)
        return set()

    def _over_budget(self, call: Call, worst: float | None, settled: set[str]) -> bool:
        self.cache.release(call.key)
        self.stats.over_budget += 1
        self.progress.update(call.tier.name, unsent=1)
        why = "no price for this model" if worst is None else f"its worst case ${worst:.4f} at the batch price"
        self.answers[call.key] = Answer(None, UNSENT, error=f"not sent: --budget ${self.budget.cap:,.4f} would not "
                                        f"cover it ({why}, ${self.budget.spent:,.4f} spent)")
        settled.add(call.key)
        return False

    async def _settle_all(self, tier: Tier, calls: list[Call], worst: dict[str, float | None],
                          billed: float | None) -> None:
        for c in calls:
            self._charge(tier, await self.budget.settle(worst[c.key], billed), billed is None)

    def _stop(self, tier: Tier, calls: list[Call], why: str | None) -> set[str]:
        """Stop the tier (when `why`) and leave these calls unsent."""
        if why is not None:
            self.stopped.setdefault(tier.name, why)
        for call in calls:
            self.cache.release(call.key)
            self._skip(call)
        return {c.key for c in calls}

    @staticmethod
    def _say(tier: Tier, exc: BaseException) -> str:
        return mask_then_clip(str(exc) or type(exc).__name__, secrets(tier))
