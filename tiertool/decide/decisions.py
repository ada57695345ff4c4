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
from ..config.scorers import PredictionPoweredSpec
from ..records import Family, PartTest
from ..scorers.auto import NEEDS_JUDGE
from ..scorers.drawn import JUDGE_LABEL
from ..scorers.labels import IMPORTED
from ..store import Audit
from .ppi import values
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
    status: str = "moved"  # moved | kept | not-enough-traffic | undecided | unaudited
    more_samples: int | None = None  # samples that would settle an undecided or low-traffic task
    evidence_tier: str | None = None  # the cheaper tier whose evidence decided: the chosen one, else the best tried
    more_cost_usd: float | None = None  # what those samples would cost (sequential audits)
    parts: tuple[PartTest, ...] = ()  # sub-populations tested apart (subpop.py), on any tier


def decide(audit: Audit) -> list[Decision]:
    """One decision per task type of the audit, largest task first, from the tests the audit ran: a tier meets
    the bar when its test ended proven; the bound shown is at the level the decision used."""
    config, fam = audit.config, audit.meta.family
    errors: dict[tuple[str, str], int] = {}
    unmeasured: dict[str, list[str]] = {}  # task -> why each of its cheaper-tier samples has no verdict
    for r in audit.results:
        if r.error and r.reference is not None:
            errors[(r.task, r.tier)] = errors.get((r.task, r.tier), 0) + 1
        if (r.error or r.passed is None) and r.tier != config.reference.name:
            unmeasured.setdefault(r.task, []).append(f"tier {r.tier}: {r.error or r.reason}")
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
        decision = _prediction_powered(_decision(task, audit, config, fam, tuple(evidence),
                                                 unmeasured.get(task, [])), audit)
        open_ended = decision.status != "unaudited" and _needs_judge(task, audit)  # failures are said first
        decisions.append(_evidence_only(decision, audit) if open_ended else decision)
    return decisions


def _prediction_powered(d: Decision, audit: Audit) -> Decision:
    """A prediction_powered task's decision names its evidence: the cheap scorer on every sample, the judge's
    labels on a random few, and the test of the labelled pass rate both make (decide/ppi.py)."""
    spec, choice = audit.config.spec_for(d.task), audit.meta.scorers.get(d.task)
    pi = spec.fraction if isinstance(spec, PredictionPoweredSpec) else \
        audit.meta.labels_fraction if audit.config.sample.sequential else None
    if pi is None or d.evidence_tier is None:
        return d
    scored = [r for r in audit.results if r.task == d.task and r.tier == d.evidence_tier and r.passed is not None]
    z, labels = values(scored, pi), sum(r.reason.startswith((JUDGE_LABEL, IMPORTED)) for r in scored)
    name = choice.scorer if isinstance(spec, PredictionPoweredSpec) and choice else \
        f"prediction-powered: {(choice.checked or choice.scorer) if choice else 'the scorer'}"
    estimate = f", labelled pass rate estimated {sum(z) / len(z):.3f}" if z else ""
    return replace(d, reason=f"{name} on {len(scored)} samples + {labels} labels ({d.evidence_tier}{estimate}; "
                             f"'passed' is what the labels and the scorer together estimate; the bound is on the "
                             f"labelled pass rate): {d.reason}")


def _needs_judge(task: str, audit: Audit) -> bool:
    """`auto` found open-ended answers and no judge, and labels did not grade every scored cheaper answer."""
    choice = audit.meta.scorers.get(task)
    if choice is None or not choice.needs_judge or audit.meta.labels_fraction and audit.config.sample.sequential:
        return False  # (random labels under --labels-fraction: the test is about them, prediction-powered)
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


def _decision(task: str, audit: Audit, config: Config, fam: Family, evidence: tuple[TierEvidence, ...],
              unmeasured: list[str]) -> Decision:
    q, ref = config.quality, config.reference
    requests, replayable = audit.requests(task), audit.replayable(task)
    sampled = max((e.scored for e in evidence), default=0)
    scorer = config.spec_for(task).scorer
    chosen = next((e for e in evidence if e.meets), None)
    parts = tuple(p for p in audit.meta.subpopulations if p.task == task)
    if chosen:
        level = f"{1 - fam.alpha:.4g} per test ({q.confidence:g} for the whole audit)"
        if config.sample.sequential:  # the policy's Holm level, shared by money at stake
            level = (f"{1 - (audit.tests[(task, chosen.tier)].level or 0):.4g} per test ({q.confidence:g} for the "
                     f"whole audit, shared by money at stake)")
        reason = (f"{chosen.tier}: {chosen.passed}/{chosen.scored} passed; lower bound {chosen.lower_bound or 0:.3f}"
                  f" >= target {q.target:g} at confidence {level}")
        apart = [p for p in parts if p.tier == chosen.tier]
        if apart:
            reason += "; and each part whose pass rate differed, tested apart: " + "; ".join(
                f"{p.feature} {p.part!r} {p.passed}/{p.scored}" for p in apart)
        return Decision(task, requests, sampled, chosen.tier, chosen.model, chosen.pass_rate or 0.0,
                        chosen.lower_bound or 0.0, scorer, reason, evidence, parts=parts,
                        evidence_tier=chosen.tier)

    scored = [e for e in evidence if e.scored]
    best = max(scored, key=lambda e: (e.pass_rate or 0.0, e.scored)) if scored else None

    def keep(reason: str, status: str, more: int | None = None, tier: str | None = None,
             cost: float | None = None) -> Decision:
        return Decision(task, requests, sampled, ref.name, ref.model, 1.0, 1.0, scorer, reason, evidence, status,
                        more, tier or (best.tier if best else None), cost, parts)

    # a part tested apart stopped a tier that, as a whole, clears the bar (proven, or on course when it stopped)
    held = next((p for e in evidence for p in parts if p.tier == e.tier and p.state != "proven" and (
        (e.lower_bound or 0.0) >= q.target or p.state != "open" and (e.pass_rate or 0.0) > q.target)), None)
    if held is not None:
        return keep(_held_back(held), "kept")

    if unmeasured:  # an endpoint failure is not a quality verdict: it stays on the reference, said so
        return keep(f"could not be audited: {len(unmeasured)} cheaper-tier samples failed or have no score "
                    f"(first: {unmeasured[0]}); fix the cause and re-run (cached answers cost nothing)", "unaudited")
    if config.sample.sequential:  # the policy's status: proven, shown below the bar, or why it did not move
        status = audit.statuses.get(task)
        if status is None:
            return keep("not enough traffic to decide: no replayable requests", "not-enough-traffic")
        return keep(status.reason, KEPT_AS.get(status.kind, "undecided"), status.more_samples, status.tier,
                    status.more_cost_usd)
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


HELD = {"futile": "shown below the bar", "capped": "too few of its samples left to prove it",
        "open": "not proven when sampling stopped"}


def _held_back(p: PartTest) -> str:
    """Why a task whose pooled pass rate clears the bar stays: a part of it tested apart did not."""
    return (f"a sub-population holds it back on {p.tier}: {p.feature} {p.part!r} ({p.share:.0%} of the sample) "
            f"{p.reason}; tested apart on its later samples it passed {p.passed}/{p.scored}: {HELD[p.state]}. "
            f"The task moves only when each such part proves the bar; tag it as a task of its own to move the rest")
