"""Decisions on real paired outputs: sequential sampling vs fixed-100 baselines, over 20 seeds.

    .venv/bin/python benchmarks/bench_decisions.py [--seeds 20] [--targets 0.8,0.85]

Task types: GSM8K (one type), MMLU subjects grouped into six domains, MT-Bench's eight categories (20 turns
each). Each request's label says whether the small model's answer is no worse than the large one's (see
routellm_tasks.py). Every audit goes through tiertool's own code: the seeded sample order (sample.py), the
family and rounds (decide/family.py, decide/rounds.py) and recommend; it sees only the labels it asks for.

Baselines on the same seeds and the same sample order: a fixed 100 samples per task type decided on the point
estimate, and a fixed 100 decided on the exact lower bound with the same multiple-testing correction. The
audit's sequential rounds (the issue-16 policy, tiertool/decide/sampling.py) run on the same order too, with each
task type's money at stake from these prices (decide/stakes.py; the log taken as one month) and a sample costing
the small model's price of the request.
Prices assumed (USD per million tokens, from litellm's bundled price map): Mixtral-8x7B $0.60 in / $0.60 out
(together_ai listing), GPT-4-1106-preview $10 in / $30 out. Tokens: 4 characters per token.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from routellm_tasks import LARGE, SMALL, Labelled, load  # noqa: E402

from tiertool.config import parse_config  # noqa: E402
from tiertool.decide.family import family_for  # noqa: E402
from tiertool.decide.recommendation import recommend  # noqa: E402
from tiertool.decide.rounds import Rounds  # noqa: E402
from tiertool.decide.sampling import PolicyRounds  # noqa: E402
from tiertool.decide.sequential import exact_lower_bound  # noqa: E402
from tiertool.ingest.sample import sample_key  # noqa: E402
from tiertool.records import Key, Result, Status, Usage  # noqa: E402
from tiertool.store import Audit, AuditMeta  # noqa: E402


def config_dict(target: float, sequential: bool) -> dict:
    return {"tiers": [{"name": "small", "model": SMALL}, {"name": "large", "model": LARGE}],
            "quality": {"target": target, "confidence": 0.95},
            "sample": {"sequential": sequential, "per_task": 100, "max_per_task": 400, "round": 20}}


def volume(tasks: dict[str, list[Labelled]]) -> dict[Key, Usage]:
    out = {}
    for task, rows in tasks.items():
        out[Key(task, LARGE, False, "")] = Usage(
            requests=len(rows), replayable=len(rows), input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows))
    return out


def audit(tasks: dict[str, list[Labelled]], seed: int, target: float, sequential: bool) -> tuple[Audit, int]:
    """Run tiertool's sampling rounds with the labels as the scorer; returns the audit and labels consumed."""
    cfg_d = config_dict(target, sequential)
    cfg = parse_config(cfg_d)
    order = {t: sorted(rows, key=lambda r: sample_key(seed, r.id))[: cfg.sample.cap] for t, rows in tasks.items()}
    fam = family_for({t: len(rows) for t, rows in tasks.items()}, cfg)
    rounds = Rounds(["small"], {t: len(v) for t, v in order.items()}, fam, target, sequential, cfg.sample.round,
                    cfg.sample.cap)
    results: list[Result] = []
    while plan := rounds.next():
        for task, (first, stop, _) in plan.items():
            batch = order[task][first:stop]
            results += [Result(r.id, r.id, task, "small", SMALL, "ref", "ans", float(r.passed), r.passed, "label",
                               "recorded", None, rounds.round) for r in batch]
            rounds.record(task, stop, {"small": [r.passed for r in batch]})
        rounds.finish_round()
    n = sum(map(len, tasks.values()))
    meta = AuditMeta(version="benchmark", config=cfg, logs=(), records=n, skipped=0, non_replayable=0, typing={},
                     task_sources={}, first_time=None, last_time=None, family=fam, calls=0, cache_hits=0, failed=0,
                     spend_usd=0.0, error=None, scorers={})
    tests = {(s.task, s.tier): s for s in rounds.states()}
    return Audit(Path("."), meta, volume(tasks), tuple(results), tests), len(results)


def fixed_100(tasks: dict[str, list[Labelled]], seed: int, target: float, bound: bool) -> tuple[set[str], int]:
    """The naive rules: 100 samples (or all there are) per task type; move on the point estimate, or on the
    exact lower bound Bonferroni-corrected over all task types."""
    alpha = 0.05 / len(tasks)
    moved, used = set(), 0
    for task, rows in tasks.items():
        sample = sorted(rows, key=lambda r: sample_key(seed, r.id))[:100]
        used += len(sample)
        k = sum(r.passed for r in sample)
        if (exact_lower_bound(k, len(sample), alpha) if bound else k / len(sample)) >= target:
            moved.add(task)
    return moved, used


def policy_audit(tasks: dict[str, list[Labelled]], seed: int, target: float, payback_months: float = 3.0
                 ) -> tuple[set[str], int, list[Status]]:
    """The audit's own sequential rounds (decide/sampling.py: the issue-16 policy, money from decide/stakes.py) on
    the labels, in the seeded sample order: moved tasks, labels consumed, statuses. Without the requests
    themselves (templates, tags, lengths) the sub-population check has no parts to test here."""
    cfg = parse_config({**config_dict(target, True), "sample": {"payback_months": payback_months}})
    order = {t: sorted(rows, key=lambda r: sample_key(seed, r.id)) for t, rows in tasks.items()}
    rounds = PolicyRounds(cfg, volume(tasks), {}, {t: len(rows) for t, rows in tasks.items()}, None, {})
    used = 0
    while plan := rounds.next():
        for (task, tier), (first, stop) in plan.items():
            rounds.record(task, tier, first, [(r.id, r.passed) for r in order[task][first:stop]])
            used += stop - first
        rounds.finish_round()
    statuses = list(rounds.statuses())
    return {st.task for st in statuses if st.kind == "proven"}, used, statuses


def savings_of(moved: set[str], tasks: dict[str, list[Labelled]], target: float) -> float:
    cfg = parse_config(config_dict(target, True))
    prices = {t.name: t.model for t in cfg.tiers}
    from tiertool.pricing.savings import project

    s = project(volume(tasks), {t: prices["small"] if t in moved else LARGE for t in tasks}, None)
    return s.saved_fraction


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--targets", default="0.8,0.85")
    args = ap.parse_args()
    rows = load()
    tasks: dict[str, list[Labelled]] = defaultdict(list)
    for r in rows:
        tasks[r.task].append(r)
    truth = {t: sum(r.passed for r in v) / len(v) for t, v in tasks.items()}
    print(f"{len(rows)} labelled requests in {len(tasks)} task types")
    for t in sorted(truth, key=lambda t: -truth[t]):
        print(f"  {t:24s} {len(tasks[t]):5d} requests, true pass rate {truth[t]:.3f}")
    oracle_moved = None
    for target in (float(x) for x in args.targets.split(",")):
        oracle_moved = {t for t, p in truth.items() if p >= target}
        best = savings_of(oracle_moved, tasks, target)
        # the per-request oracle: every request whose small answer passes goes to the small tier
        per_request = sum(truth[t] * savings_of({t}, tasks, target) for t in tasks)
        stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        undecided: dict[str, list[Status]] = defaultdict(list)
        t0 = time.perf_counter()
        for seed in range(args.seeds):
            a, used = audit(tasks, seed, target, True)
            moved = {d.task for d in recommend(a).decisions if d.tier == "small"}
            _collect(stats["today: mixture test, cap 400"], moved, used, truth, target, tasks, best)
            moved, used, statuses = policy_audit(tasks, seed, target)
            _collect(stats["new: the audit's policy, payback 3 months"], moved, used, truth, target, tasks, best)
            for st in statuses:
                undecided[st.task].append(st)
            moved, used, _ = policy_audit(tasks, seed, target, payback_months=1.0)
            _collect(stats["new: the audit's policy, payback 1 month"], moved, used, truth, target, tasks, best)
            for name, bound in (("fixed-100, lower bound", True), ("fixed-100, point estimate", False)):
                moved, used = fixed_100(tasks, seed, target, bound)
                _collect(stats[name], moved, used, truth, target, tasks, best)
        print(f"\ntarget {target:g}, confidence 0.95, {args.seeds} seeds ({time.perf_counter() - t0:.1f}s); "
              f"task types truly at or above the target: {', '.join(sorted(oracle_moved)) or 'none'} "
              f"(saving {best:.1%} if all of them moved; the per-request oracle saves {per_request:.1%})")
        print("| method | saved (mean) | share of best task-level saving | share of per-request oracle | "
              "false-downgrade rate (seeds with any) | false downgrades per seed | labelled samples (mean) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        base = statistics.mean(stats["fixed-100, lower bound"]["samples"])
        for name, s in stats.items():
            print(f"| {name} | {statistics.mean(s['saved']):.1%} | {statistics.mean(s['captured']):.0%} | "
                  f"{statistics.mean(s['saved']) / per_request:.0%} | "
                  f"{statistics.mean(s['any_false']):.0%} | {statistics.mean(s['false']):.2f} | "
                  f"{statistics.mean(s['samples']):.0f} ({statistics.mean(s['samples']) / base - 1:+.0%}) |")
        _why(undecided, truth, tasks, target)


def _why(statuses: dict[str, list[Status]], truth: dict[str, float], tasks: dict[str, list[Labelled]],
         target: float) -> None:
    """What the policy said about each task type it did not move, over the seeds."""
    print(f"\npolicy (issue 16), target {target:g}: task types not moved in some seed, and what a proof would need")
    print("| task type | true pass rate | requests | seeds moved | statuses otherwise | samples a proof would need "
          "(median) |\n|---|---:|---:|---:|---|---:|")
    for task in sorted(statuses, key=lambda t: -truth[t]):
        rest = [st for st in statuses[task] if st.kind != "proven"]
        if not rest:
            continue
        kinds = ", ".join(f"{k} {sum(st.kind == k for st in rest)}" for k in sorted({st.kind for st in rest}))
        needs = [st.samples + st.more_samples for st in rest if st.more_samples is not None]
        need = f"{statistics.median(needs):,.0f}" if needs else "none: observed rate under the target"
        print(f"| {task} | {truth[task]:.3f} | {len(tasks[task])} | {len(statuses[task]) - len(rest)} | {kinds} | "
              f"{need} |")


def _collect(s: dict[str, list[float]], moved: set[str], used: int, truth: dict[str, float], target: float,
             tasks: dict[str, list[Labelled]], best: float) -> None:
    false = [t for t in moved if truth[t] < target]
    saved = savings_of(moved, tasks, target)
    s["saved"].append(saved)
    s["captured"].append(saved / best if best else 0.0)
    s["false"].append(len(false))
    s["any_false"].append(1.0 if false else 0.0)
    s["samples"].append(used)


if __name__ == "__main__":
    main()
