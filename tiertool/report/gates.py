"""CI gates for `tiertool report --check`: each gate passes or fails with one line saying why.

Gates: `audit` (the audit completed), `bar` (every task's committed tier still meets the bar on this audit),
`diff` (this audit recommends what the committed tiers.yaml says), `savings` (projected savings at least a
floor), `deprecation` (no assigned model past its deprecation date in litellm's price map), `drift` (a newer
log's task mix is close to the audited one: population stability index at most a threshold).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..commands.recommend import Recommendation
from ..errors import InputError
from .facts import assigned_models, deprecations

PSI_EPS = 1e-4  # share given to a task absent on one side, so the index stays finite
DEFAULT_DRIFT = 0.25  # the usual "significant shift" level of the population stability index


@dataclass(frozen=True)
class Gate:
    gate: str
    passed: bool
    message: str
    details: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "passed": self.passed, "message": self.message, "details": list(self.details)}


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


def audit_gate(data: dict[str, Any]) -> Gate:
    a = data["audit"]
    if a["error"]:
        return Gate("audit", False, f"the audit is incomplete: {a['error']}")
    return Gate("audit", True, f"complete: {a['records']} records, {a['failed']} failed calls")


def bar_gate(data: dict[str, Any], baseline: dict[str, str], fresh: Recommendation) -> Gate:
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
        return Gate("bar", False, f"{len(bad)} task(s) on a tier that no longer meets the bar: {bad[0]}"
                    + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""), tuple(bad))
    return Gate("bar", True, f"every committed tier meets the bar ({len(baseline)} tasks)")


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
        return Gate("diff", False, f"the recommendation differs from {baseline_path} for {changed} task(s); "
                    "run `tiertool recommend` and commit tiers.yaml if intended", tuple(lines))
    return Gate("diff", True, f"the recommendation matches {baseline_path}")


def savings_gate(data: dict[str, Any], floor: float) -> Gate:
    s = data["savings"]
    ok = s["saved_fraction"] >= floor
    return Gate("savings", ok, f"projected savings {s['saved_fraction']:.1%} {'>=' if ok else '<'} floor {floor:.1%}")


def deprecation_gate(data: dict[str, Any], today: date) -> Gate:
    past = [(m, when, tasks) for m, when, tasks, is_past in deprecations(assigned_models(data["tasks"]), today)
            if is_past]
    if past:
        lines = tuple(f"{m} (tasks {', '.join(tasks)}) deprecated on {when}" for m, when, tasks in past)
        return Gate("deprecation", False, f"{len(past)} assigned model(s) past their deprecation date: {lines[0]}",
                    lines)
    return Gate("deprecation", True, "no assigned model is past its deprecation date")


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


def task_mix(logs: list[Path], group_by: str) -> dict[str, int]:
    from ..ingest import read_logs

    reader = read_logs(logs, None, group_by)
    mix = Counter(req.task for req in reader)
    if not mix:
        raise InputError(f"{', '.join(map(str, logs))}: no readable records to compare the task mix with")
    return dict(mix)


def drift_gate(data: dict[str, Any], new_mix: dict[str, int], threshold: float) -> Gate:
    old = {t["task"]: t["requests"] for t in data["tasks"]}
    index = psi(old, new_mix)
    total_old, total_new = sum(old.values()) or 1, sum(new_mix.values())
    moves = sorted(set(old) | set(new_mix),
                   key=lambda t: -abs(new_mix.get(t, 0) / total_new - old.get(t, 0) / total_old))
    lines = tuple(f"{t}: {old.get(t, 0) / total_old:.1%} -> {new_mix.get(t, 0) / total_new:.1%}"
                  + (" (not audited)" if t not in old else "") for t in moves[:10])
    ok = index <= threshold and math.isfinite(index)
    msg = (f"task mix PSI {index:.3f} {'<=' if ok else '>'} {threshold:g}"
           + ("" if ok else "; the audit is stale, re-run `tiertool audit` on recent traffic"))
    return Gate("drift", ok, msg, () if ok else lines)
