"""`tiertool audit`: read the log, sample each task type, replay the sample on cheaper tiers, score, store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .cache import Cache, cache_key
from .config import Config, Tier
from .errors import ReplayError
from .ingest import read_logs
from .prices import same_model
from .records import Answer, Request
from .replay import Call, Replayer
from .sample import Sampler
from .scorers.grade import Grader, grade_results
from .scorers.labels import load_labels
from .store import save_audit
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


def _from_log(req: Request, tier: Tier) -> bool:
    return req.output is not None and same_model(req.model, tier.model)


def run_audit(logs: list[str | Path], config: Config, out: str | Path = ".tiertool", seed: int = 0,
              offline: bool = False, fmt: str | None = None, group_by: str | None = None,
              labels: str | Path | None = None, log: Callable[[str], None] = lambda _msg: None) -> AuditSummary:
    """Run the audit and store its evidence in `out`; returns what happened, counts reconciled."""
    out = Path(out)
    grader = Grader(config, load_labels(labels) if labels else None, offline)
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

    grader.check(samples)  # a scorer that cannot run fails here, before any replay call
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
                                                 req.messages, req.params)))
    calls = [item for _, _, item in plan if isinstance(item, Call)]
    log(f"{sum(len(v) for v in samples.values())} sampled requests need {len({c.key for c in calls})} "
        f"answers not in the log")
    replayer = Replayer(cache, config.replay, offline=offline)
    error = None
    try:
        answers = replayer.run(calls)
    except ReplayError as e:
        answers, error = replayer.answers, str(e)

    grader.replayer = replayer  # judge calls go through the same cache, retries and counts
    results = list(_score(plan, answers, config, grader))
    error = error or grader.error
    if labels:
        log(grader.labels.summary(labels))
    rs = replayer.stats
    meta = {
        "version": __version__, "created": time.time(), "logs": [str(p) for p in reader.paths],
        "seed": seed, "offline": offline, "config": config.model_dump(mode="json"),
        "formats": stats.formats, "lines": stats.lines, "records": stats.records, "skipped": stats.skipped,
        "skip_reasons": dict(stats.reasons), "skip_examples": [[s.source, s.reason] for s in stats.examples],
        "first_time": volume.first, "last_time": volume.last,
        "calls": rs.sent, "cache_hits": rs.cached, "failed": rs.failed, "retried": rs.retried,
        "spend_usd": rs.spend, "missing_offline": len(rs.missing), "error": error,
        "scorers": grader.choices, "labels": str(labels) if labels else None,
    }
    save_audit(out, meta, volume.by, results)
    cache.close()
    return AuditSummary(out, stats.records, stats.skipped, len({t for t, _ in volume.by}),
                        sum(len(v) for v in samples.values()), rs.sent, rs.cached, rs.failed,
                        len(rs.missing), error)


def _score(plan: list[tuple[Request, Tier, Answer | Call]], answers: dict[str, Answer], config: Config,
           grader: Grader):
    resolved: dict[tuple[str, str], Answer | None] = {}
    for req, tier, item in plan:
        resolved[(req.id, tier.name)] = item if isinstance(item, Answer) else answers.get(item.key)
    return grade_results(plan, resolved, config.reference, grader)
