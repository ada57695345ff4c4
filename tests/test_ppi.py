"""Prediction-powered bounds (decide/ppi.py): unbiased, valid at the boundary under sequential stopping and
inside the Holm family, and more powerful than the labels alone. Simulations with fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from tiertool.decide import betting, ppi
from tiertool.decide.alpha import Holm

ALPHA = 0.05


def draw(rng: np.random.Generator, n: int, p_true: float, agree: float, pi: float
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels Y ~ Bernoulli(p_true); a scorer that agrees with Y with probability `agree`; labelled with pi."""
    y = rng.random(n) < p_true
    f = np.where(rng.random(n) < agree, y, ~y)
    return f, y, rng.random(n) < pi


def z_of(f: np.ndarray, y: np.ndarray, xi: np.ndarray, pi: float) -> np.ndarray:
    return ppi.rectified(f.astype(float), y.astype(float).tolist(), xi, pi)


def test_the_rectified_value_has_the_labels_mean_however_biased_the_scorer():
    rng = np.random.default_rng(0)
    y = rng.random(200_000) < 0.7
    f = np.ones_like(y)  # a scorer that passes everything: pass rate 1.0, labelled rate 0.7
    z = z_of(f, y, rng.random(len(y)) < 0.1, 0.1)
    assert z.mean() == pytest.approx(0.7, abs=0.01) and z.min() >= 1 - 1 / 0.1 and z.max() <= 1 / 0.1


def test_unlabelled_values_are_ignored_and_bad_inputs_refused():
    assert ppi.rectified([1.0, 0.0], [None, 1.0], [False, True], 0.5).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="labelling probability"):
        ppi.rectified([1.0], [1.0], [True], 0.0)


@pytest.mark.parametrize("agree, pi", [(0.9, 0.2), (0.5, 0.25), (0.99, 0.1)])
def test_at_the_boundary_proofs_stay_under_alpha_whatever_stops_the_audit(agree, pi):
    """True labelled rate = target. The p-value is 1 / max_t K_t over the whole path, so 'proven at some
    sample size up to N' covers every stopping rule the audit could use (proven, futile, budget, rounds)."""
    rng = np.random.default_rng(11)
    seeds, proofs, early = 600, 0, 0
    for _ in range(seeds):
        f, y, xi = draw(rng, 300, 0.8, agree, pi)
        z = z_of(f, y, xi, pi)
        proofs += ppi.p_value(z, pi, 0.8, ALPHA) <= ALPHA
        early += ppi.p_value(z[:60], pi, 0.8, ALPHA) <= ALPHA  # an audit stopped at its first round
    assert proofs / seeds <= ALPHA + 3 * (ALPHA * (1 - ALPHA) / seeds) ** 0.5
    assert early <= proofs  # a path proven early stays proven: anytime-valid, no optional-stopping gain


def test_the_lower_bound_covers_the_labelled_rate_and_is_the_tests_dual():
    rng = np.random.default_rng(3)
    seeds, covered = 400, 0
    for _ in range(seeds):
        f, y, xi = draw(rng, 300, 0.85, 0.9, 0.2)
        z = z_of(f, y, xi, 0.2)
        lb = ppi.lower_bound(z, 0.2, ALPHA)
        covered += lb <= 0.85
        if lb > 0.01:  # a mean below the bound is rejected, as the bound says
            assert ppi.p_value(z, 0.2, lb - 0.01, ALPHA) <= ALPHA
    assert covered / seeds >= 1 - ALPHA


def test_ppi_p_values_in_the_holm_family_keep_the_family_wise_error():
    """Three tasks at their boundary and one far above it, weighted Holm at 0.05: P(any boundary task proven)
    stays under alpha, while the good task is proven and hands its share on."""
    rng = np.random.default_rng(5)
    seeds, errors, good_proven = 300, 0, 0
    weights = {"a": 0.25, "b": 0.25, "c": 0.25, "good": 0.25}
    for _ in range(seeds):
        p = {}
        for task, rate in (("a", 0.8), ("b", 0.8), ("c", 0.8), ("good", 0.97)):
            f, y, xi = draw(rng, 400, rate, 0.95, 0.3)
            p[task] = ppi.p_value(z_of(f, y, xi, 0.3), 0.3, 0.8, ALPHA)
        holm = Holm(weights, ALPHA)
        proven = holm.update(lambda k, level, p=p: p[k] <= level)
        errors += any(k != "good" for k in proven)
        good_proven += "good" in proven
    assert errors / seeds <= ALPHA and good_proven / seeds > 0.5


def test_ppi_proves_more_than_the_labels_alone_with_a_good_scorer():
    rng = np.random.default_rng(8)
    seeds, by_ppi, by_labels = 200, 0, 0
    for _ in range(seeds):
        f, y, xi = draw(rng, 1000, 0.9, 0.95, 0.1)
        by_ppi += ppi.p_value(z_of(f, y, xi, 0.1), 0.1, 0.8, ALPHA) <= ALPHA
        by_labels += betting.p_value(y[xi].astype(float), 0.8, ALPHA) <= ALPHA
    assert by_ppi > by_labels + 0.1 * seeds


def test_the_policy_decides_a_prediction_powered_arm_on_its_rectified_values():
    """The audit's policy with a PPI arm beside an exact one: the PPI test takes one rectified value per outcome,
    proves a task whose labels pass 97% (with a lenient scorer too: the labels decide), keeps one whose labels
    pass 60% although its scorer passes everything, and reports a bound >= target exactly when proven."""
    from tiertool.decide.policy import Arm, Policy, Settings

    rng = np.random.default_rng(1)
    data = {}
    for task, rate in (("good", 0.97), ("bad", 0.6)):
        y = rng.random(2000) < rate
        f = np.ones_like(y)  # the scorer passes everything
        data[task] = (f, y, rng.random(2000) < 0.3)
    arms = [Arm(t, "small", 0, 100.0, 0.01, 0.3) for t in data] + [Arm("exact", "small", 0, 100.0, 0.01)]
    pol = Policy(arms, {"good": 2000, "bad": 2000, "exact": 2000}, Settings(0.8, 0.95))
    with pytest.raises(ValueError, match="one rectified value per outcome"):
        pol.record("good", "small", 0, [True])
    with pytest.raises(ValueError, match="one rectified value per outcome"):
        pol.record("exact", "small", 0, [True], [1.0])
    while plan := pol.plan():
        for (task, tier), (first, stop) in plan.items():
            if task == "exact":
                pol.record(task, tier, first, [True] * (stop - first))
                continue
            f, y, xi = (a[first:stop] for a in data[task])
            pol.record(task, tier, first, list(np.where(xi, y, f)), z_of(f, y, xi, 0.3).tolist())
        pol.settle()
    kinds = {s.task: s.kind for s in pol.statuses()}
    assert kinds["good"] == "proven" and kinds["exact"] == "proven" and kinds["bad"] != "proven"
    assert pol.lower_bound("good", "small") >= 0.8 > pol.lower_bound("bad", "small")
