"""Decide each task's tier on evidence: the cheapest tier whose pass rate is *proven* to meet the bar.

For every (task type, cheaper tier) the audit tests H0: pass rate <= `quality.target`, with the chance of *any*
wrong downgrade across the audit at most 1 - `quality.confidence`. Sequential audits run the sampling policy
(policy.py: exact tests to a horizon fixed in advance, the error budget weighted by money at stake, Holm), which
leaves a status per task: proven, shown below the bar, or undecided with the reason and what a proof would still
need. Fixed-size audits hold every test to a Bonferroni level (family.py) on the exact Clopper-Pearson bound.
Either way the reported lower bound is at the level the decision used, so "lower bound >= target" and "moved"
always agree. Decisions read what the audit stored (records.TestState, records.Status), never recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import Config
from ..records import Family, Status
from ..scorers.auto import NEEDS_JUDGE
from ..scorers.labels import IMPORTED
from ..store import Audit
from .sequential import exact_lower_bound


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
    evidence_tier: str | None = None  # the cheaper tier whose evidence decided: the chosen one, else the best tried
    more_cost_usd: float | None = None  # what those samples would cost (sequential audits)


def decide(audit: Audit) -> list[Decision]:
    """One decision per task type of the audit, largest task first, from the tests the audit ran: a tier meets
    the bar when its test ended proven; the bound shown is at the level the decision used."""
    config, fam = audit.config, audit.meta.family
    errors: dict[tuple[str, str], int] = {}
    for r in audit.results:
        if r.error and r.reference is not None:
            errors[(r.task, r.tier)] = errors.get((r.task, r.tier), 0) + 1
    decisions = []
    for task in audit.tasks:
        evidence = []
        for tier in config.tiers[:-1]:
            test = audit.tests.get((task, tier.name))
            k, n = (test.passed, test.scored) if test else (0, 0)
            lb = test.lower_bound if test and test.lower_bound is not None else \
                exact_lower_bound(k, n, fam.alpha) if n and not config.sample.sequential else None
            meets = bool(n) and test is not None and test.state == "proven" and (
                config.sample.sequential or task in fam.tested)
            evidence.append(TierEvidence(tier.name, tier.model, n, k, errors.get((task, tier.name), 0),
                                         k / n if n else None, lb, meets))
        status = audit.statuses.get(task)
        if config.sample.sequential:
            decision = _from_status(task, audit, status, tuple(evidence))
        else:
            decision = _decision(task, audit, config, fam, tuple(evidence))
        decisions.append(_evidence_only(decision, audit) if _needs_judge(task, audit) else decision)
    return decisions


def _needs_judge(task: str, audit: Audit) -> bool:
    """`auto` found open-ended answers and no judge, and labels did not grade every scored cheaper answer."""
    choice = audit.meta.scorers.get(task)
    if choice is None or not choice.needs_judge:
        return False
    ref = audit.config.reference.name
    scored = [r for r in audit.results if r.task == task and r.tier != ref and r.passed is not None]
    return not scored or not all(r.reason.startswith(IMPORTED) for r in scored)


def _evidence_only(d: Decision, audit: Audit) -> Decision:
    """The task stays on the reference, undecided; its evidence is shown but proves nothing."""
    ref = audit.config.reference
    shown = next((e for e in d.evidence if e.tier == d.evidence_tier), None) or \
        next((e for e in d.evidence if e.scored), None)
    seen = f"; evidence only: {shown.tier} passed {shown.passed}/{shown.scored} under fuzzy token_set" if shown else ""
    return replace(d, tier=ref.name, model=ref.model, pass_rate=1.0, lower_bound=1.0, status="undecided",
                   reason=f"{NEEDS_JUDGE}: open-ended answers, and a text-similarity bar cannot prove their "
                          f"quality{seen}; configure `auto: {{judge: ...}}`, import --labels for the sample, or "
                          f"name a scorer under tasks.{d.task}", more_samples=None, more_cost_usd=None,
                   evidence_tier=shown.tier if shown else None,
                   evidence=tuple(replace(e, meets=False) for e in d.evidence))


KEPT_AS = {"proven": "moved", "below-bar": "kept", "not-enough-traffic": "not-enough-traffic"}  # else undecided


def _from_status(task: str, audit: Audit, status: Status | None, evidence: tuple[TierEvidence, ...]) -> Decision:
    """A sequential audit's decision: the policy's status for the task, with the evidence line of a proof."""
    config, ref = audit.config, audit.config.reference
    requests, scorer = audit.requests(task), config.spec_for(task).scorer
    sampled = max((e.scored for e in evidence), default=0)
    chosen = next((e for e in evidence if e.meets), None)
    if chosen:
        test = audit.tests[(task, chosen.tier)]
        reason = (f"{chosen.tier}: {chosen.passed}/{chosen.scored} passed; lower bound {chosen.lower_bound or 0:.3f}"
                  f" >= target {config.quality.target:g} at confidence {1 - (test.level or 0):.4g} per test "
                  f"({config.quality.confidence:g} for the whole audit, shared by money at stake)")
        return Decision(task, requests, sampled, chosen.tier, chosen.model, chosen.pass_rate or 0.0,
                        chosen.lower_bound or 0.0, scorer, reason, evidence, evidence_tier=chosen.tier)
    if status is None:
        return Decision(task, requests, sampled, ref.name, ref.model, 1.0, 1.0, scorer,
                        "not enough traffic to decide: no replayable requests", evidence, "not-enough-traffic")
    return Decision(task, requests, sampled, ref.name, ref.model, 1.0, 1.0, scorer, status.reason, evidence,
                    KEPT_AS.get(status.kind, "undecided"), status.more_samples, status.tier, status.more_cost_usd)


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
                        chosen.lower_bound or 0.0, scorer, reason, evidence, evidence_tier=chosen.tier)

    scored = [e for e in evidence if e.scored]
    best = max(scored, key=lambda e: (e.pass_rate or 0.0, e.scored)) if scored else None

    def keep(reason: str, status: str, more: int | None = None) -> Decision:
        return Decision(task, requests, sampled, ref.name, ref.model, 1.0, 1.0, scorer, reason, evidence, status,
                        more, best.tier if best else None)

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
    return keep(f"no cheaper tier proven: {shown} < target {q.target:g}", "kept")
