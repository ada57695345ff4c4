"""Labels on a few, a cheap scorer on all: scorer agreement and prediction-powered bounds on real data.

On ../shared/data/routellm (read where it lies): GSM8K, scorer `numeric` (small answer vs large answer), label =
the small answer's true correctness; MT-Bench, scorers fuzzy token_set 0.85 (auto's old pick) and 0.5 (a
lenient bar), label = GPT-4's grade of the small answer >= the large answer's - 1.

1. Per task: the scorer's agreement with the labels over the whole set (tiertool.decide.agreement).
2. Simulated audits, many seeds: each draws N requests i.i.d. from the task's rows (its traffic), labels each
   with probability pi, and decides H0 "labelled pass rate <= target" at level alpha three ways:
   all labels (the exact horizon test of the audit on every sample's label), the scorer alone (the same test
   on the scorer's verdicts) and PPI (the betting test on the rectified values, labels on ~pi N samples).
   Printed: how often each proves the bar, how often the scorer alone and PPI decide like the all-labels
   audit, and the PPI bound's coverage of the true labelled pass rate (P(bound <= truth), >= 1 - alpha
   required; the bound is the running intersection, so it covers at every stopping time at once).
   Rows with target = the true rate are the boundary: P(PPI proves) must be <= alpha there.

    .venv/bin/python benchmarks/bench_ppi.py [--seeds 200] [--data ../shared/data/routellm] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ALPHA = 0.05


def tasks(data: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """task (and scorer) -> (scorer verdicts, labels), one per row of the data set."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_scorers as b

    rows = b.read_gsm8k(data)
    numeric = b._scorer({"scorer": "numeric"})
    out = {"gsm8k / numeric": (
        np.array([numeric.score(b._context(r["prompt"], r["small"], r["large"])).passed for r in rows]),
        np.array([r["small_ok"] for r in rows]))}
    grades, _, _ = b.read_mt_bench(data)
    answers = b.mt_bench_answers(data)
    keys = sorted({(q, t) for q, t, _ in grades if (q, t, b.SMALL) in grades and (q, t, b.LARGE) in grades})
    labels = np.array([grades[(q, t, b.SMALL)] >= grades[(q, t, b.LARGE)] - 1 for q, t in keys])
    for threshold in (0.85, 0.5):
        fuzzy = b._scorer({"scorer": "fuzzy", "method": "token_set", "threshold": threshold})
        out[f"mt-bench / fuzzy token_set {threshold:g}"] = (np.array(
            [fuzzy.score(b._context("", answers[(q, t, b.SMALL)], answers[(q, t, b.LARGE)])).passed
             for q, t in keys]), labels)
    return out


def simulate(f: np.ndarray, y: np.ndarray, target: float, horizon: int, pi: float, seeds: int) -> dict[str, Any]:
    from tiertool.decide import ppi
    from tiertool.decide.horizon import design

    exact = design(target, horizon, ALPHA)
    truth = float(y.mean())
    moved = {"all labels": 0, "scorer alone": 0, "PPI": 0}
    agree = {"scorer alone": 0, "PPI": 0}
    covered, labels = 0, 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(y), horizon)
        fs, ys, xi = f[idx], y[idx], rng.random(horizon) < pi
        z = ppi.rectified(fs.astype(float), ys.astype(float).tolist(), xi, pi)
        got = {"all labels": exact.rejects(ys.tolist(), ALPHA), "scorer alone": exact.rejects(fs.tolist(), ALPHA),
               "PPI": ppi.p_value(z, pi, target, ALPHA) <= ALPHA}
        for k, v in got.items():
            moved[k] += v
        for k in agree:
            agree[k] += got[k] == got["all labels"]
        covered += ppi.lower_bound(z, pi, ALPHA) <= truth
        labels += int(xi.sum())
    return {"target": target, "horizon": horizon, "pi": pi, "labels": labels / seeds, "truth": truth,
            "moved": {k: v / seeds for k, v in moved.items()}, "agree": {k: v / seeds for k, v in agree.items()},
            "coverage": covered / seeds}


PLANS = {  # task -> (horizon, labelling probabilities, targets); the true rate is added as the boundary
    "gsm8k / numeric": (1000, (0.1, 0.2), (0.55, 0.6, 0.7)),
    "mt-bench / fuzzy token_set 0.85": (400, (0.25,), (0.7, 0.75, 0.85)),
    "mt-bench / fuzzy token_set 0.5": (400, (0.25,), (0.7, 0.75, 0.85)),
}


def run(data: Path, seeds: int) -> dict[str, Any]:
    from tiertool.decide.agreement import agreement

    out: dict[str, Any] = {"alpha": ALPHA, "seeds": seeds, "tasks": {}}
    for task, (f, y) in tasks(data).items():
        a = agreement(f, y)
        horizon, pis, targets = PLANS[task]
        sims = [simulate(f, y, t, horizon, pi, seeds) for pi in pis
                for t in sorted({*targets, round(float(y.mean()), 4)})]
        out["tasks"][task] = {"rows": len(y), "scorer_pass_rate": a.scorer_pass_rate,
                              "label_pass_rate": a.label_pass_rate, "kappa": a.kappa,
                              "kappa_interval": a.kappa_interval, "precision": a.precision,
                              "precision_interval": a.precision_interval, "recall": a.recall,
                              "recall_interval": a.recall_interval, "warning": a.warning, "simulations": sims}
    return out


def render(r: dict[str, Any]) -> str:
    lines = ["Scorer agreement with labels (all rows; 95% intervals: kappa percentile bootstrap, precision/recall "
             "Clopper-Pearson):", "", "| task | rows | scorer pass | label pass | kappa | precision | recall |",
             "|---|---:|---:|---:|---:|---:|---:|"]

    def ci(x: float | None, iv: Any, fmt: str) -> str:
        return "-" if x is None else f"{x:{fmt}} [{iv[0]:{fmt}}, {iv[1]:{fmt}}]"

    for task, t in r["tasks"].items():
        lines.append(f"| {task} | {t['rows']} | {t['scorer_pass_rate']:.1%} | {t['label_pass_rate']:.1%} | "
                     f"{ci(t['kappa'], t['kappa_interval'], '.2f')} | "
                     f"{ci(t['precision'], t['precision_interval'], '.0%')} | "
                     f"{ci(t['recall'], t['recall_interval'], '.0%')} |")
    lines += ["", f"Simulated audits ({r['seeds']} seeds each, level {r['alpha']}): share of seeds that prove the "
              "bar, share deciding like the all-labels audit, PPI bound coverage of the true labelled rate.", "",
              "| task | N | pi (labels) | target | true rate | proves: all labels / scorer / PPI | "
              "like all labels: scorer / PPI | PPI coverage |", "|---|---:|---:|---:|---:|---|---|---:|"]
    for task, t in r["tasks"].items():
        for s in t["simulations"]:
            m, a = s["moved"], s["agree"]
            mark = " (boundary)" if abs(s["target"] - s["truth"]) < 1e-3 else ""
            lines.append(f"| {task} | {s['horizon']} | {s['pi']:g} ({s['labels']:.0f}) | {s['target']:g}{mark} | "
                         f"{s['truth']:.3f} | {m['all labels']:.0%} / {m['scorer alone']:.0%} / {m['PPI']:.0%} | "
                         f"{a['scorer alone']:.0%} / {a['PPI']:.0%} | {s['coverage']:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "routellm")
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: real data not found at {args.data} (../shared/data/routellm beside the project); "
              "pass --data DIR", file=sys.stderr)
        return 2
    r = run(args.data, args.seeds)
    print(json.dumps(r, indent=2) if args.json else render(r), end="")
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    raise SystemExit(main())
