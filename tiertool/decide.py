"""Decide each task's tier on evidence: the cheapest tier whose pass rate is *proven* to meet the bar.

A tier passes a task when the one-sided lower confidence bound of its pass rate is at least
`quality.target`. The bound is exact (Clopper-Pearson), not Wilson: Wilson under-covers near p = 1,
which is exactly where tiering decisions sit. The confidence is Bonferroni-corrected over every
(task, cheaper tier) test of the audit, so the chance of *any* wrong downgrade stays at most
1 - `quality.confidence`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from .config import Config
from .store import Audit, Result


@dataclass(frozen=True)
class TierEvidence:
    tier: str
    model: str
    scored: int
    passed: int
    errors: int
    pass_rate: float | None
    lower_bound: float | None
    meets: bool


@dataclass(frozen=True)
class Decision:
    task: str
    requests: int
    sampled: int
    tier: str
    model: str
    pass_rate: float
    lower_bound: float
    scorer: str
    reason: str
    evidence: tuple[TierEvidence, ...]


def lower_bound(passed: int, n: int, alpha: float) -> float:
    """Exact one-sided lower confidence bound (level 1 - alpha) of a binomial proportion."""
    if n == 0 or passed == 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(alpha, passed, n - passed + 1))


def samples_to_prove(target: float, alpha: float) -> int:
    """Smallest n at which n passes out of n prove the target (the least evidence that can decide)."""
    return math.ceil(math.log(alpha) / math.log(target)) if target < 1 else 0


def decide(audit: Audit, config: Config) -> list[Decision]:
    """One decision per task type of the audit, largest task first."""
    cheaper = config.tiers[:-1]
    ref = config.reference
    by: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in audit.results:
        by[(r.task, r.tier)].append(r)
    tested = [t for t in audit.tasks if any(by.get((t, tier.name)) for tier in cheaper)]
    alpha = (1 - config.quality.confidence) / max(1, len(tested) * len(cheaper))
    need = samples_to_prove(config.quality.target, alpha)
    decisions = []
    for task in audit.tasks:
        requests = audit.requests(task)
        evidence = []
        for tier in cheaper:
            rows = [r for r in by.get((task, tier.name), []) if r.reference is not None]
            scored = [r for r in rows if r.passed is not None or r.error]
            k = sum(1 for r in scored if r.passed)
            n = len(scored)
            lb = lower_bound(k, n, alpha) if n else None
            evidence.append(TierEvidence(tier.name, tier.model, n, k, sum(1 for r in rows if r.error),
                                         k / n if n else None, lb, lb is not None and lb >= config.quality.target))
        sampled = max((e.scored for e in evidence), default=0)
        chosen = next((e for e in evidence if e.meets), None)
        scorer = config.spec_for(task).scorer
        if chosen:
            reason = (f"{chosen.passed}/{chosen.scored} passed; lower bound {chosen.lower_bound:.3f} >= "
                      f"target {config.quality.target:g} at {config.quality.confidence:g} confidence")
            decisions.append(Decision(task, requests, sampled, chosen.tier, chosen.model, chosen.pass_rate or 0.0,
                                      chosen.lower_bound or 0.0, scorer, reason, tuple(evidence)))
            continue
        replayable = sum(u.replayable for (t, _), u in audit.volume.items() if t == task)
        best = max(evidence, key=lambda e: (e.pass_rate or 0.0, e.scored), default=None)
        if sampled == 0 or best is None:
            reason = "no replayable request sampled" if replayable == 0 else "no cheaper answer could be scored"
        elif (best.pass_rate or 0.0) < config.quality.target or sampled >= need:
            reason = (f"no cheaper tier proven: best {best.tier} passed {best.passed}/{best.scored}, lower bound "
                      f"{best.lower_bound or 0:.3f} < target {config.quality.target:g}")
        elif replayable < need:
            reason = (f"not enough traffic to decide: {best.tier} passed {best.passed}/{best.scored}, but only "
                      f"{replayable} replayable requests exist and {need} all-passing samples are needed")
        else:
            reason = (f"not enough samples to decide: {best.tier} passed {best.passed}/{best.scored}; at least "
                      f"{need} needed (raise sample.per_task)")
        decisions.append(Decision(task, requests, sampled, ref.name, ref.model, 1.0, 1.0, scorer, reason,
                                  tuple(evidence)))
    return decisions
