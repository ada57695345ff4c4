"""Where an audit's samples go: cheapest tier first, as long as a proof can pay for them, and why each task ended.

A pure object the audit drives round by round: `plan()` says which sample indices to score on which tier,
`record()` takes the pass/fail outcomes in sample order, `settle()` proves what the evidence allows, and
`statuses()` says, per task type, what happened and what more would buy. It never sees a request.

Validity rests on horizon.py (each test exact up to its horizon, at any stopping time) and alpha.py (value
weights and Holm recycling over anytime-valid p-values); every rule here only decides how many samples to take
and when to stop, which cannot raise the error rate. The rules:
- the family and horizons are fixed from traffic, money and prices before any outcome: each test's horizon is
  its traffic, bounded by a safety cap (default: the samples a payback period of its saving would pay for);
- per task, only the cheapest open tier is sampled; the next dearer one starts when the cheaper one stops
  unproven, or lags: after its first round, its predicted chance of proving within its horizon is below `lag`;
- a test keeps sampling while max over later looks of (saving over the payback period x P(proven there) - cost
  of the samples) is positive, or while doubling its sample and then deciding again is expected to pay (one
  round of look-ahead: the value of what the samples would tell); P is the beta-binomial prediction under a
  uniform prior, a lower bound of the chance of proving. Nothing else stops a test: "below the bar" (the mirror
  test at 95%) only says why it stopped;
- rounds grow by `growth` but stop at the first look predicted to prove with even odds, to save calls.

A prediction-powered arm (`Arm.pi`: a cheap scorer on every sample, labels on a random share pi of them) is
tested on the rectified values instead (ppi.py: the betting test of the labelled pass rate, anytime-valid, so
it joins the same Holm family and the same stopping rules). Its rounds are planned with the exact test's
predictions on the labelled passes its values estimate (`_Test.k`): an optimistic guide to how soon it proves
(the betting test needs more samples than the exact one), which only decides how many samples to take.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import betaln, gammaln

from ..records import Status
from . import ppi
from .alpha import DEARER, Holm, by_value
from .horizon import Design, design, lower_bound, mixture_score

BELOW_BAR = 0.05  # "shown below the bar" means the mirror test rejects p >= target at this level
KINDS = ("proven", "below-bar", "gave-up", "not-enough-traffic", "capped", "over-budget", "skipped", "open")
# A check beside each test that may hold back a proof (the sub-population check, subpop.py): given the test and
# the level it rejects at, None lets the proof stand, "open" waits for more samples, another kind ends the test.
Hold = Callable[[tuple[str, str], float, int], str | None]


@dataclass(frozen=True)
class Arm:
    """One (task type, cheaper tier) the audit may test, as known before any outcome."""

    task: str
    tier: str
    rank: int  # 0 for the task's cheapest tier, then up towards the reference
    value_usd: float  # monthly saving if this tier is proven: monthly spend x price gap
    cost_usd: float  # one more sample on this tier: the replay call plus its scoring
    pi: float | None = None  # prediction-powered: each sample labelled with this probability (ppi.py)


@dataclass(frozen=True)
class Settings:
    target: float
    confidence: float
    payback_months: float = 3.0  # a proof must repay its samples within a quarter of the saving it proves
    budget_usd: float | None = None  # sample.audit_budget_usd: the most all samples may cost
    cap: int | None = None  # sample.max_per_task as a safety limit; None: from money and traffic
    first_round: int = 20
    growth: float = 1.5
    lag: float = 0.3
    max_horizon: int = 10_000  # tractability of the exact test, far above what money usually buys


@dataclass
class _Test:
    arm: Arm
    horizon: int
    design: Design | None = None  # None: not in the family
    outcomes: list[bool] = field(default_factory=list)
    kind: str = "open"
    needs: dict[tuple[int, int], int | None] = field(default_factory=dict)  # more_needed, by (k, n)
    values: list[float] = field(default_factory=list)  # prediction-powered: the rectified value of each sample

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def k(self) -> int:
        """Passes; for a prediction-powered test, the labelled passes its rectified values estimate (what its
        rounds are planned on and the report shows)."""
        if self.arm.pi is not None and self.values:
            return round(min(max(sum(self.values) / self.n, 0.0), 1.0) * self.n)
        return sum(self.outcomes)


def usd(x: float) -> str:
    return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def default_cap(arm: Arm, traffic: int, settings: Settings) -> int:
    """Safety limit on one test's samples: what one payback period of its saving pays for, within traffic."""
    cap = traffic if settings.cap is None else min(traffic, settings.cap)
    if arm.cost_usd > 0:
        cap = min(cap, math.floor(settings.payback_months * arm.value_usd / arm.cost_usd))
    if settings.budget_usd is not None and arm.cost_usd > 0:
        cap = min(cap, math.floor(settings.budget_usd / arm.cost_usd))
    return max(0, min(cap, settings.max_horizon))


def _all_pass_provable(target: float, horizon: int, level: float) -> bool:
    if horizon < 1 or horizon * math.log(target) > math.log(level):  # not even a fixed-n test could
        return False
    if horizon > 4 * math.log(level) / math.log(target):  # clearly enough; skip the calibration
        return True
    d = design(target, horizon, level)
    return bool(d.boundary(d.threshold(level))[-1] <= horizon)


class Policy:
    """Plan an audit's rounds over (task, cheaper tier) tests, prove by Holm, and say why each task ended."""

    def __init__(self, arms: Sequence[Arm], traffic: Mapping[str, int], settings: Settings,
                 hold: Hold | None = None) -> None:
        self.s, self.traffic, self.hold = settings, dict(traffic), hold
        self.alpha = 1.0 - settings.confidence
        self.tests = {(a.task, a.tier): _Test(a, default_cap(a, traffic[a.task], settings)) for a in arms}
        values = {key: t.arm.value_usd * DEARER**t.arm.rank for key, t in self.tests.items()}
        weights = by_value(values, self._provable, self.alpha)
        self.holm: Holm[tuple[str, str]] = Holm(weights, self.alpha)
        family_value = sum(values[key] for key in weights)
        # a test with nothing at stake (no spend, or no price gap) would have had no share of alpha
        self._if_joined = {key: self.alpha * v / (family_value + v) if v > 0 else 0.0
                           for key, v in values.items() if key not in weights}
        for key, t in self.tests.items():
            if key in weights:
                t.design = design(settings.target, t.horizon, self.alpha * weights[key])
            else:
                t.kind = "capped" if t.horizon < traffic[t.arm.task] else "not-enough-traffic"
        self.spent = 0.0

    def _provable(self, key: tuple[str, str], level: float) -> bool:
        t = self.tests[key]
        if t.arm.pi is not None:
            return ppi.provable(self.s.target, t.horizon, level, t.arm.pi)
        return _all_pass_provable(self.s.target, t.horizon, level)

    # -- the rounds -------------------------------------------------------------------------------------------
    def plan(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(task, tier) -> (first, stop): score sample[first:stop] of that task on that tier. Empty: all done."""
        wanted: list[tuple[float, tuple[str, str], int]] = []
        for task in sorted({t.arm.task for t in self.tests.values()}):
            settled = False
            while not settled:  # closing a tier may make the next one active
                settled, chosen = True, []
                for key in self._active(task):
                    t = self.tests[key]
                    later, pred = self._predict(t)
                    # the first round is always taken: before it, the uniform prior knows nothing of the task
                    worth = math.inf if not t.n else max(self._worth(t, t.k, t.n, later, pred), self._lookahead(t))
                    if worth <= 0:
                        t.kind, settled = self._why_stopped(t), False
                        continue
                    chosen.append((-worth / max(t.arm.cost_usd, 1e-12), key, self._stop(t, later, pred)))
            wanted += chosen
        plan = {}
        budget = math.inf if self.s.budget_usd is None else self.s.budget_usd - self.spent
        for _, key, stop in sorted(wanted):  # best expected gain per dollar first
            t = self.tests[key]
            if t.arm.cost_usd > 0 and (stop - t.n) * t.arm.cost_usd > budget:
                assert t.design is not None
                stop = max((g for g in t.design.looks if (g - t.n) * t.arm.cost_usd <= budget), default=t.n)
            if stop <= t.n:
                t.kind = "over-budget"
                continue
            budget -= (stop - t.n) * t.arm.cost_usd
            plan[key] = (t.n, stop)
        return plan

    def record(self, task: str, tier: str, first: int, outcomes: Sequence[bool],
               values: Sequence[float] | None = None) -> None:
        """Outcomes of sample[first:first + len(outcomes)] on this tier; a failed call counts as a failure. A
        prediction-powered arm also takes each sample's rectified value (ppi.values)."""
        t = self.tests[(task, tier)]
        if first != t.n or t.n + len(outcomes) > t.horizon:
            raise ValueError(f"{task}/{tier}: outcomes for samples {first}.. after {t.n} of {t.horizon}")
        if (t.arm.pi is not None) != (values is not None) or values is not None and len(values) != len(outcomes):
            raise ValueError(f"{task}/{tier}: a prediction-powered test takes one rectified value per outcome, "
                             "any other test none")
        t.outcomes.extend(bool(x) for x in outcomes)
        t.values.extend(values or ())
        self.spent += len(outcomes) * t.arm.cost_usd

    def close(self, task: str, tier: str) -> None:
        """No more samples of this task can be scored (some were left unscored): its test ends where it is; it
        keeps its p-value, so Holm may still prove it."""
        t = self.tests[(task, tier)]
        if t.kind == "open":
            t.kind = "below-bar" if self._below_bar(t) else "not-enough-traffic"

    def settle(self) -> list[tuple[str, str]]:
        """Prove what Holm allows on the current p-values; close finished tests. Returns the newly proven.

        A test that stopped unproven keeps its final p-value and is proven if another proof lifts its level
        enough: Holm on the final p-values, which is what the validity argument covers."""
        def rejects(key: tuple[str, str], level: float) -> bool:
            t = self.tests[key]
            if t.kind == "skipped" or t.design is None or not self._rejects(t, level):
                return False
            held = None if self.hold is None else self.hold(key, level, t.horizon - t.n)
            if held is not None and held != "open" and t.kind == "open":
                t.kind = held  # the check beside it can no longer pass: an intersection-union test fails
            return held is None

        proven = self.holm.update(rejects)
        for key in proven:
            self.tests[key].kind = "proven"
            for other in self.tests.values():  # dearer tiers of a proven task have nothing left to save
                if other.arm.task == key[0] and other.arm.rank > self.tests[key].arm.rank and other.kind == "open":
                    other.kind = "skipped"
        for t in self.tests.values():
            if t.kind == "open" and t.n >= t.horizon:
                t.kind = self._why_stopped(t)
        return proven

    def _rejects(self, t: _Test, level: float) -> bool:
        if t.arm.pi is None:
            return t.design is not None and t.design.rejects(t.outcomes, level)
        return ppi.p_value(t.values, t.arm.pi, self.s.target, level) <= level

    def p_value(self, t: _Test) -> float:
        """The test's anytime-valid p-value (1 outside the family)."""
        if t.design is None:
            return 1.0
        return t.design.p_value(t.outcomes) if t.arm.pi is None else \
            ppi.p_value(t.values, t.arm.pi, self.s.target, self.alpha)

    def lower_bound(self, task: str, tier: str) -> float | None:
        """The decision's own lower confidence bound of the pass rate, at the level the test is (or was proven)
        at: >= target exactly when proven. Slow (a bisection of exact tests); for the report."""
        t, key = self.tests[(task, tier)], (task, tier)
        if t.design is None or not t.n:
            return None
        if t.arm.pi is not None:  # rounded down to betting's grid; a proof rejected exactly "<= target"
            bound = ppi.lower_bound(t.values, t.arm.pi, self.holm.level(key))
            return max(bound, self.s.target) if t.kind == "proven" else bound
        return lower_bound(t.outcomes, t.horizon, self.alpha * self.holm.weights[key], self.holm.level(key),
                           self.s.target)

    # -- the rules ----------------------------------------------------------------------------------------------
    def _active(self, task: str) -> list[tuple[str, str]]:
        """The cheapest open tier, plus the next one when it lags (cheapest-first)."""
        mine = sorted((t for t in self.tests.values() if t.arm.task == task), key=lambda t: t.arm.rank)
        if any(t.kind == "proven" for t in mine):
            cheapest_proven = min(t.arm.rank for t in mine if t.kind == "proven")
            mine = [t for t in mine if t.arm.rank < cheapest_proven]  # only a cheaper tier can still add saving
        open_ = [t for t in mine if t.kind == "open"]
        active = open_[:1]
        if len(open_) > 1 and open_[0].n >= self.s.first_round and \
                self._predict(open_[0])[1].max(initial=0.0) < self.s.lag:
            active.append(open_[1])
        return [(t.arm.task, t.arm.tier) for t in active]

    def _level(self, t: _Test) -> float:
        """The Holm level, rounded down to a 5% grid so the predictions reuse a few calibrations."""
        level = self.holm.level((t.arm.task, t.arm.tier))
        return math.exp(math.floor(math.log(level) / math.log(1.05)) * math.log(1.05))

    def _predict(self, t: _Test) -> tuple[np.ndarray, np.ndarray]:
        """Later looks and the chance of being over the boundary at each (beta-binomial, uniform prior)."""
        assert t.design is not None
        return t.design.predictive(t.k, t.n, self._level(t))

    def _worth(self, t: _Test, k: int, n: int, later: np.ndarray, pred: np.ndarray) -> float:
        """Best expected net value of sampling on to one later look, from k of n passed: saving over the payback
        period x chance of proving there - cost of the samples."""
        gain = self.s.payback_months * self._value(t) * pred - t.arm.cost_usd * (later - n)
        return float(gain.max(initial=0.0))

    def _lookahead(self, t: _Test, bins: int = 16) -> float:
        """Expected net value of doubling the sample (at least one round) and then deciding again: the value of
        what the next samples would tell, which `_worth` alone misses after a poor start on few samples. The
        passes to come are grouped in `bins` bins of equal chance, each valued at its median outcome."""
        assert t.design is not None
        r = min(max(self.s.first_round, t.n), t.horizon - t.n)
        if r <= 0:
            return 0.0
        x = np.arange(r + 1)
        chance = np.exp(betaln(t.k + 1 + x, t.n - t.k + 1 + r - x) - betaln(t.k + 1, t.n - t.k + 1)
                        + gammaln(r + 1) - gammaln(x + 1) - gammaln(r - x + 1))
        group = np.minimum((np.cumsum(chance) - chance) * bins // 1, bins - 1).astype(int)
        total = 0.0
        for g in range(bins - 1, -1, -1):  # best outcomes first: the value after them is largest
            if not np.any(group == g):
                continue
            mid = int(np.median(x[group == g]))
            later, pred = t.design.predictive(t.k + mid, t.n + r, self._level(t))
            after = self._worth(t, t.k + mid, t.n + r, later, pred)
            if after <= 0:  # and so for every worse outcome
                break
            total += float(chance[group == g].sum()) * after
            if total > r * t.arm.cost_usd:  # worth it already
                break
        return total - r * t.arm.cost_usd

    def _value(self, t: _Test) -> float:
        """Monthly saving a proof would add: over a dearer tier of the same task already proven."""
        proven = [o.arm.value_usd for o in self.tests.values() if o.arm.task == t.arm.task and o.kind == "proven"]
        return max(0.0, t.arm.value_usd - max(proven, default=0.0))

    def _why_stopped(self, t: _Test) -> str:
        """The status of a test that stops unproven (its horizon reached, or continuing cannot pay): shown below
        the bar if the mirror test says so; else limited by its horizon if a proof needs more samples than it
        allows; else it gave up on the money."""
        if self._below_bar(t):
            return "below-bar"
        need = self.more_needed(t)
        if t.n < t.horizon and (need is None or need <= t.horizon):
            return "gave-up"
        return "not-enough-traffic" if t.horizon >= self.traffic[t.arm.task] else "capped"

    def _below_bar(self, t: _Test) -> bool:
        """The mirror test (failures against 1 - target) rejects 'pass rate >= target' at BELOW_BAR: a
        statement about why the test stopped, never a reason to stop (only the money is)."""
        if t.arm.pi is not None:
            return ppi.below(t.values, t.arm.pi, self.s.target, BELOW_BAR)
        if not t.n or t.k >= self.s.target * t.n:
            return False
        mirror = design(1.0 - self.s.target, t.horizon, BELOW_BAR)
        return mirror.rejects([not x for x in t.outcomes], BELOW_BAR)

    def _stop(self, t: _Test, later: np.ndarray, pred: np.ndarray) -> int:
        """Grow the sample by `growth`, but stop at the first look predicted to prove with even odds."""
        assert t.design is not None
        grow = max(t.n + self.s.first_round, math.ceil(t.n * self.s.growth)) if t.n else self.s.first_round
        likely = later[pred >= 0.5]
        goal = min(grow, int(likely[0])) if len(likely) else grow
        return next((g for g in t.design.looks if g >= goal), t.horizon)

    # -- the report ---------------------------------------------------------------------------------------------
    def more_needed(self, t: _Test) -> int | None:
        """About how many samples in all would prove this tier at its observed pass rate (if never sampled: at
        the level it would have had in the family, with every sample passing), or None when that rate is at or
        under the target. Held to Ville's threshold, valid at any horizon, so an upper estimate."""
        key = (t.arm.task, t.arm.tier)
        if (t.k, t.n) not in t.needs:
            t.needs[(t.k, t.n)] = self._needed(t, key)
        return t.needs[(t.k, t.n)]

    def _needed(self, t: _Test, key: tuple[str, str]) -> int | None:
        rate = t.k / t.n if t.n else 1.0  # never sampled: as if every sample passed, the least a proof needs
        level = self.holm.level(key) or self._if_joined.get(key, 0.0)
        if t.arm.pi is not None:
            return ppi.needed(t.values, t.arm.pi, self.s.target, level)
        if rate <= self.s.target or level <= 0:
            return None
        score = t.design.score if t.design else mixture_score(self.s.target, max(t.horizon, 1), level)

        def first_proving(n: np.ndarray) -> int | None:
            ok = score(np.floor(rate * n), n) >= math.log(1 / level)
            return int(n[np.argmax(ok)]) if ok.any() else None

        rough = first_proving(np.unique(np.geomspace(max(t.n, 1), 1e7, 400).astype(int)))
        return None if rough is None else first_proving(np.arange(max(t.n, int(rough / 1.05) - 1), rough + 1))

    def statuses(self) -> list[Status]:
        """One status per task type: its cheapest proven tier, or the reason it stayed on the reference."""
        out = []
        for task in sorted({t.arm.task for t in self.tests.values()}):
            mine = sorted((t for t in self.tests.values() if t.arm.task == task), key=lambda t: t.arm.rank)
            proven = [t for t in mine if t.kind == "proven"]
            if proven:
                out.append(self._status(proven[0]))
                continue
            tried = [t for t in mine if t.kind != "skipped"] or mine
            best = max(tried, key=lambda t: (t.k / t.n if t.n else 0.0, -t.arm.rank))
            if all(t.kind == "below-bar" for t in tried):
                best = tried[0]
            out.append(self._status(best))
        return out

    def _status(self, t: _Test) -> Status:
        a, s, key = t.arm, self.s, (t.arm.task, t.arm.tier)
        seen, traffic = f"{a.tier} passed {t.k}/{t.n}", self.traffic[a.task]
        need = self.more_needed(t) if t.kind not in ("proven", "below-bar") else None
        more = None if need is None else max(0, need - t.n)
        cost = None if more is None else more * a.cost_usd
        buys = "" if more is None else f"; about {more} more samples (${cost:,.2f}) would likely prove " \
            f"{usd(a.value_usd)} a month"
        if t.kind == "proven":
            p = self.p_value(t)
            reason = (f"{seen}: proven >= target {s.target:g} at level {self.holm.level(key):.3g} (p = {p:.3g}; "
                      f"{s.confidence:g} for the whole audit)")
        elif t.kind == "below-bar":
            reason = f"{seen}: shown below the target {s.target:g} ({1 - BELOW_BAR:g} confidence)"
        elif t.kind == "not-enough-traffic":
            reason = f"not enough traffic to decide: {traffic} replayable requests" + (f", {seen}" if t.n else "")
            if t.n and need:
                reason += f"; a proof would need about {need} samples"
            elif not t.n:
                reason += "; even if every sample passed they could not prove it at this audit's level" + (
                    f" (that would take about {need} all-passing samples)" if need else "")
        elif t.kind == "capped":
            reason = (f"capped at {t.horizon} samples (the safety limit from {usd(a.value_usd)} a month at stake "
                      f"and ${a.cost_usd:.4g} a sample): {seen}{buys}; raise sample.max_per_task or the budget")
        else:
            free = f"; its other {t.horizon - t.n} samples are unlikely to prove it"  # labels cost nothing
            reason = {"gave-up": f"gave up: {seen}" + (f", below what continuing could repay{buys}" if a.cost_usd > 0
                                                      else free),
                      "over-budget": f"the audit budget ran out: {seen}{buys}",
                      "skipped": f"not sampled further: a cheaper tier was proven first ({seen})",
                      "open": f"still sampling: {seen}"}[t.kind]
        return Status(a.task, t.kind, a.tier, reason, t.n, t.k, more, cost)
