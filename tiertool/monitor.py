"""`tiertool monitor LOG --tiers tiers.yaml`: is each cheaper tier still good enough on live traffic?

Traffic in LOG already follows the assignment, so the cheap tiers' answers are in the log. For each task on a
cheaper tier, sample its requests answered by the assigned model, replay the reference model on the sample
(cache first), score the logged answer against it, and flag the task when its pass rate is proven below the bar.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, cache_key
from .config import Config
from .errors import InputError, ReplayError
from .ingest import read_logs
from .prices import same_model
from .records import Request
from .replay import Call, Replayer
from .sample import Sampler
from .score import make_scorer
from .sequential import exact_lower_bound, upper_bound


@dataclass(frozen=True)
class TaskHealth:
    task: str
    tier: str
    model: str
    requests: int  # the task's requests in the log
    on_tier: int  # of those, answered by the assigned model
    scored: int
    passed: int
    errors: int
    pass_rate: float | None
    lower_bound: float | None
    upper_bound: float | None
    status: str  # ok | below | unproven | no traffic

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


def monitor(logs: list[Path], config: Config, assignment: dict[str, str], cache_path: Path,
            per_task: int | None = None, seed: int = 0, offline: bool = False,
            log: Callable[[str], None] = lambda _m: None) -> MonitorResult:
    tiers = {t.name: t for t in config.tiers}
    ref = config.reference
    watched = {task: tiers[tier] for task, tier in assignment.items() if tier in tiers and tier != ref.name}
    unknown = sorted({tier for tier in assignment.values() if tier not in tiers})
    if unknown:
        raise InputError(f"tiers file assigns tier(s) {', '.join(unknown)} that the config does not define "
                         f"(tiers: {', '.join(tiers)}); pass the config the assignment was made with (--config)")
    reader = read_logs(logs, None, config.group_by, semantic=config.semantic_tasks)
    sampler = Sampler(per_task or config.sample.per_task, seed)
    requests: Counter[str] = Counter()
    on_tier: Counter[str] = Counter()
    for req in reader:
        tier = watched.get(req.task)
        if tier is None:
            continue
        requests[req.task] += 1
        if req.replayable and req.output is not None and same_model(req.model, tier.model):
            on_tier[req.task] += 1
            sampler.add(req)
    samples = sampler.samples()
    log(f"read {reader.stats.records} records; {sum(map(len, samples.values()))} sampled on their assigned tier")
    cache = Cache(cache_path)
    calls = {req.id: Call(cache_key(ref.model, req.messages, req.params), ref, req.messages, req.params)
             for reqs in samples.values() for req in reqs}
    replayer = Replayer(cache, config.replay, offline=offline)
    error = None
    try:
        answers = replayer.run(list(calls.values()))
    except ReplayError as e:
        answers, error = replayer.answers, str(e)
    cache.close()
    alpha = (1 - config.quality.confidence) / max(1, len(watched))
    health = [_health(task, tier, samples.get(task, []), calls, answers, config, alpha, requests[task], on_tier[task])
              for task, tier in sorted(watched.items())]
    rs = replayer.stats
    return MonitorResult(tuple(health), config.quality.target, config.quality.confidence, ref.model, rs.sent,
                         rs.cached, rs.failed, error)


def _health(task: str, tier, sample: list[Request], calls, answers, config: Config, alpha: float, requests: int,
            on_tier: int) -> TaskHealth:
    scorer = make_scorer(config.spec_for(task))
    k = n = errors = 0
    for req in sample:
        ref = answers.get(calls[req.id].key)
        if ref is None or ref.text is None:
            errors += 1
            continue
        n += 1
        k += bool(scorer(req.output or "", ref.text).passed)
    target = config.quality.target
    if n == 0:
        return TaskHealth(task, tier.name, tier.model, requests, on_tier, 0, 0, errors, None, None, None,
                          "no traffic")
    lb = exact_lower_bound(k, n, alpha)
    ub = upper_bound(k, n, alpha)
    status = "ok" if lb >= target else "below" if ub < target else "unproven"
    return TaskHealth(task, tier.name, tier.model, requests, on_tier, n, k, errors, k / n, lb, ub, status)


def render(result: MonitorResult) -> str:
    import io

    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=120, no_color=True, highlight=False)
    table = Table(title=f"tiertool monitor: bar {result.target:g} at {result.confidence:g} confidence, "
                        f"reference {result.reference}")
    for col in ("task", "tier", "requests", "on tier", "scored", "pass rate", "interval", "status"):
        table.add_column(col, justify="left" if col in ("task", "tier", "status") else "right")
    for t in result.tasks:
        interval = "-" if t.lower_bound is None else f"{t.lower_bound:.1%}-{t.upper_bound:.1%}"
        table.add_row(t.task, t.tier, f"{t.requests:,}", f"{t.on_tier:,}", str(t.scored),
                      "-" if t.pass_rate is None else f"{t.pass_rate:.1%}", interval,
                      "BELOW THE BAR" if t.flagged else t.status)
    console.print(table)
    console.print(f"{result.calls} reference calls sent, {result.cache_hits} cache hits, {result.failed} failed",
                  markup=False)
    return buf.getvalue()


def as_dict(result: MonitorResult) -> dict:
    from dataclasses import asdict

    return {"target": result.target, "confidence": result.confidence, "reference": result.reference,
            "calls": result.calls, "cache_hits": result.cache_hits, "failed": result.failed, "error": result.error,
            "tasks": [{**asdict(t), "flagged": t.flagged} for t in result.tasks]}
