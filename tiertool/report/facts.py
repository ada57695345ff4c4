"""Facts the report adds to the decisions: traffic that could be replayed, how tasks were typed, what each
task would cost on every tier, and the warnings a reader must see before trusting a recommendation.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..config import unknown_tasks
from ..decide.recommendation import Recommendation
from ..pricing.prices import lookup
from ..pricing.savings import MIN_DAYS, period_days, project, span_text
from ..records import INFERRED_SOURCES, TASK_SOURCES
from ..store import Audit
from .model import Report, ReportWarning, TaskRow

NON_REPLAYABLE_WARN = 0.10  # warn when a task could replay less than 90% of its requests
DEPRECATION_SOON_DAYS = 90  # nearer deprecations are warned of (all of them with --all-deprecations)


def task_facts(audit: Audit, rec: Recommendation, task: str) -> dict[str, Any]:
    """Fields of one task row beside its decision: replayable traffic, typing, cost on every tier."""
    groups = {k: u for k, u in audit.volume.items() if k.task == task}
    requests = sum(u.requests for u in groups.values())
    replayable = sum(u.replayable for u in groups.values())
    days = period_days(audit.meta.first_time, audit.meta.last_time)
    cost_by_tier: dict[str, float | None] = {}
    for tier in rec.config.tiers:
        scale = {task: audit.meta.output_scale.get(task, {}).get(tier.name, 1.0)}
        s = project(groups, {task: tier.model}, days, rec.config.prices, scale)
        cost_by_tier[tier.name] = None if s.unpriced else round(s.projected_usd, 6)
    sources = audit.meta.task_sources.get(task) or {}
    return {"replayable": replayable, "replayable_share": round(replayable / requests, 4) if requests else 0.0,
            "task_sources": dict(sorted(sources.items())), "cost_by_tier": cost_by_tier}


def by_log(source: str) -> bool:
    """Whether a task_source is a task key the log carries (not inferred from the prompt, not untyped)."""
    return source in TASK_SOURCES and source not in (*INFERRED_SOURCES, "none")


def inferred(sources: dict[str, int]) -> int:
    """Requests of a task not typed by a task key in the log: inferred from the prompt, or untyped."""
    return sum(n for src, n in sources.items() if not by_log(src))


def deprecations(models: dict[str, list[str]], today: date, horizon: int | None = DEPRECATION_SOON_DAYS
                 ) -> list[tuple[str, str, list[str], bool]]:
    """(model, deprecation date, tasks, already past) for assigned models the price map dates within
    `horizon` days (None: any date)."""
    out = []
    for model, tasks in sorted(models.items()):
        price = lookup(model)
        if price is None or not price.deprecation_date:
            continue
        try:
            when = date.fromisoformat(str(price.deprecation_date)[:10])
        except ValueError:
            continue
        if horizon is None or (when - today).days <= horizon:
            out.append((model, when.isoformat(), sorted(tasks), when <= today))
    return out


def assigned_models(tasks: list[TaskRow]) -> dict[str, list[str]]:
    models: dict[str, list[str]] = {}
    for t in tasks:
        models.setdefault(t.model, []).append(t.task)
    return models


FAILURES_LISTED = 10  # failed requests named in the warnings (the json lists them all)


def setting_warnings(audit: Audit) -> list[ReportWarning]:
    """Task settings of the audit's config that no task type took up (a misspelled task name, say)."""
    return [ReportWarning(kind="unknown_task", task=name, message=message)
            for name, message in unknown_tasks(audit.config, audit.tasks)]


POSITION_WARN = 0.2  # a judge whose verdict flips with the order this often is mostly reading positions


def warnings(report: Report, today: date | None = None, all_deprecations: bool = False) -> list[ReportWarning]:
    """What a reader must know before trusting the figures."""
    out: list[ReportWarning] = []

    def add(kind: str, message: str, task: str | None = None) -> None:
        out.append(ReportWarning(kind=kind, task=task, message=message))

    a, s = report.audit, report.savings
    if a.incomplete:
        add("audit_incomplete", f"audit incomplete: {a.incomplete}")
    if a.failed:
        add("replay_failures", f"{a.failed} replay calls failed after retries (counted as failures)")
    for f in a.failures[:FAILURES_LISTED]:
        add("replay_failure", f"{f.source} on tier {f.tier}: {f.error}", f.task)
    if len(a.failures) > FAILURES_LISTED:
        add("replay_failure", f"... and {len(a.failures) - FAILURES_LISTED} more failed requests "
            "(all in `tiertool report --format json`, key audit.failures)")
    total = sum(t.requests for t in report.tasks)
    replayable = sum(t.replayable for t in report.tasks)
    if total and replayable < total:
        add("non_replayable", f"{total - replayable:,} of {total:,} requests ({1 - replayable / total:.1%}) could not "
            "be replayed (no prompt captured, or the call failed): they count for cost only")
    for t in report.tasks:
        if t.agreement is not None and t.agreement.warning:
            add("scorer_agreement", f"{t.task}: scorer {t.scorer}: {t.agreement.warning}", t.task)
        if t.judge_position is not None and t.judge_position.rate >= POSITION_WARN:
            add("judge_position", f"{t.task}: the judge changed its verdict when the answers' order was swapped on "
                f"{t.judge_position.rate:.0%} of {t.judge_position.judged} answers (scored as failures): it is "
                "swayed by position; a stronger judge or a sharper rubric would help", t.task)
        if t.status == "not-enough-traffic":
            add("low_traffic", f"{t.task}: only {t.replayable:,} replayable requests; {t.more_samples or 0:,} "
                "more all-passing samples would be needed to prove any cheaper tier; it stays on the reference",
                t.task)
        if t.requests and 1 - t.replayable_share >= NON_REPLAYABLE_WARN:
            add("non_replayable", f"{t.task}: {1 - t.replayable_share:.0%} of its requests could not be "
                "replayed; the decision rests on the rest", t.task)
        n_inf = inferred(t.task_sources)
        if n_inf:
            how = ", ".join(f"{TASK_SOURCES.get(k, k)}: {v:,}" for k, v in t.task_sources.items() if not by_log(k))
            add("inferred_task_type", f"{t.task}: {n_inf:,} of {t.requests:,} requests were not typed by a "
                f"task key in the log ({how}); check that they belong together", t.task)
    horizon = None if all_deprecations else DEPRECATION_SOON_DAYS
    for model, when, tasks, past in deprecations(assigned_models(report.tasks), today or date.today(), horizon):
        add("deprecated_model", f"{model} (tasks {', '.join(tasks)}) "
            f"{'was deprecated on' if past else 'is deprecated on'} {when} per litellm's price map")
    if s.unpriced_models:
        add("unpriced", f"no price for {', '.join(s.unpriced_models)}: left out of the savings")
    if s.period_days is None:
        add("no_time_span", "the log has no usable time span: no per-30-day figures")
    elif s.period_days < MIN_DAYS:
        add("short_span", f"the log spans only {span_text(s.period_days)}: the per-30-day figures scale that up "
            f"and have no interval; audit {MIN_DAYS}+ days of traffic before quoting them")
    if a.skipped:
        add("skipped_lines", f"{a.skipped} log lines were skipped (see `tiertool audit` output)")
    return out
