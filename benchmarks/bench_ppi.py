"""Labels on a few, a cheap scorer on all: scorer agreement and prediction-powered bounds on real data.

On ../shared/data/routellm (read where it lies): GSM8K, scorer `numeric` (small answer vs large answer), label =
the small answer's true correctness; MT-Bench, scorers fuzzy token_set 0.85 (auto's old pick) and 0.5 (a
lenient bar), label = GPT-4's grade of the small answer >= the large answer's - 1.

1. Per task: the scorer's agreement with the labels over the whole set (tiertool.decide.agreement).
2. Audits by the audit's own sampling policy (decide/policy.py: its rounds, stopping rules, Holm family), many
   seeds: each draws N requests i.i.d. from the task's rows (its traffic), labels each with probability pi, and
   runs three audits of H0 "labelled pass rate <= target" at level alpha on the same draws: all labels (the
   policy's exact test on every sample's label), the scorer alone (the same test on the scorer's verdicts) and
   PPI (the policy's prediction-powered test, fed exactly as `tiertool audit` feeds a prediction_powered task).
   Printed: how often each proves the bar, how often the scorer alone and PPI decide like the all-labels audit,
   the PPI bound's coverage of the true labelled pass rate (the bound the decision reports, at its level; >=
   1 - alpha required), and the samples and labels the PPI audit spent. Rows with target = the true rate are
   the boundary.
3. `--boundary-seeds S`: five tasks (`--boundary-family`) all exactly at the target in one audit: the
   family-wise false-proof rate of all labels and PPI over S seeds (<= alpha required), and for all labels its
   exact upper bound.

    .venv/bin/python benchmarks/bench_ppi.py [--seeds 200] [--boundary-seeds 400] [--only-boundary]
                                             [--data ../shared/data/routellm] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tiertool.decide.policy import Policy

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


MODES = ("all labels", "scorer alone", "PPI")
VALUE, COST = 100.0, 0.01  # per arm: a proof's monthly saving and one sample's cost (the cap is the traffic)


def audit(streams: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], target: float, mode: str, pi: float
          ) -> Policy:
    """One sequential audit by the audit's own policy (decide/policy.py) over tasks whose sample i has the
    scorer's verdict f_i, the label y_i and the labelling coin xi_i: "all labels" tests y, "scorer alone" f,
    "PPI" the rectified values (the label where xi_i, else the scorer), exactly as `tiertool audit` records a
    prediction_powered task (ppi.values on its graded results)."""
    from tiertool.decide import ppi
    from tiertool.decide.policy import Arm, Policy, Settings
    from tiertool.records import Result
    from tiertool.scorers.drawn import JUDGE_LABEL

    arms = [Arm(task, "small", 0, VALUE, COST, pi if mode == "PPI" else None) for task in streams]
    pol = Policy(arms, {task: len(f) for task, (f, _, _) in streams.items()}, Settings(target, 1 - ALPHA))
    while plan := pol.plan():
        for (task, tier), (first, stop) in plan.items():
            f, y, xi = (a[first:stop] for a in streams[task])
            if mode != "PPI":
                pol.record(task, tier, first, list(y if mode == "all labels" else f))
                continue
            rows = [Result("", "", task, tier, "", None, None, None, bool(yi if x else fi),
                           f"{JUDGE_LABEL}: sim" if x else "sim", "sim", scorer_passed=bool(fi) if x else None)
                    for fi, yi, x in zip(f, y, xi, strict=True)]
            pol.record(task, tier, first, [bool(r.passed) for r in rows], ppi.values(rows, pi))
        pol.settle()
    return pol


def draw(f: np.ndarray, y: np.ndarray, horizon: int, pi: float, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A task's traffic: `horizon` requests drawn i.i.d. from the data set's rows, each labelled with chance pi."""
    idx = rng.integers(0, len(y), horizon)
    return f[idx], y[idx], rng.random(horizon) < pi


def simulate(f: np.ndarray, y: np.ndarray, target: float, horizon: int, pi: float, seeds: int) -> dict[str, Any]:
    """One task, three audits per seed on the same draws: how often each proves the bar, how often the scorer
    alone and PPI decide like the all-labels audit, the PPI bound's coverage of the true labelled rate (the bound
    the decision reports, at its level), and the samples and labels the PPI audit took."""
    truth = float(y.mean())
    moved, agree = dict.fromkeys(MODES, 0), {"scorer alone": 0, "PPI": 0}
    covered, samples, labels = 0, 0, 0
    for seed in range(seeds):
        streams = {"t": draw(f, y, horizon, pi, np.random.default_rng(seed))}
        pols = {mode: audit(streams, target, mode, pi) for mode in MODES}
        got = {mode: pol.tests[("t", "small")].kind == "proven" for mode, pol in pols.items()}
        for k, v in got.items():
            moved[k] += v
        for k in agree:
            agree[k] += got[k] == got["all labels"]
        n = pols["PPI"].tests[("t", "small")].n
        covered += (pols["PPI"].lower_bound("t", "small") or 0.0) <= truth
        samples, labels = samples + n, labels + int(streams["t"][2][:n].sum())
    return {"target": target, "horizon": horizon, "pi": pi, "labels": labels / seeds, "samples": samples / seeds,
            "truth": truth, "moved": {k: v / seeds for k, v in moved.items()},
            "agree": {k: v / seeds for k, v in agree.items()}, "coverage": covered / seeds}


def boundary(f: np.ndarray, y: np.ndarray, horizon: int, pi: float, seeds: int, family: int = 5) -> dict[str, Any]:
    """`family` tasks, every one exactly at the target (target = its true labelled rate, so every H0 is true):
    the family-wise false-proof rate of the audit's policy (weighted Holm over the family) for all labels and
    PPI, over `seeds` seeds, with a 95% Clopper-Pearson upper end; and for all labels the exact chance that any
    of the family's tests ever crosses its first Holm level within its horizon (dynamic programming over
    the pass counts, independent tasks: an upper bound on the policy's rate, which may stop earlier)."""
    from scipy.stats import binomtest

    from tiertool.decide.horizon import design

    truth = float(y.mean())
    errors = dict.fromkeys(("all labels", "PPI"), 0)
    for seed in range(seeds):
        rng = np.random.default_rng(10_000 + seed)
        streams = {f"t{i}": draw(f, y, horizon, pi, rng) for i in range(family)}
        for mode in errors:
            errors[mode] += bool(audit(streams, truth, mode, pi).holm.proven)
    d = design(truth, horizon, ALPHA / family)
    one = d.crossing(d.boundary(d.threshold(ALPHA / family)), truth)[0]
    return {"family": family, "horizon": horizon, "pi": pi, "truth": truth, "seeds": seeds,
            "rate": {k: v / seeds for k, v in errors.items()},
            "upper95": {k: float(binomtest(v, seeds).proportion_ci(0.95, method="exact").high)
                        for k, v in errors.items()},
            "exact all labels": 1 - (1 - one) ** family}


PLANS = {  # task -> (horizon, labelling probabilities, targets); the true rate is added as the boundary
    "gsm8k / numeric": (1000, (0.1, 0.2), (0.55, 0.6, 0.7)),
    "mt-bench / fuzzy token_set 0.85": (400, (0.25,), (0.7, 0.75, 0.85)),
    "mt-bench / fuzzy token_set 0.5": (400, (0.25,), (0.7, 0.75, 0.85)),
}


BOUNDARY = {"gsm8k / numeric": (1000, 0.2), "mt-bench / fuzzy token_set 0.5": (400, 0.25)}  # (horizon, pi)


def run(data: Path, seeds: int, boundary_seeds: int = 0, table: bool = True, family: int = 5) -> dict[str, Any]:
    from tiertool.decide.agreement import agreement

    out: dict[str, Any] = {"alpha": ALPHA, "seeds": seeds, "tasks": {}, "boundary": {}}
    for task, (f, y) in tasks(data).items():
        if boundary_seeds and task in BOUNDARY:
            out["boundary"][task] = boundary(f, y, *BOUNDARY[task], boundary_seeds, family)
        a = agreement(f, y)
        horizon, pis, targets = PLANS[task]
        sims = [simulate(f, y, t, horizon, pi, seeds) for pi in pis
                for t in sorted({*targets, float(y.mean())})] if table else []
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
    lines += ["", f"Audits by the audit's own policy ({r['seeds']} seeds each, level {r['alpha']}): share of seeds "
              "that prove the bar, share deciding like the all-labels audit, PPI bound coverage of the true labelled "
              "rate, the PPI audit's mean samples and labels.", "",
              "| task | traffic | pi | target | true rate | proves: all labels / scorer / PPI | "
              "like all labels: scorer / PPI | PPI coverage | PPI samples (labels) |",
              "|---|---:|---:|---:|---:|---|---|---:|---:|"]
    for task, t in r["tasks"].items():
        for s in t["simulations"]:
            m, a = s["moved"], s["agree"]
            mark = " (boundary)" if abs(s["target"] - s["truth"]) < 1e-9 else ""
            lines.append(f"| {task} | {s['horizon']} | {s['pi']:g} | {s['target']:.4g}{mark} | {s['truth']:.3f} | "
                         f"{m['all labels']:.0%} / {m['scorer alone']:.0%} / {m['PPI']:.0%} | "
                         f"{a['scorer alone']:.0%} / {a['PPI']:.0%} | {s['coverage']:.1%} | "
                         f"{s['samples']:.0f} ({s['labels']:.0f}) |")
    if r["boundary"]:
        family = next(iter(r["boundary"].values()))["family"]
        lines += ["", f"Family-wise false-proof rate at the boundary ({family} tasks, each exactly at the target; "
                  "the policy's weighted Holm family; 95% Clopper-Pearson upper end; exact: P(any test crosses its "
                  "first Holm level within its horizon), all labels):", "",
                  "| task | traffic | pi | seeds | all labels | exact all labels | PPI |",
                  "|---|---:|---:|---:|---|---:|---|"]
        for task, b in r["boundary"].items():
            rate, up = b["rate"], b["upper95"]
            lines.append(f"| {task} | {b['horizon']} | {b['pi']:g} | {b['seeds']} | {rate['all labels']:.2%} "
                         f"[{up['all labels']:.2%}] | {b['exact all labels']:.2%} | {rate['PPI']:.2%} "
                         f"[{up['PPI']:.2%}] |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "routellm")
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--boundary-seeds", type=int, default=0, help="also the family-wise rate at the boundary")
    ap.add_argument("--only-boundary", action="store_true", help="skip the table of decisions")
    ap.add_argument("--boundary-family", type=int, default=5, help="tasks at the boundary in one audit")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: real data not found at {args.data} (../shared/data/routellm beside the project); "
              "pass --data DIR", file=sys.stderr)
        return 2
    r = run(args.data, args.seeds, args.boundary_seeds, not args.only_boundary, args.boundary_family)
    print(json.dumps(r, indent=2) if args.json else render(r), end="")
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    raise SystemExit(main())
