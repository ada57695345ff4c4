"""How far can each scorer be trusted? Measured on real paired model outputs (../shared/data/routellm).

GSM8K: small = Mixtral-8x7B, large = GPT-4 (1106); both full responses and each one's correctness. Does
"the small answer agrees with the large answer" under a scorer predict "the small answer is correct"?
MT-Bench: GPT-4 grades (1-10) of both models' answers, imported as labels under a grade bar; pass rate per
category.

    .venv/bin/python benchmarks/bench_scorers.py [--data ../shared/data/routellm] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "routellm"
SMALL, LARGE = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
GSM8K_SCORERS = {  # the bars compared on GSM8K, as they would be written under `tasks:` in tiertool.yaml
    "numeric": {"scorer": "numeric"},
    "numeric 1%": {"scorer": "numeric", "relative": 0.01},
    "exact": {"scorer": "exact"},
    "fuzzy 0.85": {"scorer": "fuzzy", "threshold": 0.85},
    "fuzzy token_set 0.85": {"scorer": "fuzzy", "threshold": 0.85, "method": "token_set"},
}
RATING = re.compile(r"\[\[(\d+(?:\.\d+)?)\]\]")


def _scorer(spec: dict[str, Any]) -> Any:
    from tiertool.config import parse_config
    from tiertool.scorers import make_scorer

    cfg = parse_config({"tiers": [{"name": "small", "model": SMALL}, {"name": "large", "model": LARGE}],
                        "tasks": {"gsm8k": spec}})
    return make_scorer(cfg.spec_for("gsm8k"))


def _context(prompt: str, candidate: str, reference: str) -> Any:
    from tiertool.records import Request
    from tiertool.scorers import ScoringContext

    request = Request(id="gsm8k", source="gsm8k", model=LARGE, messages=({"role": "user", "content": prompt},))
    return ScoringContext(request, candidate, reference)


def read_gsm8k(data: Path) -> list[dict[str, Any]]:
    with (data / "gsm8k_responses.csv").open(encoding="utf-8", newline="") as f:
        return [{"prompt": r["prompt"], "small_ok": r[SMALL] == "True", "large_ok": r[LARGE] == "True",
                 "small": r[f"{SMALL}_response"], "large": r[f"{LARGE}_response"]} for r in csv.DictReader(f)]


def agreement_stats(passed: list[bool], truth: list[bool]) -> dict[str, float]:
    """How well a scorer's pass predicts correctness: agreement, precision, recall, Cohen's kappa."""
    from sklearn.metrics import cohen_kappa_score, precision_score, recall_score

    return {
        "agreement": sum(p == t for p, t in zip(passed, truth, strict=True)) / len(truth),
        "precision": float(precision_score(truth, passed, zero_division=0)),
        "recall": float(recall_score(truth, passed, zero_division=0)),
        "kappa": float(cohen_kappa_score(truth, passed)),
        "pass_rate": sum(passed) / len(passed),
        "true_accuracy": sum(truth) / len(truth),
    }


def gsm8k(data: Path) -> dict[str, Any]:
    rows = read_gsm8k(data)
    truth = [r["small_ok"] for r in rows]
    out: dict[str, Any] = {"problems": len(rows), "scorers": {}}
    from tiertool.config.scorers import AutoSpec
    from tiertool.scorers.auto import choose

    auto, out["auto_reason"] = choose(AutoSpec(scorer="auto"), [r["large"] for r in rows])
    for name, spec in {**GSM8K_SCORERS, f"auto ({auto.scorer})": auto.model_dump(by_alias=True)}.items():
        scorer = _scorer(spec)
        passed = [scorer.score(_context(r["prompt"], r["small"], r["large"])).passed for r in rows]
        stats = agreement_stats(passed, truth)
        # where the reference itself is right, agreement is what the bar is meant to measure
        both = [i for i, r in enumerate(rows) if r["large_ok"]]
        stats["agreement_when_large_correct"] = sum(passed[i] == truth[i] for i in both) / len(both)
        out["scorers"][name] = stats
    out["large_accuracy"] = sum(r["large_ok"] for r in rows) / len(rows)
    out["counts"] = {"both": sum(r["small_ok"] and r["large_ok"] for r in rows),
                     "only_large": sum(r["large_ok"] and not r["small_ok"] for r in rows),
                     "only_small": sum(r["small_ok"] and not r["large_ok"] for r in rows),
                     "neither": sum(not (r["small_ok"] or r["large_ok"]) for r in rows)}
    return out


def read_mt_bench(data: Path) -> tuple[dict[tuple[int, int, str], float], dict[int, str], int]:
    """(grade by (question, turn, model), category by question, judgments whose text disagrees with `score`)."""
    categories = {}
    with (data / "mt_bench_question.jsonl").open(encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            categories[q["question_id"]] = q["category"]
    grades, mismatched = {}, 0
    with (data / "mt_bench_judgements.jsonl").open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            j = json.loads(line)
            found = RATING.findall(j["judgment"])
            if not found:
                raise ValueError(f"mt_bench_judgements.jsonl:{n}: no [[N]] rating in the judgment text")
            grade = float(found[-1])
            mismatched += grade != float(j["score"])
            grades[(j["question_id"], j["turn"], j["model"])] = grade
    return grades, categories, mismatched


def mt_bench(data: Path, margins: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    """Per category: mean grades, and the pass rate of the small model under `small >= large - margin`,
    imported through `tiertool audit --labels` format (one labels file per bar, read by tiertool)."""
    from tiertool.scorers.labels import load_labels

    grades, categories, mismatched = read_mt_bench(data)
    keys = sorted({(q, t) for q, t, _ in grades if (q, t, SMALL) in grades and (q, t, LARGE) in grades})
    out: dict[str, Any] = {"pairs": len(keys), "rating_text_vs_score_field_mismatches": mismatched,
                           "categories": {}}
    per_cat: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for q, t in keys:
        per_cat[categories[q]].append((q, t))
    with tempfile.TemporaryDirectory() as tmp:
        for margin in margins:
            path = Path(tmp, f"labels-{margin}.jsonl")
            path.write_text("".join(json.dumps({
                "request_id": f"mt{q}-{t}", "tier": "small",
                "passed": grades[(q, t, SMALL)] >= grades[(q, t, LARGE)] - margin,
                "reason": f"GPT-4 grade {grades[(q, t, SMALL)]:g} vs {grades[(q, t, LARGE)]:g}"}) + "\n"
                for q, t in keys), encoding="utf-8")
            labels = load_labels(path)
            for cat, items in per_cat.items():
                row = out["categories"].setdefault(cat, {
                    "pairs": len(items),
                    "small_mean": sum(grades[(q, t, SMALL)] for q, t in items) / len(items),
                    "large_mean": sum(grades[(q, t, LARGE)] for q, t in items) / len(items)})
                passed = [labels.grade(f"mt{q}-{t}", "small").passed for q, t in items]
                row[f"pass_rate_margin_{margin}"] = sum(passed) / len(passed)
    out["categories"] = dict(sorted(out["categories"].items(), key=lambda kv: -kv[1]["pass_rate_margin_1"]))
    return out



TURN1 = re.compile(r"\[The Start of Assistant's Answer\]\n(.*)\n\[The End of Assistant's Answer\]", re.S)
TURN2 = re.compile(r".*### Assistant A:\n(.*?)\n*<\|The End of Assistant A's Conversation with User\|>", re.S)


def mt_bench_answers(data: Path) -> dict[tuple[int, int, str], str]:
    """Each model's answer per (question, turn), as embedded in the judge prompt."""
    out = {}
    with (data / "mt_bench_judgements.jsonl").open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            j = json.loads(line)
            m = (TURN1 if j["turn"] == 1 else TURN2).search(j["user_prompt"])
            if not m:
                raise ValueError(f"mt_bench_judgements.jsonl:{n}: no answer found in user_prompt")
            out[(j["question_id"], j["turn"], j["model"])] = m.group(1).strip()
    return out


def pipeline(data: Path, margin: int = 1) -> dict[str, Any]:
    """The same data through `tiertool audit --offline --labels`: the large answers form the log, the small
    answers a recorded-answers file, MT-Bench grades a labels file. Returns each task's evidence."""
    from tiertool.commands.audit import run_audit
    from tiertool.config import parse_config
    from tiertool.decide.decisions import decide
    from tiertool.store import load_audit

    small_model, large_model = f"together_ai/{SMALL}", f"openai/{LARGE}"

    def completion(text: str) -> dict[str, Any]:  # a logged response object, as a gateway writes it
        return {"choices": [{"message": {"role": "assistant", "content": text}}], "model": LARGE}

    log, recorded, labels = [], [], []
    for i, r in enumerate(read_gsm8k(data)):
        msgs = [{"role": "user", "content": r["prompt"]}]
        log.append({"id": f"gsm8k-{i}", "model": large_model, "messages": msgs, "response": completion(r["large"]),
                    "metadata": {"task": "gsm8k"}})
        recorded.append({"model": small_model, "messages": msgs, "output": r["small"]})
    grades, categories, _ = read_mt_bench(data)
    answers = mt_bench_answers(data)
    with (data / "mt_bench_question.jsonl").open(encoding="utf-8") as f:
        questions = {q["question_id"]: q["turns"] for q in map(json.loads, f)}
    for (q, t, model), _grade in sorted(grades.items()):
        if model != LARGE or (q, t, SMALL) not in grades:
            continue
        msgs = [{"role": "user", "content": questions[q][0]}]
        if t == 2:
            msgs += [{"role": "assistant", "content": answers[(q, 1, LARGE)]},
                     {"role": "user", "content": questions[q][1]}]
        log.append({"id": f"mt{q}-{t}", "model": large_model, "messages": msgs,
                    "response": completion(answers[(q, t, LARGE)]), "metadata": {"task": f"mt-bench/{categories[q]}"}})
        recorded.append({"model": small_model, "messages": msgs, "output": answers[(q, t, SMALL)]})
        labels.append({"request_id": f"mt{q}-{t}", "tier": "small",
                       "passed": grades[(q, t, SMALL)] >= grades[(q, t, LARGE)] - margin})
    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in (("log.jsonl", log), ("recorded.jsonl", recorded), ("labels.jsonl", labels)):
            Path(tmp, name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        cfg = parse_config({"tiers": [{"name": "small", "model": small_model}, {"name": "large", "model": large_model}],
                            "tasks": {"gsm8k": {"scorer": "numeric"}},
                            "sample": {"sequential": False, "per_task": 2000},
                            "replay": {"recorded": "recorded.jsonl"}}, base_dir=tmp)
        summary = run_audit([Path(tmp, "log.jsonl")], cfg, Path(tmp, "audit"), offline=True,
                            labels=Path(tmp, "labels.jsonl"))
        audit = load_audit(Path(tmp, "audit"))
        decisions = decide(audit)
    labelled = {r.task for r in audit.results if r.reason.startswith("imported label")}
    out: dict[str, Any] = {"records": summary.records, "calls": summary.calls_sent, "tasks": {}}
    for d in decisions:
        e = d.evidence[0]
        scorer = "imported labels" if d.task in labelled else audit.meta.scorers[d.task].scorer
        out["tasks"][d.task] = {"scorer": scorer, "passed": e.passed,
                                "scored": e.scored, "lower_bound": e.lower_bound, "tier": d.tier,
                                "reason": d.reason}
    return out

def render(g: dict[str, Any], m: dict[str, Any], p: dict[str, Any]) -> str:
    lines = [f"GSM8K ({g['problems']} problems; small = Mixtral-8x7B, large = GPT-4-1106). Small answer scored "
             "against the large answer; the scorer's pass vs the small answer's true correctness.", "",
             "| scorer | small pass rate | true small accuracy | agreement | precision | recall | Cohen's kappa |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in g["scorers"].items():
        lines.append(f"| {name} | {s['pass_rate']:.1%} | {s['true_accuracy']:.1%} | {s['agreement']:.1%} | "
                     f"{s['precision']:.1%} | {s['recall']:.1%} | {s['kappa']:.3f} |")
    c = g["counts"]
    lines += ["", f"auto on the large answers: {g['auto_reason'].removeprefix('auto: ')}.", "",
              f"Large accuracy {g['large_accuracy']:.1%}; both correct {c['both']}, only large {c['only_large']}, "
              f"only small {c['only_small']}, neither {c['neither']}.", "",
              f"MT-Bench ({m['pairs']} question-turns; GPT-4 grades 1-10; [[N]] ratings parsed from the judgment "
              f"text, {m['rating_text_vs_score_field_mismatches']} disagree with the file's score field). Small "
              "passes when its grade >= large grade - margin.", "",
              "| category | pairs | mean small | mean large | pass (margin 0) | pass (margin 1) | pass (margin 2) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for cat, r in m["categories"].items():
        lines.append(f"| {cat} | {r['pairs']} | {r['small_mean']:.2f} | {r['large_mean']:.2f} | "
                     f"{r['pass_rate_margin_0']:.1%} | {r['pass_rate_margin_1']:.1%} | {r['pass_rate_margin_2']:.1%} |")
    lines += ["", f"Through the pipeline: `tiertool audit --offline --labels` on {p['records']} requests "
              f"(large answers in the log, small answers recorded, MT-Bench grades as labels at margin 1; "
              f"{p['calls']} model calls).",
              "", "| task | scorer | small passed | lower bound | tier | why |", "|---|---|---:|---:|---|---|"]
    for task, t in p["tasks"].items():
        lines.append(f"| {task} | {t['scorer']} | {t['passed']}/{t['scored']} | {t['lower_bound']:.3f} | {t['tier']} | "
                     f"{t['reason']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data not found at {args.data} (../shared/data/routellm beside the project); pass --data DIR",
              file=sys.stderr)
        return 2
    g, m, p = gsm8k(args.data), mt_bench(args.data), pipeline(args.data)
    print(json.dumps({"gsm8k": g, "mt_bench": m, "pipeline": p}, indent=2) if args.json else render(g, m, p), end="")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
