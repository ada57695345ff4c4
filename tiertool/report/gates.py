"""CI gates for `tiertool report --check`: each gate passes or fails with one line saying why.

Gates: `audit` (the audit completed), `bar` (every task's committed tier still meets the bar on this audit),
`diff` (this audit recommends what the committed tiers.yaml says), `savings` (projected savings at least a
floor), `deprecation` (no assigned model past its deprecation date in litellm's price map), `drift` (a newer
log's task mix is close to the audited one: population stability index at most a threshold).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ..config.assignment import load_tiers
from ..decide.recommendation import Recommendation
from ..errors import InputError
from ..ingest import scan
from .facts import assigned_models, deprecations
from .model import Gate, Report

PSI_EPS = 1e-4  # share given to a task absent on one side, so the index stays finite


def run_gates(report: Report, fresh: Recommendation, baseline: Path | None, floor: float | None, today: date,
              new_logs: Sequence[str | Path], drift_threshold: float, allow_incomplete: bool = False) -> list[Gate]:
    """The gates an invocation asks for, in a fixed order; `fresh` is the audit's own recommendation."""
    out = [audit_gate(report, allow_incomplete)]
    if baseline is not None:
        committed = load_tiers(baseline)
        out += [bar_gate(committed, fresh), diff_gate(committed, fresh, baseline)]
    if floor is not None:
        out.append(savings_gate(report, floor))
    out.append(deprecation_gate(report, today))
    if new_logs:
        mix = task_mix(new_logs, fresh.config.group_by, fresh.config.semantic_tasks, fresh.config.agent_steps)
        out.append(drift_gate(report, mix, drift_threshold))
    return out


def gate_lines(report: Report) -> list[str]:
    """One line per failed gate (then its details, indented), or one line saying all passed."""
    gates = report.gates or []
    if not gates:
        return []
    failed = [x for x in gates if not x.passed]
    out = [f"all gates passed: {', '.join(x.gate for x in gates)}"] if not failed else []
    for x in failed:
        out.append(f"gate failed: {x.gate}: {x.message}")
        out += [f"    {d}" for d in x.details]
    if "bar" not in {x.gate for x in gates}:
        out.append("note: no --baseline and no ./tiers.yaml: the bar and diff gates did not run")
    return out


def parse_fraction(text: str) -> float:
    """`0.2` or `20%` -> 0.2; a usage error otherwise."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise InputError(f"--fail-under-savings {text}: expected a fraction like 0.2 or a percentage like 20%"
                         ) from None
    if not 0 <= value <= 1:
        raise InputError(f"--fail-under-savings {text}: must be between 0 and 1 (or 0% and 100%)")
    return value


def audit_gate(report: Report, allow_incomplete: bool = False) -> Gate:
    """The audit read something and finished; an unfinished one passes only when allowed (and says so)."""
    a = report.audit
    if not a.records:
        return Gate(gate="audit", passed=False, message=f"{a.incomplete}: there is nothing to gate on")
    if a.incomplete and not allow_incomplete:
        return Gate(gate="audit", passed=False, message=f"the audit is incomplete: {a.incomplete}; or pass "
                    "--allow-incomplete to gate on the evidence so far")
    if a.incomplete:
        return Gate(gate="audit", passed=True, message=f"incomplete, allowed by --allow-incomplete: {a.incomplete}")
    return Gate(gate="audit", passed=True, message=f"complete: {a.records} records, {a.failed} failed calls")


def bar_gate(baseline: dict[str, str], fresh: Recommendation) -> Gate:
    """Each committed cheaper tier must still be proven to meet the bar by this audit's evidence."""
    ref = fresh.config.reference.name
    decisions = {d.task: d for d in fresh.decisions}
    bad = []
    for task, tier in sorted(baseline.items()):
        d = decisions.get(task)
        if tier == ref or d is None:
            continue
        ev = next((e for e in d.evidence if e.tier == tier), None)
        if ev is None:
            bad.append(f"{task}: tier {tier} is not a cheaper tier of this audit's config")
        elif not ev.meets:
            lb = "no scored answers" if ev.lower_bound is None else f"lower bound {ev.lower_bound:.3f}"
            bad.append(f"{task}: tier {tier} {ev.passed}/{ev.scored} passed, {lb} < target "
                       f"{fresh.config.quality.target:g}")
    if bad:
        return Gate(gate="bar", passed=False, details=bad,
                    message=f"{len(bad)} task(s) on a tier that no longer meets the bar: {bad[0]}"
                    + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    return Gate(gate="bar", passed=True, message=f"every committed tier meets the bar ({len(baseline)} tasks)")


def diff_gate(baseline: dict[str, str], fresh: Recommendation, baseline_path: Path) -> Gate:
    now = {d.task: d.tier for d in fresh.decisions}
    lines = []
    for task in sorted(set(baseline) | set(now)):
        was, new = baseline.get(task), now.get(task)
        if was == new:
            continue
        if was is None:
            lines.append(f"+ {task}: {new} (not in {baseline_path.name})")
        elif new is None:
            lines.append(f"- {task}: {was} (not in this audit)")
        else:
            lines.append(f"- {task}: {was}")
            lines.append(f"+ {task}: {new}")
    if lines:
        changed = len({ln[2:].split(":", 1)[0] for ln in lines})
        return Gate(gate="diff", passed=False, details=lines,
                    message=f"the recommendation differs from {baseline_path} for {changed} task(s); "
                    "run `tiertool recommend` and commit tiers.yaml if intended")
    return Gate(gate="diff", passed=True, message=f"the recommendation matches {baseline_path}")


def savings_gate(report: Report, floor: float) -> Gate:
    saved = report.savings.saved_fraction
    ok = saved >= floor
    return Gate(gate="savings", passed=ok, message=f"projected savings {saved:.1%} {'>=' if ok else '<'} floor "
                f"{floor:.1%}")


def deprecation_gate(report: Report, today: date) -> Gate:
    past = [(m, when, tasks) for m, when, tasks, is_past in deprecations(assigned_models(report.tasks), today)
            if is_past]
    if past:
        lines = [f"{m} (tasks {', '.join(tasks)}) deprecated on {when}" for m, when, tasks in past]
        return Gate(gate="deprecation", passed=False, details=lines,
                    message=f"{len(past)} assigned model(s) past their deprecation date: {lines[0]}")
    return Gate(gate="deprecation", passed=True, message="no assigned model is past its deprecation date")


def psi(old: dict[str, int], new: dict[str, int]) -> float:
    """Population stability index of two task mixes: sum over tasks of (p - q) * ln(p / q)."""
    from scipy.special import rel_entr

    tasks = sorted(set(old) | set(new))
    p = _shares([old.get(t, 0) for t in tasks])
    q = _shares([new.get(t, 0) for t in tasks])
    return float(sum(rel_entr(a, b) + rel_entr(b, a) for a, b in zip(p, q, strict=True)))


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    raw = [max(c / total, PSI_EPS) for c in counts]
    norm = sum(raw)
    return [r / norm for r in raw]


def task_mix(logs: Sequence[str | Path], group_by: str, semantic: bool = False, steps: bool = False
             ) -> dict[str, int]:
    """Requests per task type of a newer log, typed as the audit types them (ingest's one pass)."""
    traffic = scan(logs, None, group_by, semantic=semantic, steps=steps)
    mix = {task: t.requests for task, t in traffic.tasks.items()}
    if not mix:
        raise InputError(f"{', '.join(map(str, logs))}: no readable records to compare the task mix with")
    return mix


def drift_gate(report: Report, new_mix: dict[str, int], threshold: float) -> Gate:
    old = {t.task: t.requests for t in report.tasks}
    index = psi(old, new_mix)
    total_old, total_new = sum(old.values()) or 1, sum(new_mix.values())
    moves = sorted(set(old) | set(new_mix),
                   key=lambda t: -abs(new_mix.get(t, 0) / total_new - old.get(t, 0) / total_old))
    lines = [f"{t}: {old.get(t, 0) / total_old:.1%} -> {new_mix.get(t, 0) / total_new:.1%}"
             + (" (not audited)" if t not in old else "") for t in moves[:10]]
    ok = index <= threshold and math.isfinite(index)
    msg = (f"task mix PSI {index:.3f} {'<=' if ok else '>'} {threshold:g}"
           + ("" if ok else "; the audit is stale, re-run `tiertool audit` on recent traffic"))
    return Gate(gate="drift", passed=ok, message=msg, details=[] if ok else lines)
