"""Template inference on untagged real prompts: does it find the true task types, whatever the line order?

    .venv/bin/python benchmarks/bench_typing.py [--orders 5] [--semantic]

The log (needs ../shared/data/routellm, read where it lies): every MMLU test question sent with its subject's
header and GSM8K's questions in their "Question: ... Answer:" form, as RouteLLM's generate_responses.py sent
them (without the few-shot examples, which ../shared does not hold), and MT-Bench's 160 turns as free-form
prompts. True task types: the 57 MMLU subjects, GSM8K, and MT-Bench's categories. Each order is one log file,
read by tiertool's reader: shuffled (seeds 0..orders-1), MT-Bench first then shuffled, and sorted by task.

Figures (on the templated requests: MMLU and GSM8K): adjusted Rand index against the true task types (an untyped
request is a group of its own), purity (share of typed requests whose group's majority task is theirs), the
worst group's purity, and coverage; MT-Bench requests put into a template group; whether every order gave the
same groups. The same figures for the previous release's inference (`git show f83d00f:tiertool/ingest/
tasktype.py`, the last commit before this one replaced it, run on the same requests in the same process) are
printed beside.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from routellm_tasks import DATA, DOMAINS  # noqa: E402

from tiertool.ingest import read_logs  # noqa: E402
from tiertool.records import Request  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "f83d00f"  # the last commit with the previous inference (single pass, first-request groups, cap 200)
SUBJECTS = sorted(s for subjects in DOMAINS.values() for s in subjects)


def rows(data: Path = DATA) -> list[dict]:
    """One chat request per prompt, with its true task type under `_true` (dropped before writing)."""
    if not data.is_dir():
        raise SystemExit(f"real data not found at {data}: this benchmark needs ../shared/data/routellm")
    out = []
    for subject in SUBJECTS:
        header = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
        with (data / "mmlu_responses" / f"mmlu_{subject}.csv").open(encoding="utf-8") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                out.append(_row(f"{subject}-{i}", f"mmlu-{subject}", header + row["prompt"]))
    with (data / "gsm8k_responses.csv").open(encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            out.append(_row(f"gsm8k-{i}", "gsm8k", f"Question: {row['prompt']}\nAnswer:"))
    for line in (data / "mt_bench_question.jsonl").open(encoding="utf-8"):
        q = json.loads(line)
        for turn, text in enumerate(q["turns"], 1):
            out.append(_row(f"mtbench-{q['question_id']}-{turn}", f"mtbench-{q['category']}", text))
    return out


def _row(rid: str, true: str, user: str) -> dict:
    return {"id": rid, "model": "gpt-4-1106-preview", "messages": [{"role": "user", "content": user}], "_true": true}


def orders(all_rows: list[dict], n: int) -> dict[str, list[dict]]:
    templated = [r for r in all_rows if not r["_true"].startswith("mtbench")]
    free = [r for r in all_rows if r["_true"].startswith("mtbench")]
    out = {}
    for seed in range(n):
        shuffled = all_rows[:]
        random.Random(seed).shuffle(shuffled)
        out[f"shuffled seed {seed}"] = shuffled
    rest = templated[:]
    random.Random(99).shuffle(rest)
    out["MT-Bench block first"] = free + rest
    out["sorted by task"] = sorted(all_rows, key=lambda r: (r["_true"], r["id"]))
    return out


def old_typer():
    """The previous inference, loaded from git into a module of its own (it imports tiertool's records)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{BASELINE}:tiertool/ingest/tasktype.py"], check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "tasktype_main.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("tiertool.ingest.tasktype_main", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod.TaskTyper


def read(path: Path) -> list[Request]:
    return list(read_logs([path], infer_tasks=False))


def type_new(reqs: list[Request], semantic: bool) -> tuple[dict[str, str], object]:
    from tiertool.ingest.tasktype import TaskTyper

    typer = TaskTyper(semantic=semantic)
    for r in reqs:
        typer.observe(r)
    typer.fit()
    out = [typer.assign(r) for r in reqs]
    renames = typer.renames()
    return {r.id: renames.get(r.task, r.task) for r in out}, typer


def type_old(reqs: list[Request], cls) -> tuple[dict[str, str], object]:
    typer = cls()
    out = [typer.assign(r) for r in reqs]
    renames = typer.renames()
    return {r.id: renames.get(r.task, r.task) for r in out}, typer


def scores(got: dict[str, str], true: dict[str, str]) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score

    ids = sorted(i for i in got if not true[i].startswith("mtbench"))
    pred = [got[i] if got[i] != "untagged" else f"untagged:{i}" for i in ids]
    members: dict[str, Counter] = defaultdict(Counter)
    for i in ids:
        if got[i] != "untagged":
            members[got[i]][true[i]] += 1
    typed = sum(sum(c.values()) for c in members.values())
    majority = sum(c.most_common(1)[0][1] for c in members.values())
    mt = [i for i in got if true[i].startswith("mtbench")]
    topics: dict[str, Counter] = defaultdict(Counter)
    for i in mt:
        if got[i] != "untagged":
            topics[got[i]][true[i]] += 1
    mt_typed = sum(sum(c.values()) for c in topics.values())
    return {"ari": adjusted_rand_score([true[i] for i in ids], pred),
            "purity": majority / typed if typed else 0.0,
            "worst": min((c.most_common(1)[0][1] / sum(c.values()) for c in members.values()), default=0.0),
            "coverage": typed / len(ids), "groups": len(members),
            "mt_in_templates": sum(got[i] != "untagged" and got[i] in members for i in mt), "mt_typed": mt_typed,
            "mt_purity": sum(c.most_common(1)[0][1] for c in topics.values()) / mt_typed if mt_typed else 0.0}


def partition(got: dict[str, str]) -> frozenset:
    by: dict[str, set] = defaultdict(set)
    for i, task in got.items():
        by[task].add(i)
    return frozenset((task, frozenset(v)) for task, v in by.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=5, help="shuffled orders (plus MT-Bench-first and sorted)")
    ap.add_argument("--semantic", action="store_true", help="also group free-form prompts by topic (TF-IDF)")
    args = ap.parse_args()
    all_rows = rows()
    true = {r["id"]: r["_true"] for r in all_rows}
    old_cls = old_typer()
    print(f"{len(all_rows):,} requests: {sum(not t.startswith('mtbench') for t in true.values()):,} templated "
          f"(57 MMLU subjects + GSM8K), {sum(t.startswith('mtbench') for t in true.values())} free-form (MT-Bench)")
    print(f"{'order':<22} {'code':<6} {'ARI':>6} {'purity':>7} {'worst':>6} {'typed':>6} {'groups':>6} "
          f"{'MT->tpl':>7} {'MT typed':>8} {'MT pur':>6} {'typing s':>8}")
    seen: dict[str, set] = defaultdict(set)
    with tempfile.TemporaryDirectory() as tmp:
        for label, ordered in orders(all_rows, args.orders).items():
            path = Path(tmp) / "log.jsonl"
            path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "_true"}) + "\n"
                                    for r in ordered), encoding="utf-8")
            reqs = read(path)
            for code in ("new", "before"):
                t0 = time.perf_counter()
                got, typer = type_new(reqs, args.semantic) if code == "new" else type_old(reqs, old_cls)
                dt = time.perf_counter() - t0
                s = scores(got, true)
                seen[code].add(partition(got))
                print(f"{label:<22} {code:<6} {s['ari']:>6.3f} {s['purity']:>7.3f} {s['worst']:>6.3f} "
                      f"{s['coverage']:>6.1%} {s['groups']:>6} {s['mt_in_templates']:>7} {s['mt_typed']:>8} "
                      f"{s['mt_purity']:>6.2f} {dt:>8.1f}")
                if code == "new":
                    last = (got, typer)
    if args.semantic:
        got, typer = last
        print("topic groups (last order): requests, MT-Bench categories, similarity to centroid mean / min")
        for g in typer.kept():
            if g.how == "cluster":
                mix = Counter(true[i] for i, t in got.items() if t == g.name)
                print(f"  {g.name:<40} {g.requests:>4}  {dict(mix.most_common())}  "
                      f"{g.similarity_mean:.2f} / {g.similarity_min:.2f}")
    for code, parts in seen.items():
        print(f"{code}: {'the same groups in every order' if len(parts) == 1 else f'{len(parts)} different groupings'}")


if __name__ == "__main__":
    main()
