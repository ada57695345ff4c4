"""`tiertool audit`: read the log, sample each task type, replay the sample on cheaper tiers, score, store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .cache import Cache, cache_key
from .config import Config, Tier
from .errors import ReplayError
from .ingest import read_logs
from .prices import same_model
from .records import Answer, Request
from .replay import UNSENT, Call, Replayer
from .sample import Sampler
from .score import make_scorer
from .store import Result, save_audit
from .volume import Volume


@dataclass(frozen=True)
class AuditSummary:
    folder: Path
    records: int
    skipped: int
    tasks: int
    sampled: int
    calls_sent: int
    cache_hits: int
    failed: int
    missing_offline: int
    error: str | None = None  # a tier that could not be called at all
    over_budget: int = 0  # calls not sent because --budget would not cover them
    unsent: tuple[str, ...] = ()  # "file:line on tier" of every answer neither cached nor sent


def _from_log(req: Request, tier: Tier) -> bool:
    return req.output is not None and same_model(req.model, tier.model)


def run_audit(logs: list[str | Path], config: Config, out: str | Path = ".tiertool", seed: int = 0,
              offline: bool = False, fmt: str | None = None, group_by: str | None = None,
              log: Callable[[str], None] = lambda _msg: None,
              replay_options: dict[str, Any] | None = None) -> AuditSummary:
    """Run the audit and store its evidence in `out`; returns what happened, counts reconciled.

    `replay_options` go to the Replayer (budget, approve, progress); a declined plan raises PlanDeclined.
    """
    out = Path(out)
    reader = read_logs(logs, fmt, group_by or config.group_by)
    volume, sampler = Volume(), Sampler(config.sample.per_task, seed)
    for req in reader:
        volume.add(req)
        if req.replayable:
            sampler.add(req)
    stats = reader.stats
    samples = sampler.samples()
    log(f"read {stats.records} records from {len(reader.paths)} file(s), skipped {stats.skipped}; "
        f"{len(samples)} task types with replayable requests")

    cache = Cache(config.path(config.replay.cache) if config.replay.cache else out / "cache.sqlite")
    for rec in config.replay.recorded:
        cache.load_recorded(config.path(rec))

    # What each sampled request needs: the reference answer and one answer per cheaper tier.
    plan: list[tuple[Request, Tier, Answer | Call]] = []
    for reqs in samples.values():
        for req in reqs:
            for tier in config.tiers:
                if _from_log(req, tier):
                    plan.append((req, tier, Answer(req.output, "log")))
                else:
                    plan.append((req, tier, Call(cache_key(tier.model, req.messages, req.params), tier,
                                                 req.messages, req.params, req.input_tokens, req.output_tokens)))
    calls = [item for _, _, item in plan if isinstance(item, Call)]
    log(f"{sum(len(v) for v in samples.values())} sampled requests need {len({c.key for c in calls})} "
        f"answers not in the log")
    replayer = Replayer(cache, config.replay, offline=offline, **(replay_options or {}))
    error = None
    try:
        answers = replayer.run(calls)
    except ReplayError as e:
        answers, error = replayer.answers, str(e)

    results = list(_score(plan, answers, config))
    rs = replayer.stats
    meta = {
        "version": __version__, "created": time.time(), "logs": [str(p) for p in reader.paths],
        "seed": seed, "offline": offline, "config": config.model_dump(mode="json"),
        "formats": stats.formats, "lines": stats.lines, "records": stats.records, "skipped": stats.skipped,
        "skip_reasons": dict(stats.reasons), "skip_examples": [[s.source, s.reason] for s in stats.examples],
        "first_time": volume.first, "last_time": volume.last,
        "calls": rs.sent, "cache_hits": rs.cached, "failed": rs.failed, "retried": rs.retried,
        "spend_usd": rs.spend, "missing_offline": len(rs.missing), "error": error,
        "budget_usd": replayer.budget.cap, "over_budget": rs.over_budget,
    }
    save_audit(out, meta, volume.by, results)
    cache.close()
    return AuditSummary(out, stats.records, stats.skipped, len({t for t, _ in volume.by}),
                        sum(len(v) for v in samples.values()), rs.sent, rs.cached, rs.failed,
                        len(rs.missing), error, rs.over_budget, _unsent(plan, answers))


def _unsent(plan: list[tuple[Request, Tier, Answer | Call]], answers: dict[str, Answer]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(
        f"{req.source} on tier {tier.name}" for req, tier, item in plan
        if isinstance(item, Call) and (answers.get(item.key) or Answer(None, UNSENT)).origin == UNSENT))


def _score(plan: list[tuple[Request, Tier, Answer | Call]], answers: dict[str, Answer], config: Config):
    ref_tier = config.reference
    resolved: dict[tuple[str, str], Answer | None] = {}
    for req, tier, item in plan:
        resolved[(req.id, tier.name)] = item if isinstance(item, Answer) else answers.get(item.key)
    scorers = {}
    for req, tier, _ in plan:
        if tier is ref_tier:
            continue
        if req.task not in scorers:
            scorers[req.task] = make_scorer(config.spec_for(req.task))
        ref = resolved[(req.id, ref_tier.name)]
        got = resolved[(req.id, tier.name)]
        base = dict(request_id=req.id, source=req.source, task=req.task, tier=tier.name, model=tier.model,
                    reference=ref.text if ref else None, answer=got.text if got else None,
                    origin=got.origin if got else "missing")
        if ref is None or ref.text is None:
            why = ref.error if ref and ref.error else "no reference answer (offline and not cached)"
            yield Result(**base, value=None, passed=None, reason=f"unscored: {why}")
        elif got is None:
            yield Result(**base, value=None, passed=None, reason="unscored: no answer (offline and not cached)")
        elif got.text is None and got.origin == UNSENT:
            yield Result(**base, value=None, passed=None, reason=f"unscored: {got.error}", error=got.error)
        elif got.text is None:
            yield Result(**base, value=0.0, passed=False, reason="call failed", error=got.error)
        else:
            s = scorers[req.task](got.text, ref.text)
            yield Result(**base, value=s.value, passed=s.passed, reason=s.reason)
