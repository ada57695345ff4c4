"""Spend the audit's error budget where the money is, and hand a proven test's share to the others.

The family: one hypothesis per (task type, cheaper tier), H0: its pass rate is below the bar. The audit must
keep P(any true H0 rejected) <= alpha = 1 - confidence, whatever the dependence between the tests.

Weighted Bonferroni: test i is held to alpha * w_i with sum w_i = 1 and w fixed before any outcome, here in
proportion to the money a proof would save (monthly spend x price gap, from traffic and prices only). By the
union bound the family-wise error is at most sum_{true H0} alpha * w_i <= alpha.

Sequentially rejective (weighted Holm, 1979; the sequential rejection principle of Goeman & Solari, 2010): once
a test is proven, its weight is shared among the tests not yet proven, pro rata: level_i(R) = alpha * w_i /
sum_{j not in R} w_j for the set R proven so far. The levels only grow as R grows and, for every R, sum over
the unproven tests of their levels is alpha, so the Bonferroni argument at R = {false H0} bounds the error by
alpha. This needs each test's p-value to be valid at the moment it is used, whatever stopped it: the
anytime-valid p-values of horizon.py and betting.py are (P(p_tau <= x) <= P(inf_t p_t <= x) <= x). They only
fall as samples come, so applying the procedure after every round proves exactly what applying it once at the
end would.

What is NOT recycled: the share of a test that turned futile. Dropping a hypothesis because its own data look
bad and giving its share to the others is not valid in general (drop everything but the smallest p-value and
test that at alpha: that is min-p at full alpha). Futile tests keep their share; they stop costing samples,
not error budget. A tier that was never sampled has spent nothing, but passing its share on when a cheaper
tier of the same task is proven would make its level fall as R grows, which the argument above excludes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

DEARER = 0.5  # a priori share of each dearer tier relative to the next cheaper one on the same task


def by_value(values: Mapping[K, float], provable: Callable[[K, float], bool], alpha: float) -> dict[K, float]:
    """Weights proportional to value, among the tests that could be proven at their level at all.

    `provable(key, level)` says whether the test could ever be proven at that level within its horizon (e.g.
    if every sample passed). A test that could not is left out before any outcome, which raises everyone
    else's level; repeat until every member could be proven."""
    members = {k: v for k, v in values.items() if v > 0}
    while members:
        total = sum(members.values())
        weights = {k: v / total for k, v in members.items()}
        keep = {k: members[k] for k in members if provable(k, alpha * weights[k])}
        if len(keep) == len(members):
            return weights
        members = keep
    return {}


class Holm(Generic[K]):
    """Weighted sequentially rejective procedure over anytime-valid p-values."""

    def __init__(self, weights: Mapping[K, float], alpha: float) -> None:
        if weights and abs(sum(weights.values()) - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1, not {sum(weights.values()):.6g}")
        self.weights, self.alpha = dict(weights), alpha
        self.proven: list[K] = []  # in the order they were proven

    def level(self, key: K) -> float:
        """The level `key` is held to now (0 outside the family; its final level once proven)."""
        if key not in self.weights:
            return 0.0
        before = self.proven[: self.proven.index(key)] if key in self.proven else self.proven
        return self.alpha * self.weights[key] / sum(w for k, w in self.weights.items() if k not in before)

    def update(self, rejects: Callable[[K, float], bool]) -> list[K]:
        """Prove every test the procedure rejects; `rejects(key, level)` says whether the test's current
        anytime-valid p-value is <= level. Returns the newly proven. The final set does not depend on the order
        in which rejectable tests are taken, since a proof only raises the others' levels."""
        new: list[K] = []
        while True:
            found = next((k for k in self.weights if k not in self.proven and rejects(k, self.level(k))), None)
            if found is None:
                return new
            self.proven.append(found)
            new.append(found)
