"""The PPI benchmark on the real RouteLLM data where it lies (skips when ../shared is absent): agreement per
task, and PPI bounds valid where the scorer alone moves tasks it should not."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, load_script

bench = load_script(ROOT / "benchmarks" / "bench_ppi.py")


@pytest.fixture(scope="module")
def data():
    from tests.conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED} (../shared beside the project); skipping")
    return bench.tasks(SHARED)


def test_agreement_per_task_separates_a_fitting_scorer_from_similarity_on_free_text(data):
    from tiertool.decide.agreement import agreement

    gsm = agreement(*data["gsm8k / numeric"])
    assert gsm.kappa > 0.8 and gsm.kappa_interval[0] > 0.75 and gsm.warning is None
    for name in ("mt-bench / fuzzy token_set 0.85", "mt-bench / fuzzy token_set 0.5"):
        a = agreement(*data[name])
        assert a.kappa < 0.2 and "low agreement" in a.warning, name


def test_ppi_covers_and_does_not_follow_a_lenient_scorer_into_a_wrong_downgrade(data):
    f, y = data["mt-bench / fuzzy token_set 0.5"]
    s = bench.simulate(f, y, 0.85, 400, 0.25, seeds=40)  # true labelled rate 0.806 < target
    assert s["moved"]["scorer alone"] == 1.0 and s["moved"]["PPI"] == 0.0 and s["moved"]["all labels"] == 0.0
    assert s["coverage"] >= 0.95 and s["agree"]["PPI"] == 1.0


def test_the_boundary_family_runs_the_policy_and_its_exact_all_labels_bound_is_under_alpha(data):
    f, y = data["mt-bench / fuzzy token_set 0.5"]
    b = bench.boundary(f, y, 400, 0.25, seeds=5)
    assert set(b["rate"]) == {"all labels", "PPI"} and b["truth"] == float(y.mean())
    assert 0.04 < b["exact all labels"] <= bench.ALPHA  # exact at the true rate, five tasks at alpha / 5 each
