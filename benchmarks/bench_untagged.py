"""Decisions on real paired outputs when nothing tags the traffic: inferred task types and the sub-population check.

    .venv/bin/python benchmarks/bench_untagged.py [--seeds 20] [--targets 0.8,0.85]

The requests are those of bench_decisions.py (../shared/data/routellm, the same pass labels, tokens and prices),
with their prompts as RouteLLM sent them (bench_typing.py: each MMLU question under its subject's header,
GSM8K as "Question: ... Answer:", MT-Bench's turns as free-form prompts). Runs, each over the same seeds:

- tagged: bench_decisions' task types (GSM8K, six MMLU domains, eight MT-Bench categories) as task tags;
- untagged: no task key; one JSONL log read by tiertool's reader, so the task types are the ones template
  inference finds (MT-Bench's free-form prompts stay in "untagged");
each with and without the sub-population check (decide/subpop.py). Every audit goes through tiertool's seeded
sample order, family, rounds and recommend, and sees only the labels it asks for.

Each log is read in `--orders` shuffled orders (seeds 0.., default 3) and the script stops if any order types a
request differently. An audit's decisions then depend only on each request's task type and the seed (its
sample order is a seeded hash of the request id), so the seeds reuse the first order's reading.

"True tasks" are the finest ones the data has: each MMLU subject, GSM8K, each MT-Bench category. A wrong
downgrade is a true task whose pass rate is below the target with any request routed to the cheaper tier.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decisions import config_dict  # noqa: E402
from bench_typing import rows as prompt_rows  # noqa: E402
from routellm_tasks import LARGE, SMALL, Labelled, load  # noqa: E402

from tiertool.config import parse_config  # noqa: E402
from tiertool.decide.family import family_for  # noqa: E402
from tiertool.decide.recommendation import recommend  # noqa: E402
from tiertool.decide.rounds import Rounds  # noqa: E402
from tiertool.decide.subpop import SubPopulations  # noqa: E402
from tiertool.ingest import read_logs  # noqa: E402
from tiertool.ingest.sample import sample_key  # noqa: E402
from tiertool.pricing.savings import project  # noqa: E402
from tiertool.records import Key, Request, Result, Usage  # noqa: E402
from tiertool.store import Audit, AuditMeta  # noqa: E402


def requests(labelled: dict[str, Labelled], tagged: bool, orders: int) -> list[Request]:
    """Every request with its prompt and tokens; tagged: with its bench_decisions task type as a task tag;
    untagged: task types inferred. Read back from a JSONL log in `orders` shuffled orders, which must agree."""
    import random

    rows = prompt_rows()
    for r in rows:
        lab = labelled[r["id"]]
        r["response"] = {"choices": [{"message": {"role": "assistant", "content": "-"}}],
                         "usage": {"prompt_tokens": lab.input_tokens, "completion_tokens": lab.output_tokens}}
        r.pop("_true")
        if tagged:
            r["tags"] = [f"task:{lab.task}"]
    first: list[Request] = []
    for order in range(orders):
        random.Random(order).shuffle(rows)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "log.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            reader = read_logs([path])
            out = [replace(r, task=reader.renames.get(r.task, r.task)) for r in reader]
        if first and {r.id: r.task for r in out} != {r.id: r.task for r in first}:
            sys.exit(f"{'tagged' if tagged else 'untagged'} log: order {order} typed requests unlike order 0")
        first = first or out
    return first


def run(reqs: list[Request], labels: dict[str, bool], seed: int, target: float, check: bool
        ) -> tuple[set[str], int, list]:
    """One audit on the labels: (moved task types, labels used, the sub-population tests)."""
    cfg = parse_config(config_dict(target, True))
    by: dict[str, list[Request]] = defaultdict(list)
    for r in reqs:
        by[r.task].append(r)
    order = {t: sorted(rs, key=lambda r: sample_key(seed, r.id))[: cfg.sample.cap] for t, rs in by.items()}
    fam = family_for({t: len(rs) for t, rs in by.items()}, cfg)
    parts = SubPopulations({t: order[t] for t in fam.tested}, target) if check else None
    rounds = Rounds(["small"], {t: len(v) for t, v in order.items()}, fam, target, True, cfg.sample.round,
                    cfg.sample.cap, parts)
    results: list[Result] = []
    while plan := rounds.next():
        for task, (first, stop, _) in plan.items():
            batch = order[task][first:stop]
            ok = [labels[r.id] for r in batch]
            results += [Result(r.id, r.id, task, "small", SMALL, "ref", "ans", float(p), p, "label", "recorded",
                               None, rounds.round) for r, p in zip(batch, ok, strict=True)]
            rounds.record(task, stop, {"small": ok}, {"small": [r.id for r in batch]})
        rounds.finish_round()
    volume = {Key(t, LARGE, False, ""): Usage(len(rs), len(rs), sum(r.input_tokens for r in rs),
                                              sum(r.output_tokens for r in rs)) for t, rs in by.items()}
    tests = parts.all_tests(fam.alpha) if parts is not None else ()
    meta = AuditMeta(version="benchmark", config=cfg, logs=(), records=len(reqs), skipped=0, non_replayable=0,
                     typing={}, task_sources={}, first_time=None, last_time=None, family=fam, calls=0, cache_hits=0,
                     failed=0, spend_usd=0.0, error=None, scorers={}, subpopulations=tests)
    audit = Audit(Path("."), meta, volume, tuple(results), {(s.task, s.tier): s for s in rounds.states()})
    return {d.task for d in recommend(audit).decisions if d.tier == "small"}, len(results), list(tests)


def true_task(rid: str, labelled: dict[str, Labelled]) -> str:
    return labelled[rid].task if rid.startswith(("gsm8k", "mtbench")) else rid.rsplit("-", 1)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--targets", default="0.8,0.85")
    ap.add_argument("--orders", type=int, default=3, help="shuffled orders each log is read in (they must agree)")
    args = ap.parse_args()
    labelled = {r.id: r for r in load()}
    labels = {i: r.passed for i, r in labelled.items()}
    members: dict[str, list[str]] = defaultdict(list)
    for i in labelled:
        members[true_task(i, labelled)].append(i)
    truth = {t: statistics.mean(labels[i] for i in ids) for t, ids in members.items()}
    tokens = {i: (r.input_tokens, r.output_tokens) for i, r in labelled.items()}
    every = {i: Usage(1, 1, *tokens[i]) for i in labelled}
    full = project({Key("all", LARGE, False, ""): sum(every.values(), Usage())}, {"all": SMALL}, None)
    print(f"{len(labelled)} labelled requests, {len(members)} true task types", flush=True)
    targets = [float(x) for x in args.targets.split(",")]
    stats: dict[float, dict[str, dict[str, list[float]]]] = {t: defaultdict(lambda: defaultdict(list)) for t in targets}
    splits: dict[float, Counter[str]] = {t: Counter() for t in targets}
    logs = {tagged: requests(labelled, tagged, args.orders) for tagged in (True, False)}
    print(f"each log read in {args.orders} shuffled orders: the same task types in each", flush=True)
    for seed in range(args.seeds):
        for tagged, reqs in logs.items():
            task_of = {r.id: r.task for r in reqs}
            for target in targets:
                weak = {t for t, p in truth.items() if p < target}
                for check in (False, True):
                    name = f"{'tagged' if tagged else 'untagged'}, {'with' if check else 'without'} the check"
                    moved, used, tests = run(reqs, labels, seed, target, check)
                    small = [i for i, t in task_of.items() if t in moved]
                    cost = project({Key("x", LARGE, False, ""): sum((every[i] for i in small), Usage())},
                                   {"x": SMALL}, None)
                    wrong = {true_task(i, labelled) for i in small} & weak
                    s = stats[target][name]
                    s["saved"].append((cost.current_usd - cost.projected_usd) / full.current_usd)
                    s["wrong"].append(1.0 if wrong else 0.0)
                    s["wrong_share"].append(sum(true_task(i, labelled) in weak for i in small) / len(labelled))
                    s["samples"].append(used)
                    s["tasks"].append(len(set(task_of.values())))
                    splits[target].update(f"{name}: {p.feature} ({p.state})" for p in tests)
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    for target in targets:
        weak = {t for t, p in truth.items() if p < target}
        base = statistics.mean(stats[target]["tagged, without the check"]["saved"])
        print(f"\ntarget {target:g}, confidence 0.95, {args.seeds} seeds; true tasks below the target: {len(weak)}")
        print("| run | task types | saved (mean) | vs tagged run | seeds with a true task below the target routed "
              "cheaper | requests of such tasks routed cheaper | labelled samples (mean) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, s in stats[target].items():
            saved = statistics.mean(s["saved"])
            print(f"| {name} | {statistics.mean(s['tasks']):.0f} | {saved:.2%} | "
                  f"{saved / base if base else float('nan'):.0%} | {statistics.mean(s['wrong']):.0%} | "
                  f"{statistics.mean(s['wrong_share']):.2%} | {statistics.mean(s['samples']):.0f} |")
        print("parts tested apart (over all seeds): "
              + (", ".join(f"{k} x{v}" for k, v in sorted(splits[target].items())) or "none"))


if __name__ == "__main__":
    main()
