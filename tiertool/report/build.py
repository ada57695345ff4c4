"""Build the typed report (model.py) from an audit and its recommendation: the decisions with their evidence,
the facts a reader needs (facts.py), the savings, the CI gates (gates.py), examples and redaction on request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ..config.assignment import load_tiers
from ..decide.agreement import by_task, labelled_bounds, position_disagreement
from ..decide.decisions import Decision
from ..decide.recommendation import Recommendation, recommend
from ..defaults import DRIFT_THRESHOLD, TIERS_FILE
from ..errors import InputError
from ..pricing.savings import TaskCost
from ..store import Audit
from . import gates as g
from .examples import reference_accuracy, worst_examples
from .facts import setting_warnings, task_facts, warnings
from .model import (
    AgreementRow,
    AuditRow,
    CascadeRow,
    Failure,
    PartRow,
    PositionRow,
    Quality,
    Report,
    SavingsRow,
    TaskRow,
    TierName,
    TierRow,
)
from .redact import redact_report


def build_report(audit: Audit, *, tiers: str | Path | None = None, examples: int = 0,
                 today: date | str | None = None, check: bool = False, baseline: str | Path | None = None,
                 fail_under_savings: str | None = None, new_logs: Sequence[str | Path] = (),
                 drift_threshold: float = DRIFT_THRESHOLD, redact: bool = False, allow_incomplete: bool = False,
                 all_deprecations: bool = False) -> Report:
    """What `tiertool report` shows: the report of an audit (a `tiers` file's assignment instead of fresh
    decisions, when given), with the CI gates when `check` (or any gate option) asks, examples and redaction.
    An incomplete audit fails the `audit` gate unless `allow_incomplete`; deprecations further than 90 days
    away are left out unless `all_deprecations`."""
    day = _day(today)
    floor = g.parse_fraction(fail_under_savings) if fail_under_savings is not None else None
    assignment = load_tiers(tiers) if tiers else None
    rec = recommend(audit, assignment)
    report = build(audit, rec, examples=examples, today=day, all_deprecations=all_deprecations)
    if check or baseline is not None or floor is not None or new_logs:
        base = Path(baseline) if baseline else Path(tiers) if tiers else (
            Path(TIERS_FILE) if Path(TIERS_FILE).is_file() else None)
        if baseline is not None and not Path(baseline).is_file():
            raise InputError(f"{baseline}: baseline tiers file not found (--baseline)")
        fresh = recommend(audit) if assignment else rec
        report.gates = g.run_gates(report, fresh, base, floor, day, list(new_logs), drift_threshold,
                                   allow_incomplete)
    return redact_report(report) if redact else report


def build(audit: Audit, rec: Recommendation, examples: int = 0, today: date | None = None,
          all_deprecations: bool = False) -> Report:
    """The report of a recommendation; `examples` adds that many worst examples per task."""
    total = sum(d.requests for d in rec.decisions) or 1
    costs = {t.task: t for t in rec.savings.by_task}
    chosen = audit.meta.scorers
    config, meta = rec.config, audit.meta
    tasks = []
    checks = scorer_checks(audit)
    for d in rec.decisions:
        row = _task_row(d, total, costs.get(d.task), audit, rec)
        if d.task in chosen:  # what `auto` (or the config) picked, and why
            row.scorer, row.scorer_reason = chosen[d.task].scorer, chosen[d.task].reason
        row.agreement, row.judge_position = checks.get(d.task, (None, None))
        tasks.append(row)
    report = Report(
        tasks=tasks, savings=savings_row(rec), cascade=cascade_rows(rec),
        quality=Quality(target=config.quality.target, confidence=config.quality.confidence),
        reference=TierName(tier=config.reference.name, model=config.reference.model),
        tier_models={t.name: t.model for t in config.tiers},
        audit=AuditRow(logs=list(meta.logs), records=meta.records, skipped=meta.skipped, calls=meta.calls,
                       cache_hits=meta.cache_hits, failed=meta.failed, spend_usd=round(meta.spend_usd, 6),
                       error=meta.error, typing=meta.typing,
                       failures=[Failure(request_id=r.request_id, source=r.source, task=r.task, tier=r.tier,
                                         error=r.error) for r in audit.results if r.error],
                       incomplete=audit.incomplete),
        reference_accuracy=reference_accuracy(audit) or None,
    )
    report.warnings = warnings(report, today, all_deprecations) + setting_warnings(audit)
    if examples > 0:
        report.examples = worst_examples(audit, examples)
    return report


def _task_row(d: Decision, total: int, cost: TaskCost | None, audit: Audit, rec: Recommendation) -> TaskRow:
    return TaskRow(
        task=d.task, requests=d.requests, share=round(d.requests / total, 4), tier=d.tier, model=d.model,
        sampled=d.sampled, pass_rate=round(d.pass_rate, 4), lower_bound=round(d.lower_bound, 4), scorer=d.scorer,
        status=d.status, reason=d.reason, more_samples=d.more_samples, evidence_tier=d.evidence_tier,
        more_cost_usd=_round(d.more_cost_usd, 4),
        current_usd=round(cost.current_usd, 6) if cost else None,
        projected_usd=round(cost.projected_usd, 6) if cost else None,
        tiers=[TierRow(tier=e.tier, model=e.model, scored=e.scored, passed=e.passed, errors=e.errors,
                       pass_rate=_round(e.pass_rate, 4), lower_bound=_round(e.lower_bound, 4), meets_bar=e.meets)
               for e in d.evidence],
        subpopulations=[PartRow(tier=p.tier, feature=p.feature, part=p.part, share=p.share,
                                separated_because=p.reason, scored=p.scored, passed=p.passed, state=p.state)
                        for p in d.parts] or None,
        **task_facts(audit, rec, d.task),
    )


def scorer_checks(audit: Audit) -> dict[str, tuple[AgreementRow | None, PositionRow | None]]:
    """Per task: the scorer's agreement with labels, and the judge's position disagreement."""
    def interval(x: tuple[float, float] | None) -> list[float] | None:
        return None if x is None else [round(x[0], 4), round(x[1], 4)]

    out: dict[str, tuple[AgreementRow | None, PositionRow | None]] = {}
    ref, pi = audit.config.reference.name, audit.meta.labels_fraction
    bounds = labelled_bounds(audit.results, ref, pi, 1 - audit.config.quality.confidence) if pi else {}
    for task, a in by_task(audit.results, ref).items():
        choice = audit.meta.scorers.get(task)
        out[task] = (AgreementRow(
            scorer=(choice.checked or choice.scorer) if choice else "the task's scorer", labelled=a.labelled,
            scorer_pass_rate=round(a.scorer_pass_rate, 4),
            label_pass_rate=round(a.label_pass_rate, 4), kappa=_round(a.kappa, 4),
            kappa_interval=interval(a.kappa_interval), precision=_round(a.precision, 4),
            precision_interval=interval(a.precision_interval), recall=_round(a.recall, 4),
            recall_interval=interval(a.recall_interval), warning=a.warning,
            ppi_lower_bounds={t: round(b, 4) for t, b in bounds[task].items()} if task in bounds else None), None)
    for task, (disagreed, judged) in position_disagreement(audit.results).items():
        out[task] = (out.get(task, (None, None))[0],
                     PositionRow(judged=judged, disagreed=disagreed, rate=round(disagreed / judged, 4)))
    return out


def savings_row(rec: Recommendation) -> SavingsRow:
    """The savings as finance checks them: per 30 days with an interval, the oracle, the audit's own cost."""
    s = rec.savings
    monthly = s.per_30_days(s.saved_usd)
    oracle_saved = s.current_usd - rec.oracle_usd if rec.oracle_usd is not None else None
    return SavingsRow(
        current_usd=round(s.current_usd, 6), projected_usd=round(s.projected_usd, 6),
        saved_usd=round(s.saved_usd, 6), saved_fraction=round(s.saved_fraction, 4),
        period_days=round(s.period_days, 3) if s.period_days else None,
        monthly_current_usd=_round(s.per_30_days(s.current_usd), 6),
        monthly_projected_usd=_round(s.per_30_days(s.projected_usd), 6), monthly_saved_usd=_round(monthly, 6),
        monthly_saved_interval_usd=[round(x, 6) for x in s.interval_30d] if s.interval_30d else None,
        sources={t.task: t.source for t in s.by_task}, unpriced_models=list(s.unpriced),
        oracle_saved_usd=_round(oracle_saved, 6),
        oracle_captured=round(s.saved_usd / oracle_saved, 4) if oracle_saved and oracle_saved > 0 else None,
        audit_cost_usd=round(rec.audit_cost_usd, 6),
        break_even_days=round(rec.audit_cost_usd / (monthly / 30), 2) if monthly and monthly > 0 else None,
    )


def cascade_rows(rec: Recommendation) -> dict[str, CascadeRow]:
    return {c.task: CascadeRow(try_tier=c.tier, check=c.check, sampled=c.sampled,
                               escalation_rate=round(c.escalation_rate, 4), quality=round(c.quality, 4),
                               quality_lower_bound=round(c.quality_lower_bound, 4),
                               expected_cost_usd=round(c.expected_cost_usd, 6),
                               reference_cost_usd=round(c.reference_cost_usd, 6)) for c in rec.cascades}


def _round(x: float | None, places: int) -> float | None:
    return None if x is None else round(x, places)


def _day(value: date | str | None) -> date:
    if value is None:
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--today {value}: expected a date like 2026-12-31") from None
