"""The statistics of issue 16: the exact finite-horizon test, the betting sequences, the value-weighted Holm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiertool.decide import betting
from tiertool.decide.alpha import Holm, by_value
from tiertool.decide.horizon import Design, design, look_grid, lower_bound


@pytest.mark.parametrize(("target", "horizon", "alpha"), [(0.8, 2000, 0.005), (0.85, 300, 0.05), (0.9, 40, 0.01),
                                                          (0.7, 7, 0.2)])
def test_calibrated_threshold_spends_alpha_and_no_more(target, horizon, alpha):
    """At p = target the boundary is crossed at most alpha of the time (exact), and a threshold just below the
    calibrated one would cross more often: the test uses its whole level."""
    d = design(target, horizon, alpha)
    c = d.threshold(alpha)
    assert d.crossing(d.boundary(c), target)[0] <= alpha
    assert d.crossing(d.boundary(c - 1e-5), target)[0] > alpha


def test_the_dynamic_programme_agrees_with_simulated_paths():
    d = design(0.8, 200, 0.05)
    bound = d.boundary(d.threshold(0.05))
    looks = np.asarray(d.looks)
    for p in (0.8, 0.86):
        x = np.random.default_rng(3).random((20_000, 200)) < p
        simulated = (np.cumsum(x, axis=1)[:, looks - 1] >= bound).any(axis=1).mean()
        exact = d.crossing(bound, p)[0]
        assert abs(simulated - exact) <= 4 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-9


def test_p_value_is_valid_under_a_data_dependent_stop():
    """Stop each path at its most flattering moment (the smallest p-value it will ever show): still at most
    alpha of them prove at the boundary, because the p-value is about the whole path up to the horizon."""
    d = design(0.85, 150, 0.1)
    rng = np.random.default_rng(11)
    runs = 1500
    proven = sum(d.rejects(list(rng.random(150) < 0.85), 0.1) for _ in range(runs))
    assert proven / runs <= 0.1 + 3 * math.sqrt(0.1 * 0.9 / runs)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=120), st.sampled_from([0.6, 0.8, 0.9]),
       st.sampled_from([0.01, 0.05, 0.2]))
def test_rejects_is_exactly_the_p_value_at_the_level(outcomes, target, alpha):
    d = design(target, 120, alpha)
    assert d.rejects(outcomes, alpha) == (d.p_value(outcomes) <= alpha)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=100), st.lists(st.booleans(), max_size=100))
def test_p_value_never_rises_as_samples_come(first, more):
    d = design(0.8, 200, 0.05)
    assert d.p_value(first + more) <= d.p_value(first)


def test_lower_bound_agrees_with_the_decision():
    rng = np.random.default_rng(5)
    for p in (0.83, 0.86, 0.9):
        x = list(rng.random(400) < p)
        lb = lower_bound(x, 400, 0.01, 0.01)
        assert (lb >= 0.8) == (design(0.8, 400, 0.01).p_value(x) <= 0.01)
        assert lb <= p + 0.05


def test_look_grid_is_fixed_increasing_and_ends_at_the_horizon():
    for horizon in (1, 4, 5, 37, 2000):
        g = look_grid(horizon)
        assert g[-1] == horizon and list(g) == sorted(set(g)) and g[0] == min(5, horizon)


def test_a_design_refuses_a_target_it_cannot_test():
    with pytest.raises(ValueError, match="target in"):
        Design(1.0, 10, lambda k, n: k)
    with pytest.raises(ValueError, match="outcomes for a test of horizon"):
        design(0.8, 10, 0.05).p_value([True] * 11)


def test_horizon_test_proves_more_than_villes_mixture_at_the_same_level():
    """The point of the exact threshold: at target + 0.04 with 2,000 samples at level 0.005, more power."""
    import bench_power

    ville, bound = bench_power.today_test(0.85, 2000, 0.005)
    new = design(0.85, 2000, 0.005)
    p_new = new.crossing(new.boundary(new.threshold(0.005)), 0.89)[0]
    assert p_new > ville.crossing(bound, 0.89)[0] + 0.03
    assert ville.crossing(bound, 0.85)[0] <= 0.005


# -- betting -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bet", ["prpl", "agrapa"])
def test_betting_keeps_its_level_at_the_boundary(bet):
    rng = np.random.default_rng(21)
    runs = 2000
    proven = sum(betting.p_value(rng.random(300) < 0.8, 0.8, 0.05, bet) <= 0.05 for _ in range(runs))
    assert proven / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_betting_lower_bound_covers_the_mean_and_tightens():
    rng = np.random.default_rng(2)
    bounds = [betting.lower_bound(rng.random(n) < 0.7, 0.05) for n in (50, 500, 3000)]
    assert all(b <= 0.7 for b in bounds)
    assert bounds[0] < bounds[1] < bounds[2] and bounds[2] > 0.65


def test_paired_margin_test_keeps_its_level_whatever_the_agreement():
    """H0 is composite (any joint law with acc_cheaper - acc_reference = -margin); the test holds at both a low
    and a high disagreement rate."""
    rng = np.random.default_rng(8)
    runs = 1000
    for disagree in (0.06, 0.4):
        q10, q01 = (disagree - 0.03) / 2, (disagree + 0.03) / 2  # acc difference -0.03 = -margin
        proven = 0
        for _ in range(runs):
            u = rng.random(400)
            cheaper = (u < q10) | (u >= q10 + q01) & (u < q10 + 0.8)
            reference = (u >= q10) & (u < q10 + 0.8)
            proven += betting.margin_p_value(cheaper, reference, 0.03, 0.05) <= 0.05
        assert proven / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_paired_margin_test_proves_an_equal_tier_and_bounds_the_difference():
    rng = np.random.default_rng(9)
    u = rng.random(3000)
    cheaper, reference = u < 0.85, (u < 0.80) | (u > 0.95)  # cheaper 0.85, reference 0.85, differ on 20%
    assert betting.margin_p_value(cheaper, reference, 0.05, 0.05) <= 0.05
    assert -0.05 < betting.margin_lower_bound(cheaper, reference, 0.05) <= 0.0 + 0.01


def test_betting_refuses_bad_input():
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        betting.p_value([0.5, 2.0], 0.5, 0.05)
    with pytest.raises(ValueError, match="differ in length"):
        betting.paired([True], [True, False])
    with pytest.raises(ValueError, match="unknown bet"):
        betting.p_value([1.0], 0.5, 0.05, "kelly")


# -- the error budget ----------------------------------------------------------------------------------------------
def test_by_value_weights_follow_money_and_drop_the_unprovable():
    values = {"big": 3000.0, "small": 1000.0, "tiny-traffic": 2000.0, "worthless": 0.0}
    w = by_value(values, lambda key, level: key != "tiny-traffic", 0.05)
    assert w == {"big": 0.75, "small": 0.25}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.1, 10.0), min_size=1, max_size=8), st.data())
def test_holm_levels_only_grow_and_never_exceed_the_budget(values, data):
    total = sum(values)
    holm = Holm({i: v / total for i, v in enumerate(values)}, 0.05)
    order = data.draw(st.permutations(range(len(values))))
    for key in order:
        before = {k: holm.level(k) for k in holm.weights if k not in holm.proven}
        assert sum(before.values()) == pytest.approx(0.05)
        holm.update(lambda k, level, key=key: k == key)
        assert all(holm.level(k) >= before[k] - 1e-15 for k in before if k not in holm.proven)
    assert sorted(holm.proven) == sorted(order)


def test_holm_recycles_a_proven_share_and_proves_the_same_set_whatever_the_order():
    """Levels start at 0.05 x weight: only a (0.015 <= 0.02) passes; its share lifts b and d over their
    p-values (0.05 x 0.2 / 0.6 = 0.0167, then 0.025), never c."""
    p = {"a": 0.015, "b": 0.011, "c": 0.2, "d": 0.012}
    weights = {"a": 0.4, "b": 0.2, "c": 0.2, "d": 0.2}
    for keys in (list(p), list(reversed(p))):
        holm = Holm({k: weights[k] for k in keys}, 0.05)
        holm.update(lambda k, level: p[k] <= level)
        assert set(holm.proven) == {"a", "b", "d"}
        assert holm.level("a") == pytest.approx(0.02) and holm.level("c") == pytest.approx(0.05)


def test_holm_refuses_weights_that_do_not_sum_to_one():
    with pytest.raises(ValueError, match="sum to 1"):
        Holm({"a": 0.5}, 0.05)
