"""`tiertool monitor LOG --tiers tiers.yaml`: is each cheaper tier still good enough on live traffic?

Traffic in LOG already follows the assignment, so the cheap tiers' answers are in the log. For each task on a
cheaper tier, sample its requests answered by the assigned model (ingest's one pass: inferred task types get the
names the audit gave them), replay the reference model on the sample (cache first), grade the logged answer
against it with the audit's Grader (labels, `auto`, the judge), and flag the task when its pass rate is proven
below the bar. With a gate (tiertool.gate), each task type it routes is watched too: its requests answered by
the gate's cheaper model are the gate's routed traffic, checked like any cheaper tier.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, Tier
from ..decide.sequential import exact_lower_bound, upper_bound
from ..errors import InputError, ReplayError
from ..ingest import Traffic, scan
from ..pricing.prices import same_model
from ..records import Answer, Call, Request, Result
from ..replay import Cache, Replayer, carry_check
from ..scorers.grade import Grader
from ..text import printable

if TYPE_CHECKING:
    from ..gate import Gate


@dataclass(frozen=True)
class TaskHealth:
    task: str
    tier: str
    model: str
    requests: int  # the task's requests in the log
    on_tier: int  # of those, answered by the assigned model (with the answer logged)
    scored: int
    passed: int
    errors: int  # sampled requests that could not be graded (no reference answer, judge failed)
    pass_rate: float | None
    lower_bound: float | None
    upper_bound: float | None
    # ok | below | unproven | no traffic | not scored (answers on the tier, none graded) | not replayable (the
    # tier served the task, but none of those requests can be sent to the reference as logged)
    status: str
    share: float | None = None  # of the task's requests, the share its model served (an audited router's split)
    gate: bool = False  # watched because the gate routes part of it (the traffic is the gate's routed requests)

    @property
    def flagged(self) -> bool:
        return self.status == "below"


@dataclass(frozen=True)
class MonitorResult:
    tasks: tuple[TaskHealth, ...]
    target: float
    confidence: float
    reference: str
    calls: int
    cache_hits: int
    failed: int
    error: str | None = None

    @property
    def flagged(self) -> list[TaskHealth]:
        return [t for t in self.tasks if t.flagged]

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "confidence": self.confidence, "reference": self.reference,
                "calls": self.calls, "cache_hits": self.cache_hits, "failed": self.failed, "error": self.error,
                "tasks": [{**asdict(t), "flagged": t.flagged} for t in self.tasks]}

    def text(self) -> str:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        buf = io.StringIO()
        console = Console(file=buf, width=120, no_color=True, highlight=False)
        table = Table(title=f"tiertool monitor: bar {self.target:g} at {self.confidence:g} confidence, "
                            f"reference {self.reference}")
        router = any(t.share is not None for t in self.tasks)
        for col in ("task", "tier", "requests", *(("served",) if router else ()), "on tier", "scored", "pass rate",
                    "interval", "status"):
            table.add_column(col, justify="left" if col in ("task", "tier", "status") else "right")
        for t in self.tasks:
            interval = "-" if t.lower_bound is None else f"{t.lower_bound:.1%}-{t.upper_bound:.1%}"
            served = (f"{t.share:.1%}" if t.share is not None else "-",) if router else ()
            tier = f"{t.tier} (gate)" if t.gate else t.tier
            table.add_row(escape(printable(t.task)), escape(printable(tier)), f"{t.requests:,}", *served,
                          f"{t.on_tier:,}", str(t.scored),
                          "-" if t.pass_rate is None else f"{t.pass_rate:.1%}", interval,
                          "BELOW THE BAR" if t.flagged else t.status)
        console.print(table)
        console.print(f"{self.calls} reference calls sent, {self.cache_hits} cache hits, {self.failed} failed",
                      markup=False)
        return buf.getvalue()


def monitor(logs: Sequence[str | Path], config: Config, assignment: dict[str, str] | None, cache_path: str | Path,
            per_task: int | None = None, seed: int = 0, offline: bool = False,
            log: Callable[[str], None] = lambda _m: None, gate: Gate | None = None) -> MonitorResult:
    """Re-grade every task the assignment moved to a cheaper tier, and every task `gate` routes part of, on the
    newer log `logs`. With no assignment (traffic split by some other router), every cheaper tier that served
    part of a task is checked."""
    tiers = {t.name: t for t in config.tiers}
    ref = config.reference
    unknown = sorted({tier for tier in (assignment or {}).values() if tier not in tiers})
    if unknown:
        raise InputError(f"tiers file assigns tier(s) {', '.join(unknown)} that the config does not define "
                         f"(tiers: {', '.join(tiers)}); pass the config the assignment was made with (--config)")
    # a request the reference cannot be sent as logged (replay.carry) is not replayed: its answer would grade
    # the logged answer against a reply to another request
    traffic = scan(logs, None, config.group_by, sample=per_task or config.sample.per_task, seed=seed,
                   sample_if="answered", semantic=config.semantic_tasks, steps=config.agent_steps,
                   check=carry_check([ref]))
    if assignment is None:
        watched = [(task, t) for task in traffic.tasks for t in config.tiers
                   if t.name != ref.name and traffic.eligible(task, _on(t))]
    else:
        watched = [(task, tiers[tier]) for task, tier in sorted(assignment.items()) if tier != ref.name]
    gated = _gated(gate, config, {task for task, _ in watched}) if gate is not None else {}
    watched += gated.items()
    samples = {(task, tier.name): traffic.sample(task, _on(tier)) for task, tier in watched}
    log(f"read {traffic.stats.records} records; {sum(map(len, samples.values()))} sampled on their assigned tier")
    calls = {req.source: Call.to(ref, req.messages, req.params) for reqs in samples.values() for req in reqs}
    cache = Cache(cache_path)
    replayer = Replayer(cache, config.replay, offline=offline, prices=config.prices)
    grader = Grader(config, caller=replayer)
    error = None
    try:
        grader.check(dict.fromkeys(task for task, tier in watched if samples[(task, tier.name)]))
        answers = replayer.run(list(calls.values()))
    except ReplayError as e:
        answers, error = replayer.answers, str(e)
    items: list[tuple[Request, Tier]] = []
    resolved: dict[tuple[str, str], Answer | None] = {}
    for task, tier in watched:
        for req in samples[(task, tier.name)]:
            items += [(req, tier), (req, ref)]
            resolved[(req.source, tier.name)] = req.logged_answer() or Answer(None, "log")
            resolved[(req.source, ref.name)] = answers.get(calls[req.source].key)
    graded = grader.grade(items, resolved, ref) if items else []
    cache.close()
    alpha = (1 - config.quality.confidence) / max(1, len(watched))
    health = [replace(_health(task, tier, traffic, [r for r in graded if r.task == task and r.tier == tier.name],
                              config.quality.target, alpha, share=assignment is None), gate=task in gated)
              for task, tier in watched]
    rs = replayer.stats
    return MonitorResult(tuple(health), config.quality.target, config.quality.confidence, ref.model, rs.sent,
                         rs.cached, rs.failed, error or grader.error)


def _gated(gate: Gate, config: Config, watched: set[str]) -> dict[str, Tier]:
    """The task types the gate routes part of (those the assignment moved whole are watched already)."""
    tier = next((t for t in config.tiers if same_model(t.model, gate.cheap)), None)
    if tier is None:
        raise InputError(f"the gate routes to {gate.cheap}, which no tier of the config serves: pass the config "
                         "the gate was built with (--config)")
    return {task: tier for task, tg in sorted(gate.tasks.items()) if tg.threshold is not None and task not in watched}


def _on(tier: Tier) -> Callable[[str], bool]:
    return lambda model: same_model(model, tier.model)


def _health(task: str, tier: Tier, traffic: Traffic, results: list[Result], target: float, alpha: float,
            share: bool = False) -> TaskHealth:
    scored = [r for r in results if r.passed is not None]
    n, k = len(scored), sum(bool(r.passed) for r in scored)
    requests = traffic.tasks[task].requests if task in traffic.tasks else 0
    on_tier = traffic.eligible(task, _on(tier))
    served = _served(traffic, task, tier) / requests if share and requests else None
    if n == 0:  # "no traffic" only when the log has none on the tier; else nothing could be graded (the error)
        why = ("not scored" if on_tier else "not replayable" if _served(traffic, task, tier) else "no traffic")
        return TaskHealth(task, tier.name, tier.model, requests, on_tier, 0, 0, len(results), None, None, None,
                          why, served)
    lb = exact_lower_bound(k, n, alpha)
    ub = upper_bound(k, n, alpha)
    status = "ok" if lb >= target else "below" if ub < target else "unproven"
    return TaskHealth(task, tier.name, tier.model, requests, on_tier, n, k, len(results) - n, k / n, lb, ub, status,
                      served)


def _served(traffic: Traffic, task: str, tier: Tier) -> int:
    """The task's requests the tier's model answered (replayable or not), from the volume table."""
    return sum(u.requests for key, u in traffic.volume.items()
               if key.task == task and same_model(key.model, tier.model))
