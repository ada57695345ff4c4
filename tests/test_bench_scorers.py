"""The scorer benchmark on the real RouteLLM data where it lies (skips when ../shared is absent)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, load_script

bench = load_script(ROOT / "benchmarks" / "bench_scorers.py")


@pytest.fixture(scope="module")
def gsm8k_figures(request):
    from tests.conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED} (../shared beside the project); skipping")
    return bench.gsm8k(SHARED)


def test_gsm8k_reads_every_problem_with_the_published_outcome_counts(gsm8k_figures):
    assert gsm8k_figures["problems"] == 1319
    assert gsm8k_figures["counts"] == {"both": 747, "only_large": 383, "only_small": 95, "neither": 94}


def test_numeric_agreement_predicts_small_correctness_and_text_scorers_do_not(gsm8k_figures):
    s = gsm8k_figures["scorers"]
    assert s["numeric"]["kappa"] > 0.8 and s["numeric"]["precision"] > 0.95 and s["numeric"]["recall"] > 0.85
    assert abs(s["numeric"]["pass_rate"] - s["numeric"]["true_accuracy"]) < 0.05
    assert s["exact"]["kappa"] < 0.1 and s["fuzzy 0.85"]["kappa"] < 0.1
    assert "auto (numeric)" in s and "end in a number -> numeric" in gsm8k_figures["auto_reason"]


def test_kappa_matches_the_confusion_matrix_by_hand(shared_data):
    rows = bench.read_gsm8k(shared_data)
    scorer = bench._scorer({"scorer": "numeric"})
    passed = [scorer.score(bench._context(r["prompt"], r["small"], r["large"])).passed for r in rows]
    truth = [r["small_ok"] for r in rows]
    n = len(rows)
    tp = sum(p and t for p, t in zip(passed, truth, strict=True))
    tn = sum(not p and not t for p, t in zip(passed, truth, strict=True))
    po = (tp + tn) / n
    pe = (sum(passed) * sum(truth) + (n - sum(passed)) * (n - sum(truth))) / n**2
    stats = bench.agreement_stats(passed, truth)
    assert stats["kappa"] == pytest.approx((po - pe) / (1 - pe))
    assert stats["precision"] == pytest.approx(tp / sum(passed))
    assert stats["recall"] == pytest.approx(tp / sum(truth))


def test_mt_bench_grades_per_category_and_grade_bar_pass_rates(shared_data):
    m = bench.mt_bench(shared_data)
    assert m["pairs"] == 160 and m["rating_text_vs_score_field_mismatches"] == 0
    cats = m["categories"]
    assert len(cats) == 8 and all(c["pairs"] == 20 for c in cats.values())
    published = {"humanities": (9.9, 10.0), "writing": (9.55, 9.65), "roleplay": (9.5, 9.47), "coding": (6.3, 8.65),
                 "math": (5.95, 7.95)}
    for cat, (small, large) in published.items():
        assert cats[cat]["small_mean"] == pytest.approx(small, abs=0.005)
        assert cats[cat]["large_mean"] == pytest.approx(large, abs=0.005)
    for c in cats.values():
        assert c["pass_rate_margin_0"] <= c["pass_rate_margin_1"] <= c["pass_rate_margin_2"]
    assert cats["coding"]["pass_rate_margin_1"] < 0.7 < cats["writing"]["pass_rate_margin_1"]


def test_the_audit_pipeline_reproduces_the_figures_offline_with_imported_labels(shared_data, gsm8k_figures):
    p = bench.pipeline(shared_data, margin=1)
    m = bench.mt_bench(shared_data)
    assert p["records"] == 1319 + 160 and p["calls"] == 0
    g = p["tasks"]["gsm8k"]
    assert g["scorer"] == "numeric" and g["scored"] == 1319
    assert g["passed"] == round(gsm8k_figures["scorers"]["numeric"]["pass_rate"] * 1319)
    for cat, row in m["categories"].items():
        t = p["tasks"][f"mt-bench/{cat}"]
        assert t["scorer"] == "imported labels" and t["scored"] == row["pairs"]
        assert t["passed"] / t["scored"] == pytest.approx(row["pass_rate_margin_1"])
        assert t["tier"] == "large"  # 20 question-turns cannot prove a 0.95 bar


def test_benchmark_command_prints_both_tables(shared_data, capsys):
    assert bench.main(["--data", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "| numeric |" in out and "| coding |" in out and "Cohen's kappa" in out


def test_benchmark_command_without_data_says_where_it_looked(tmp_path, capsys):
    assert bench.main(["--data", str(tmp_path / "nowhere")]) == 2
    assert "data not found" in capsys.readouterr().err
