"""Per-request gate on real paired outputs: does the traffic it routes pass, and what does it save? 20 seeds.

    .venv/bin/python benchmarks/bench_gate.py [--seeds 20] [--targets 0.8,0.85] [--learn 400] [--cap 600]

Task types, pass labels and prices as in bench_decisions.py (routellm_tasks.py): a request passes when the
small model (Mixtral-8x7B) is no worse than the large one (GPT-4-1106). Per seed, through tiertool.gate's own
steps: each task type's requests in the seeded sample order the audit uses (tiertool.ingest.sample.sample_key); the
gate learns from the first --learn of each (the audit's sample, max_per_task 400), plans, asks for at most --cap
fresh samples per tested task type, calibrates on them at confidence 0.95, and is then judged on every request
it never saw: in a seed, every task type's routed unseen traffic must pass at least the target. The saving is
over the whole log (every request priced at the model the gate picks), as the per-task figures are.
Then the latency of `route` on one request at a time, with the gate loaded once from its file, beside sklearn's
own transform of the same request (the batch path the gate's scorer replaces) on the same inputs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decisions import audit, recommend  # noqa: E402
from routellm_tasks import LARGE, SMALL, Labelled, load  # noqa: E402

from tiertool import gate  # noqa: E402
from tiertool.ingest.sample import sample_key  # noqa: E402
from tiertool.pricing.prices import lookup  # noqa: E402

CONFIDENCE = 0.95


def known(r: Labelled) -> gate.Known:
    return ([{"role": "user", "content": r.prompt}], {}, r.task)


def costs(rows: list[Labelled]) -> tuple[np.ndarray, np.ndarray]:
    """Per request: USD at the large (reference) model and at the small one (litellm's price map)."""
    large, small = lookup(LARGE), lookup(SMALL)
    assert large and small, "litellm's price map lacks a benchmark model"
    return (np.array([large.cost(r.input_tokens, r.output_tokens) for r in rows]),
            np.array([small.cost(r.input_tokens, r.output_tokens) for r in rows]))


def one_seed(rows: list[Labelled], seed: int, targets: list[float], learn_n: int, cap: int,
             ref: np.ndarray, cheap: np.ndarray) -> dict[float, dict]:
    """Learn once, then plan, calibrate and judge the gate at each target; what the gate saw is tracked by id."""
    index = {r.id: i for i, r in enumerate(rows)}
    order: dict[str, list[Labelled]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: sample_key(seed, r.id)):
        order[r.task].append(r)
    learning = [r for task_rows in order.values() for r in task_rows[:learn_n]]
    learned = gate.learn([known(r) for r in learning], [r.passed for r in learning], seed)
    scores = learned.predictor.scores([known(r) for r in rows])
    task_of = np.array([r.task for r in rows])
    passed = np.array([r.passed for r in rows])
    value = {t: float((ref - cheap)[task_of == t].sum()) for t in order}
    out = {}
    for target in targets:
        available = {t: len(v) - min(learn_n, len(v)) for t, v in order.items()}
        plan = gate.plan(learned.curves, available, value, target, CONFIDENCE, cap)
        fresh = {t: order[t][learn_n:learn_n + tp.calibrate] for t, tp in plan.tasks.items()}
        cals = gate.calibrate(learned, plan, {t: ([known(r) for r in v], [r.passed for r in v])
                                              for t, v in fresh.items()})
        g = gate.build(learned.predictor, plan, cals, SMALL, LARGE)
        seen = np.zeros(len(rows), dtype=bool)
        seen[[index[r.id] for r in learning + [r for v in fresh.values() for r in v]]] = True
        thresholds = np.array([g.tasks[t].threshold if t in g.tasks and g.tasks[t].threshold is not None
                               else np.inf for t in task_of])
        routed = scores >= thresholds
        judged = routed & ~seen
        per_task = {}
        for t in order:
            m = judged & (task_of == t)
            per_task[t] = (float((routed & (task_of == t)).sum() / (task_of == t).sum()),
                           float(passed[m].mean()) if m.any() else None, g.tasks[t].lower_bound if t in g.tasks
                           else None, int(m.sum()))
        out[target] = {
            "saved": float((ref - cheap)[routed].sum() / ref.sum()),
            "valid": all(rate is None or rate >= target for _, rate, _, _ in per_task.values()),
            "pooled": float(passed[judged].mean()) if judged.any() else None,
            "samples": int(seen.sum()), "per_task": per_task, "gate": g,
            "needed": {t: gate.needed(learned, plan, t, cals.get(t)) for t in order
                       if t not in cals or cals[t].threshold is None},
        }
    return out


def latency(g: gate.Gate, rows: list[Labelled]) -> None:
    """p50/p99 of route() per request with the gate loaded once from its file, beside sklearn's transform."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer

    from tiertool.gate.features import TEXT_OPTIONS, facts_of, text_of

    with tempfile.TemporaryDirectory() as tmp:
        path = g.save(Path(tmp) / "gate.json")
        size = path.stat().st_size
        t0 = time.perf_counter()
        loaded = gate.load(path)
        load_s = time.perf_counter() - t0
    p = loaded.predictor
    vocab = sorted(p.terms)
    words = TfidfVectorizer(**TEXT_OPTIONS, vocabulary=vocab)
    words.idf_ = np.array([p.terms[t][0] for t in vocab])
    named = DictVectorizer()
    named.fit([dict.fromkeys(p.facts, 1.0)])
    coef = np.concatenate([[p.terms[t][1] for t in vocab], [p.facts[f] for f in named.get_feature_names_out()]])
    sample = [known(r) for r in rows[:2000]]
    loaded.route(*sample[0])  # first call builds the analyzer's regex; a proxy pays it once at start-up
    ours, cpu, theirs, diff = [], [], [], 0.0
    for messages, params, task in sample:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        loaded.route(messages, params, task)
        ours.append(time.perf_counter_ns() - t0)
        cpu.append(time.thread_time_ns() - c0)
        t0 = time.perf_counter_ns()
        text = text_of(messages)
        x = hstack([words.transform([text]), named.transform([facts_of(text, messages, params, task)])]).tocsr()
        margin = float((x @ coef)[0]) + p.intercept
        theirs.append(time.perf_counter_ns() - t0)
        diff = max(diff, abs(1 / (1 + np.exp(-margin)) - p.score(messages, params, task)))

    def row(name: str, v: list[int]) -> str:
        return f"| {name} | {np.percentile(v, 50) / 1e6:.3f} | {np.percentile(v, 99) / 1e6:.3f} | {max(v) / 1e6:.3f} |"

    print(f"\nlatency of route() on {len(sample)} real requests, one at a time (gate file {size / 1e6:.1f} MB, "
          f"loaded once in {load_s * 1e3:.0f} ms). Wall time includes waiting for a core on a shared machine; "
          "CPU time is the work itself:")
    print("| path | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|")
    print(row("gate.route, wall (loaded from file)", ours))
    print(row("gate.route, CPU of the calling thread", cpu))
    print(row("sklearn transform + dot, wall (baseline)", theirs))
    print(f"p50 ratio gate / baseline: {np.percentile(ours, 50) / np.percentile(theirs, 50):.2f}; largest "
          f"|P(pass)| difference between the two: {diff:.1e}")

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--targets", default="0.8,0.85")
    ap.add_argument("--learn", type=int, default=400, help="learning samples per task type (the audit's cap)")
    ap.add_argument("--cap", type=int, default=600, help="most fresh calibration samples per task type")
    args = ap.parse_args()
    rows = load()
    targets = [float(x) for x in args.targets.split(",")]
    ref, cheap = costs(rows)
    task_of = np.array([r.task for r in rows])
    passed = np.array([r.passed for r in rows])
    tasks = sorted(set(task_of.tolist()), key=lambda t: -(task_of == t).sum())
    truth = {t: float(passed[task_of == t].mean()) for t in tasks}
    by_task: dict[str, list[Labelled]] = defaultdict(list)
    for r in rows:
        by_task[r.task].append(r)
    print(f"{len(rows)} labelled requests in {len(tasks)} task types; learning {args.learn} per task type, at most "
          f"{args.cap} fresh calibration samples per tested task type, confidence {CONFIDENCE}")
    results: dict[float, list[dict]] = defaultdict(list)
    proven: dict[float, list[float]] = defaultdict(list)
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        for target, res in one_seed(rows, seed, targets, args.learn, args.cap, ref, cheap).items():
            results[target].append(res)
            a, _ = audit(by_task, seed, target, True)
            moved = {d.task for d in recommend(a).decisions if d.tier == "small"}
            proven[target].append(float((ref - cheap)[np.isin(task_of, list(moved))].sum() / ref.sum()))
        print(f"seed {seed}: " + ", ".join(f"target {t:g} saved {results[t][-1]['saved']:.1%}" for t in targets),
              file=sys.stderr, flush=True)
    print(f"({time.perf_counter() - t0:.0f}s for {args.seeds} seeds)")
    oracle = float((ref - cheap)[passed].sum() / ref.sum())
    for target in targets:
        res = results[target]
        best = {t for t in tasks if truth[t] >= target}
        per_task_best = float((ref - cheap)[np.isin(task_of, list(best))].sum() / ref.sum())
        valid = sum(r["valid"] for r in res)
        pooled = [r["pooled"] for r in res if r["pooled"] is not None]
        print(f"\ntarget {target:g}, confidence {CONFIDENCE}, {len(res)} seeds")
        print("| method | saved (mean) | saved (min .. max) | seeds whose routed unseen traffic passed in every task "
              "type | labelled samples (mean) |\n|---|---:|---:|---:|---:|")
        saved = [r["saved"] for r in res]
        print(f"| gate (tiertool.gate) | {statistics.mean(saved):.1%} | {min(saved):.1%} .. {max(saved):.1%} | "
              f"{valid}/{len(res)} ({valid / len(res):.0%}) | {statistics.mean(r['samples'] for r in res):.0f} |")
        print(f"| proven per-task assignment (tiertool audit) | {statistics.mean(proven[target]):.1%} | "
              f"{min(proven[target]):.1%} .. {max(proven[target]):.1%} | - | - |")
        print(f"| best possible per-task assignment (knows every label) | {per_task_best:.1%} | - | - | - |")
        print(f"| per-request oracle (knows every label) | {oracle:.1%} | - | - | - |")
        if pooled:
            print(f"pooled pass rate of all routed unseen traffic: mean {statistics.mean(pooled):.3f}, "
                  f"min {min(pooled):.3f}")
        print("| task type | requests | true pass rate | best per-task moves it | gate routes (mean share) | "
              "proven pass rate (mean, when routed) | unseen routed pass rate (min over seeds) | seeds routing "
              "any |\n|---|---:|---:|:---:|---:|---:|---:|---:|")
        for t in tasks:
            shares = [r["per_task"][t][0] for r in res]
            bounds = [r["per_task"][t][2] for r in res if r["per_task"][t][2] is not None]
            rates = [r["per_task"][t][1] for r in res if r["per_task"][t][1] is not None]
            print(f"| {t} | {(task_of == t).sum()} | {truth[t]:.3f} | {'yes' if t in best else ''} | "
                  f"{statistics.mean(shares):.1%} | {statistics.mean(bounds) if bounds else float('nan'):.3f} | "
                  f"{min(rates) if rates else float('nan'):.3f} | {len(bounds)} |")
        print("samples needed to prove the unrouted task types (seed 0, 80% chance; fresh calibration samples, "
              "share it would route): " + "; ".join(
                  f"{t}: {'none would' if n is None else f'{n[0]} ({n[1]:.0%})'}"
                  for t, n in results[target][0]["needed"].items()))
    latency(results[targets[0]][0]["gate"], [r for r in rows if not r.task.startswith("mtbench")][::7])


if __name__ == "__main__":
    main()
