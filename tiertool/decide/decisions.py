"""Decide each task's tier on evidence: the cheapest tier whose pass rate is *proven* to meet the bar.

For every (task type, cheaper tier) the audit tests H0: pass rate <= `quality.target`. The level of each test
is Bonferroni-corrected over the whole family of tests (sequential.family), so the chance of *any* wrong
downgrade across the audit stays at most 1 - `quality.confidence`. Sequential audits use an anytime-valid
test (sequential.py), fixed-size ones the exact Clopper-Pearson bound; either way the reported lower bound
is at the level the decision used, so "lower bound >= target" and "moved" always agree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..config import Config
from ..store import Audit, Result
from .sequential import (
    Family,
    exact_lower_bound,
    family,
    lower_bound,
    needed_at,
    p_value,
)


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
    status: str = "moved"  # moved | kept | not-enough-traffic | undecided
    more_samples: int | None = None  # samples that would settle an undecided or low-traffic task


def family_for(replayable: dict[str, int], config: Config) -> Family:
    """The family of tests, fixed from replayable traffic before any outcome is seen."""
    s = config.sample
    return family(replayable, len(config.tiers) - 1, config.quality.confidence, config.quality.target, s.cap,
                  s.sequential)


def audit_family(audit: Audit, config: Config) -> Family:
    return family_for({t: audit.replayable(t) for t in audit.tasks}, config)


def looks_of(rows: list[Result]) -> list[tuple[int, int]]:
    """Cumulative (passed, scored) at the end of each round; a failed call counts as a failure."""
    per_round: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r.passed is None and not r.error:
            continue
        per_round[r.round][0] += bool(r.passed)
        per_round[r.round][1] += 1
    looks, k, n = [], 0, 0
    for rnd in sorted(per_round):
        k, n = k + per_round[rnd][0], n + per_round[rnd][1]
        looks.append((k, n))
    return looks


def decide(audit: Audit, config: Config) -> list[Decision]:
    """One decision per task type of the audit, largest task first."""
    cheaper = config.tiers[:-1]
    q = config.quality
    fam = audit_family(audit, config)
    by: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in audit.results:
        if r.reference is not None:
            by[(r.task, r.tier)].append(r)
    decisions = []
    for task in audit.tasks:
        evidence = []
        for tier in cheaper:
            rows = by.get((task, tier.name), [])
            looks = looks_of(rows)
            k, n = looks[-1] if looks else (0, 0)
            if not n:
                lb, meets = None, False
            elif config.sample.sequential:
                lb = lower_bound(looks, fam.alpha)
                meets = task in fam.tested and p_value(looks, q.target) <= fam.alpha
            else:
                lb = exact_lower_bound(k, n, fam.alpha)
                meets = task in fam.tested and lb >= q.target
            evidence.append(TierEvidence(tier.name, tier.model, n, k, sum(1 for r in rows if r.error),
                                         k / n if n else None, lb, meets))
        decisions.append(_decision(task, audit, config, fam, tuple(evidence)))
    return decisions


def _decision(task: str, audit: Audit, config: Config, fam: Family, evidence: tuple[TierEvidence, ...]) -> Decision:
    q, ref = config.quality, config.reference
    requests, replayable = audit.requests(task), audit.replayable(task)
    sampled = max((e.scored for e in evidence), default=0)
    scorer = config.spec_for(task).scorer
    chosen = next((e for e in evidence if e.meets), None)
    level = f"{1 - fam.alpha:.4g} per test ({q.confidence:g} for the whole audit)"
    if chosen:
        reason = (f"{chosen.tier}: {chosen.passed}/{chosen.scored} passed; lower bound {chosen.lower_bound:.3f} >= "
                  f"target {q.target:g} at confidence {level}")
        return Decision(task, requests, sampled, chosen.tier, chosen.model, chosen.pass_rate or 0.0,
                        chosen.lower_bound or 0.0, scorer, reason, evidence)

    def keep(reason: str, status: str, more: int | None = None) -> Decision:
        return Decision(task, requests, sampled, ref.name, ref.model, 1.0, 1.0, scorer, reason, evidence, status,
                        more)

    scored = [e for e in evidence if e.scored]
    best = max(scored, key=lambda e: (e.pass_rate or 0.0, e.scored)) if scored else None
    shown = f"best {best.tier} passed {best.passed}/{best.scored}, lower bound {best.lower_bound or 0:.3f}" \
        if best else ""
    if best and (best.pass_rate or 0.0) <= q.target:
        return keep(f"no cheaper tier meets the bar: {shown} < target {q.target:g}", "kept")
    if task not in fam.tested:
        more = max(fam.to_join - min(replayable, config.sample.cap), 0)
        return keep(f"not enough traffic to decide: {replayable} replayable requests; testing it too would need "
                    f"at least {fam.to_join} all-passing samples ({more} more)", "not-enough-traffic", more)
    if best is None:
        return keep("no cheaper answer could be scored (see the audit's errors)", "undecided")
    total = needed_at(best.passed / best.scored, q.target, fam.alpha, 1_000_000) \
        if config.sample.sequential else None
    if total is not None and total > best.scored:
        more = total - best.scored
        room = "" if total <= replayable else f"; the log has only {replayable} replayable requests"
        return keep(f"undecided: {shown} < target {q.target:g}; about {more} more samples at this pass rate "
                    f"would settle it (raise sample.max_per_task){room}", "undecided", more)
    return keep(f"no cheaper tier proven: {shown} < target {q.target:g}", "kept")
