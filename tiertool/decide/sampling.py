"""The audit's rounds: which samples of which task type to score on which cheaper tier next, and what the tests
made of them. One interface for the two ways an audit samples, so the audit's loop is the same for both:

- sequential (the default): the sampling policy (policy.py) over the money at stake (stakes.py): cheapest tier
  first, samples while a proof can repay them, the error budget weighted by value, a status per task;
- fixed (`sample.sequential: false`): `per_task` samples on every tier, decided on the exact bound (rounds.py).

A plan maps (task, tier) to (first, stop): score sample[first:stop] of that task on that tier. Outcomes come
back in sample order; a failed call counts as a failure, an unscored sample (no answer offline, no reference)
is left out, and the test goes on with the next samples. Both run the sub-population check (subpop.py) beside
each test: a proof stands only when every part separated for it is proven too. Re-running an audit replays the
same rounds (the policy is deterministic given the traffic, prices, config and outcomes), so cached answers are
never paid for twice: that is how an interrupted audit resumes. A `prediction_powered` task (its judge labels a
seeded random share of the samples) is tested on the rectified values of its graded results (ppi.py); only the
sequential audit can run that test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..config import Config
from ..errors import ConfigError
from ..records import Family, Key, PartTest, Request, Result, Status, TestState, Usage
from . import ppi
from .family import family_for
from .policy import Policy, Settings
from .rounds import Rounds
from .stakes import arms
from .subpop import SubPopulations

Plan = dict[tuple[str, str], tuple[int, int]]


class PolicyRounds:
    """The sequential audit: rounds planned by the sampling policy."""

    def __init__(self, config: Config, volume: dict[Key, Usage], samples: Mapping[str, Sequence[Request]],
                 available: dict[str, int], days: float | None, free: Mapping[tuple[str, str], float],
                 labels_fraction: float | None = None) -> None:
        q, s = config.quality, config.sample
        settings = Settings(q.target, q.confidence, s.payback_months, s.audit_budget_usd, s.max_per_task, s.round,
                            max_horizon=s.cap)
        traffic = {t: n for t, n in available.items() if n}
        self.policy = Policy(arms(volume, config, traffic, days, free, labels_fraction), traffic, settings,
                             self._hold)
        self.parts = SubPopulations({task: samples[task] for task, _ in self.policy.holm.weights if task in samples},
                                    q.target)
        self.available, self.round = traffic, 0
        self._next = dict.fromkeys(self.policy.tests, 0)  # the next sample index of each test (unscored skipped)
        self._planned: Plan = {}
        self._looks: dict[tuple[str, str], list[tuple[int, int]]] = {key: [] for key in self.policy.tests}
        weighted = self.policy.holm.weights
        self.family = Family(tuple(sorted({task for task, _ in weighted})), len(config.tiers) - 1,
                             self.policy.alpha, min(map(self._all_pass, weighted), default=0), 0)

    def _all_pass(self, key: tuple[str, str]) -> int:
        """The fewest samples, all passing, that would prove this test (for the plan's expected calls)."""
        t = self.policy.tests[key]
        assert t.design is not None
        level = self.policy.holm.level(key)
        bound = t.design.boundary(t.design.threshold(level))
        return next((g for g, b in zip(t.design.looks, bound, strict=True) if b <= g), t.horizon)

    def most(self) -> Plan:
        """Every sample the rounds could still ask for (each open test to its horizon): for the plan shown
        before sending."""
        return {key: (t.n, t.horizon) for key, t in self.policy.tests.items() if t.kind == "open" and t.horizon}

    def next(self) -> Plan:
        """The policy's plan, in sample indices; a test whose sample has run out ends where it is."""
        while True:
            plan, out = self.policy.plan(), {}
            for (task, tier), (first, stop) in plan.items():
                start = self._next[(task, tier)]
                end = min(start + stop - first, self.available[task])
                if end > start:
                    out[(task, tier)] = (start, end)
                else:
                    self.policy.close(task, tier)
            if out or not plan:
                self._planned = out
                return out

    def record(self, task: str, tier: str, first: int, outcomes: Sequence[tuple[str, bool]],
               results: Sequence[Result] = ()) -> None:
        """(request id, passed) of the scored samples of the planned sample[first:stop], in sample order, and
        their graded results (a prediction-powered test reads the label and the scorer's verdict from them)."""
        key = (task, tier)
        self._next[key] = self._planned[key][1]
        pi = self.policy.tests[key].arm.pi
        self.policy.record(task, tier, self.policy.tests[key].n, [ok for _, ok in outcomes],
                           None if pi is None else ppi.values(results, pi))
        self.parts.record(task, tier, outcomes)

    def _hold(self, key: tuple[str, str], level: float, remaining: int) -> str | None:
        """The sub-population check on a test that rejects at `level` (as rounds.Rounds runs it): wait until the
        screen has seen every part; then each part separated must be proven at the same level (intersection-
        union); a part that no longer can be ends the test (shown below the bar, or capped)."""
        task, tier = key
        if remaining and not self.parts.ready(task, tier):
            return "open"
        self.parts.confirm(task, tier)
        part = self.parts.blocking(task, tier, level)
        return None if part is None else {"futile": "below-bar"}.get(part.state, part.state)

    def part_tests(self) -> tuple[PartTest, ...]:
        """The separated parts' tests, each at the level of the test it stands beside."""
        pol = self.policy
        return tuple(p for (task, tier) in pol.tests for p in self.parts.tests(
            task, tier, pol.holm.level((task, tier)) or pol.alpha))

    def finish_round(self) -> None:
        self.policy.settle()
        for key, t in self.policy.tests.items():
            if t.n and (not self._looks[key] or self._looks[key][-1][1] != t.n):
                self._looks[key].append((t.k, t.n))
        self.round += 1

    def states(self) -> tuple[TestState, ...]:
        """Every test's status, looks, level and its own lower bound (computed once, here, for the report)."""
        pol = self.policy
        return tuple(TestState(task, tier, t.kind, tuple(self._looks[(task, tier)]), pol.lower_bound(task, tier),
                               pol.holm.level((task, tier)) or None) for (task, tier), t in pol.tests.items())

    def statuses(self) -> tuple[Status, ...]:
        return tuple(self.policy.statuses())


class FixedRounds:
    """`sample.sequential: false`: one round of `per_task` samples on every cheaper tier (rounds.Rounds)."""

    def __init__(self, config: Config, samples: Mapping[str, Sequence[Request]], available: dict[str, int]) -> None:
        self.family = family_for(available, config)
        self.parts = SubPopulations({t: samples[t] for t in self.family.tested if t in samples}, config.quality.target)
        self._rounds = Rounds([t.name for t in config.tiers[:-1]], available, self.family, config.quality.target,
                              False, config.sample.round, config.sample.cap, self.parts)
        self._pending: dict[str, dict[str, list[tuple[str, bool]]]] = {}
        self._stop: dict[str, int] = {}

    @property
    def round(self) -> int:
        return self._rounds.round

    @staticmethod
    def _by_tier(plan: dict[str, tuple[int, int, list[str]]]) -> Plan:
        return {(task, tier): (first, stop) for task, (first, stop, tiers) in plan.items() for tier in tiers}

    def most(self) -> Plan:
        return self._by_tier(self._rounds.most())

    def next(self) -> Plan:
        plan = self._rounds.next()
        self._stop = {task: stop for task, (_, stop, _) in plan.items()}
        return self._by_tier(plan)

    def record(self, task: str, tier: str, first: int, outcomes: Sequence[tuple[str, bool]],
               results: Sequence[Result] = ()) -> None:
        self._pending.setdefault(task, {})[tier] = list(outcomes)

    def finish_round(self) -> None:
        for task, outcomes in self._pending.items():
            self._rounds.record(task, self._stop[task], {t: [ok for _, ok in o] for t, o in outcomes.items()},
                                {t: [rid for rid, _ in o] for t, o in outcomes.items()})
        self._pending = {}
        self._rounds.finish_round()

    def states(self) -> tuple[TestState, ...]:
        return self._rounds.states()

    def statuses(self) -> tuple[Status, ...]:
        return ()

    def part_tests(self) -> tuple[PartTest, ...]:
        return self.parts.all_tests(self.family.alpha)


def audit_rounds(config: Config, volume: dict[Key, Usage], samples: Mapping[str, Sequence[Request]],
                 available: dict[str, int], days: float | None,
                 free: Mapping[tuple[str, str], float] | None = None, labels_fraction: float | None = None
                 ) -> PolicyRounds | FixedRounds:
    """The rounds an audit with this config runs, over each task type's sample (`available`: its size);
    `free`: the share of each (task, tier)'s sample graded by imported labels, at no cost; `labels_fraction`
    (--labels-fraction): imported labels were written for a random share of the requests, so every task is
    tested prediction-powered on them."""
    if config.sample.sequential:
        return PolicyRounds(config, volume, samples, available, days, free or {}, labels_fraction)
    if any(s.scorer == "prediction_powered" for s in config.tasks.values()):
        raise ConfigError("prediction_powered tasks need the sequential audit (sample.sequential: true): its "
                          "test of the labelled pass rate is the policy's")
    return FixedRounds(config, samples, available)
