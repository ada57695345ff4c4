"""Plan an audit's sampling rounds and keep each (task, cheaper tier) test's state as the evidence comes in.

The states the rounds reach are what decisions read back (records.TestState), so a decision is the test the
audit ran, not a recomputation of it.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..records import Family, TestState
from .sequential import exact_lower_bound, futile, log_evidence_above, needed_at, p_value, upper_bound
from .subpop import SubPopulations

FUTILITY_ALPHA = 0.05  # futility only keeps a task on the reference: it costs savings, never safety
OPTIMISM = 0.30  # a test stops when even the 70% upper bound of its pass rate could not prove it in the cap


class Rounds:
    """Plan an audit's sampling rounds: which requests of each task type to score on which tiers next.

    Sequential: each round adds `round` requests per task type to the tiers whose test is still open; a test
    closes when proven (p-value <= the family level), futile (the mirror test at FUTILITY_ALPHA), or when
    even the optimistic end of its pass rate (70% upper bound) could not be proven within the cap.
    Once a tier is proven for a task, dearer tiers stop.
    Fixed: one round of `per_task` requests on every tier, for every task type.
    With `parts` (subpop.py), a test is proven only when every part separated for it is proven too; it stays
    open while such a part can still be proven, and ends futile or capped with it.
    """

    def __init__(self, tiers: list[str], available: dict[str, int], fam: Family, target: float,
                 sequential: bool, step: int, cap: int, parts: SubPopulations | None = None) -> None:
        self.tiers, self.fam, self.target, self.parts = tiers, fam, target, parts
        self.sequential, self.step = sequential, step
        self.limit = {t: min(n, cap) for t, n in available.items()}
        self.done = dict.fromkeys(available, 0)
        # a sequential audit spends nothing on task types that cannot be proven; a fixed one scores them too,
        # so their pass rates are on record
        self.tests = {(task, tier): TestState(task, tier, "open" if task in fam.tested or not sequential else "skipped")
                      for task in available for tier in tiers}
        self.round = 0

    def most(self) -> dict[str, tuple[int, int, list[str]]]:
        """The most the rounds could ask for, as `next()` would in one go: for the plan shown before sending."""
        plan = {}
        for task in self.done:
            open_tiers = [t for t in self.tiers if self.tests[(task, t)].state == "open"]
            if open_tiers and self.limit[task]:
                plan[task] = (0, self.limit[task], open_tiers)
        return plan

    def next(self) -> dict[str, tuple[int, int, list[str]]]:
        """task -> (first, stop, tiers): score sample[first:stop] on these tiers. Empty when all settled."""
        plan = {}
        for task, start in self.done.items():
            open_tiers = [t for t in self.tiers if self.tests[(task, t)].state == "open"]
            stop = min(self.limit[task], start + self.step if self.sequential else self.limit[task])
            if open_tiers and stop > start:
                plan[task] = (start, stop, open_tiers)
        return plan

    def record(self, task: str, stop: int, outcomes: dict[str, list[bool]],
               ids: dict[str, list[str]] | None = None) -> None:
        """Add one round's pass/fail per tier for `task` (samples up to index `stop`), then settle tests;
        `ids` (the request id of each outcome) feed the sub-population check."""
        self.done[task] = stop
        for tier, passed in outcomes.items():
            t = self.tests[(task, tier)]
            self.tests[(task, tier)] = replace(t, looks=(*t.looks, (t.passed + sum(passed), t.scored + len(passed))))
            if self.parts is not None and ids is not None:
                self.parts.record(task, tier, zip(ids[tier], passed, strict=True))
        self._settle(task)

    def finish_round(self) -> None:
        self.round += 1

    def _settle(self, task: str) -> None:
        """Close what the evidence settles; once a tier is proven, the dearer tiers still open stop."""
        threshold = math.log(1.0 / self.fam.alpha)
        remaining = self.limit[task] - self.done[task]
        for tier in self.tiers:
            test = self.tests[(task, tier)]
            if test.state != "open" or not test.looks:
                continue
            k, n = test.passed, test.scored
            part = self.parts.blocking(task, tier, self.fam.alpha) if self.parts is not None else None
            if part is not None and part.state != "open":
                state = part.state  # a separated part can no longer be proven: the task cannot move
            elif not self.sequential:
                state = "proven" if exact_lower_bound(k, n, self.fam.alpha) >= self.target else "futile"
            elif p_value(test.looks, self.target) <= self.fam.alpha:
                if (proof := self._proven(task, tier, remaining)) is None:
                    continue
                state = proof
            elif futile(test.looks, self.target, FUTILITY_ALPHA):
                state = "futile"
            elif log_evidence_above(k + remaining, n + remaining, self.target) < threshold:
                state = "capped"  # even all-passing remaining samples could not prove it
            elif needed_at(upper_bound(k, n, OPTIMISM), self.target, self.fam.alpha, self.limit[task]) is None:
                state = "capped"  # not even an optimistic pass rate would be proven within the cap
            else:
                continue
            self.tests[(task, tier)] = replace(test, state=state)
        states = [self.tests[(task, tier)].state for tier in self.tiers]
        if "proven" in states:
            for dearer in self.tiers[states.index("proven") + 1:]:
                if self.tests[(task, dearer)].state == "open":
                    self.tests[(task, dearer)] = replace(self.tests[(task, dearer)], state="skipped")

    def _proven(self, task: str, tier: str, remaining: int) -> str | None:
        """The task's own test proved: "proven", unless the sub-population check stands in the way (None: sample
        on; or the state of a separated part that can no longer be proven)."""
        parts = self.parts
        if parts is None:
            return "proven"
        if remaining and not parts.ready(task, tier):
            return None  # first let the screen see every part
        parts.confirm(task, tier)
        part = parts.blocking(task, tier, self.fam.alpha)
        if part is None:
            return "proven"
        return None if part.state == "open" else part.state

    def states(self) -> tuple[TestState, ...]:
        """Every test's state and looks, as the audit stores them."""
        return tuple(self.tests.values())
