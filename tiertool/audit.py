"""`tiertool audit`: read the log, sample each task type, replay the sample on cheaper tiers, score, store.

Replay runs in rounds (sequential.Rounds): each round scores more of each task type's sample on the tiers
whose decision is still open, so task types that settle early stop costing calls.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import __version__
from .cache import Cache, cache_key
from .config import Config, Tier
from .decide import family_for
from .errors import InputError, ReplayError
from .ingest import LogReader, read_logs
from .prices import same_model
from .records import Answer, Request
from .replay import UNSENT, Call, Replayer
from .sample import Sampler
from .scorers.grade import Grader, grade_results
from .scorers.labels import load_labels
from .sequential import Rounds
from .store import Result, save_audit
from .volume import Volume

Item = tuple[Request, Tier, "Answer | Call"]


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
    rounds: int = 0
    error: str | None = None  # a tier that could not be called at all
    over_budget: int = 0  # calls not sent because --budget would not cover them
    unsent: tuple[str, ...] = ()  # "file:line on tier" of every answer neither cached nor sent


def _read(reader: LogReader, cap: int, seed: int
          ) -> tuple[Volume, dict[str, list[Request]], Counter[str], dict[str, Counter[str]]]:
    """One streaming pass: the volume, each task's sample, replayable counts (every task type, 0 included) and
    how each task's requests were typed. Inferred task types get their final names only once all is read."""
    volume, sampler = Volume(), Sampler(cap, seed)
    typed: dict[str, Counter[str]] = defaultdict(Counter)
    replayable: Counter[str] = Counter()
    for req in reader:
        volume.add(req)
        typed[req.task][req.task_source] += 1
        if req.replayable:
            replayable[req.task] += 1
            sampler.add(req)
    renames = reader.renames
    volume.rename(renames)
    sampler.rename(renames)
    final: dict[str, Counter[str]] = defaultdict(Counter)
    for task, sources in typed.items():
        final[renames.get(task, task)].update(sources)
    counts = Counter(dict.fromkeys(final, 0))
    for task, n in replayable.items():
        counts[renames.get(task, task)] += n
    return volume, sampler.samples(), counts, dict(final)


def _from_log(req: Request, tier: Tier) -> bool:
    return req.output is not None and same_model(req.model, tier.model)


def _item(req: Request, tier: Tier) -> Answer | Call:
    if _from_log(req, tier):
        return Answer(req.output, "log")
    return Call(cache_key(tier.model, req.messages, req.params), tier, req.messages, req.params,
                req.input_tokens, req.output_tokens)


def run_audit(logs: list[str | Path], config: Config, out: str | Path = ".tiertool", seed: int = 0,
              offline: bool = False, fmt: str | None = None, group_by: str | None = None,
              labels: str | Path | None = None, log: Callable[[str], None] = lambda _msg: None,
              mapping: str | None = None, strict: bool = False,
              replay_options: dict[str, Any] | None = None) -> AuditSummary:
    """Run the audit and store its evidence in `out`; returns what happened, counts reconciled.

    `replay_options` go to the Replayer (budget, approve, progress); a declined plan raises PlanDeclined.
    """
    out = Path(out)
    grader = Grader(config, load_labels(labels) if labels else None, offline)
    reader = read_logs(logs, fmt, group_by or config.group_by, mapping, semantic=config.semantic_tasks)
    volume, samples, replayable, typed = _read(reader, config.sample.cap, seed)
    stats = reader.stats
    non_replayable = stats.records - sum(replayable.values())
    if strict and stats.skipped:
        first = stats.examples[0]
        raise InputError(f"--strict: {stats.skipped} log line(s) skipped; first {first.source}: {first.reason}")
    if non_replayable:
        log(f"{non_replayable} records are not replayable (no captured prompt, or failed): they count for volume "
            f"and savings but are never replayed")
    fam = family_for(dict(replayable), config)
    log(f"read {stats.records} records from {len(reader.paths)} file(s), skipped {stats.skipped}; "
        f"{len(replayable)} task types, {len(fam.tested)} with enough traffic to test "
        f"(a proof needs {fam.needed} all-passing samples)")

    grader.check(samples)  # a scorer that cannot run fails here, before any replay call
    cache = Cache(config.path(config.replay.cache) if config.replay.cache else out / "cache.sqlite")
    for rec in config.replay.recorded:
        cache.load_recorded(config.path(rec))
    cheaper = list(config.tiers[:-1])
    rounds = Rounds([t.name for t in cheaper], {t: len(samples.get(t, [])) for t in replayable}, fam,
                    config.quality.target, config.sample.sequential, config.sample.round, config.sample.cap)
    tiers = {t.name: t for t in config.tiers}
    replayer = Replayer(cache, config.replay, offline=offline, **(replay_options or {}))
    grader.replayer = replayer  # judge calls go through the same cache, retries, budget and counts

    def needed(plan: dict[str, tuple[int, int, list[str]]]) -> list[Item]:
        return [(req, tier, _item(req, tier)) for task, (first, stop, open_tiers) in plan.items()
                for req in samples[task][first:stop] for tier in [config.reference, *map(tiers.get, open_tiers)]]

    # The plan shown before sending covers every call the rounds could need (they may stop early).
    replayer.approve([item for _, _, item in needed(rounds.most()) if isinstance(item, Call)], upper_bound=True)
    results: list[Result] = []
    every: list[Item] = []
    error = None
    try:
        while plan := rounds.next():
            items = needed(plan)
            every += items
            calls = [item for _, _, item in items if isinstance(item, Call)]
            log(f"round {rounds.round + 1}: {len(plan)} task types, {len({c.key for c in calls})} answers to fetch")
            try:
                answers = replayer.run(calls)
            except ReplayError as e:
                answers, error = replayer.answers, str(e)
            scored = _score(items, answers, config, grader, rounds.round)
            results += scored
            for task, (_, stop, open_tiers) in plan.items():
                rounds.record(task, stop, {t: [bool(r.passed) for r in scored if r.task == task and r.tier == t
                                               and (r.passed is not None or r.error)] for t in open_tiers})
            rounds.finish_round()
            if error:
                break
    finally:
        replayer.close()  # worker processes, when replay.workers > 1

    error = error or grader.error
    if labels:
        log(grader.labels.summary(labels))
    rs = replayer.stats
    meta = {
        "version": __version__, "created": time.time(), "logs": [str(p) for p in reader.paths],
        "seed": seed, "offline": offline, "config": config.model_dump(mode="json"),
        "formats": stats.formats, "lines": stats.lines, "records": stats.records, "skipped": stats.skipped,
        "skip_reasons": dict(stats.reasons), "non_replayable": non_replayable, "joined": stats.joined,
        "typing": dict(stats.typing), "skip_examples": [[s.source, s.reason] for s in stats.examples],
        "task_sources": {t: dict(c) for t, c in typed.items()}, "first_time": volume.first, "last_time": volume.last,
        "rounds": rounds.round, "family": {"tested": list(fam.tested), "alpha": fam.alpha, "needed": fam.needed},
        "calls": rs.sent, "cache_hits": rs.cached, "failed": rs.failed, "retried": rs.retried,
        "spend_usd": rs.spend, "missing_offline": len(rs.missing), "error": error,
        "budget_usd": replayer.budget.cap, "over_budget": rs.over_budget,
        "scorers": grader.choices, "labels": str(labels) if labels else None,
    }
    save_audit(out, meta, volume.by, results)
    cache.close()
    return AuditSummary(out, stats.records, stats.skipped, len(replayable),
                        len({(r.task, r.request_id) for r in results}), rs.sent, rs.cached, rs.failed,
                        len(rs.missing), rounds.round, error, rs.over_budget, _unsent(every, replayer.answers))


def _unsent(items: list[Item], answers: dict[str, Answer]) -> tuple[str, ...]:
    """Where each answer that was neither cached nor sent was needed: "file:line on tier NAME"."""
    return tuple(dict.fromkeys(
        f"{req.source} on tier {tier.name}" for req, tier, item in items
        if isinstance(item, Call) and (answers.get(item.key) or Answer(None, UNSENT)).origin == UNSENT))


def _score(items: list[Item], answers: dict[str, Answer], config: Config, grader: Grader, round_no: int
           ) -> list[Result]:
    """Grade one round's answers; each result remembers its round (sequential decisions look per round)."""
    resolved: dict[tuple[str, str], Answer | None] = {}
    for req, tier, item in items:
        resolved[(req.id, tier.name)] = item if isinstance(item, Answer) else answers.get(item.key)
    return [replace(r, round=round_no) for r in grade_results(items, resolved, config.reference, grader)]
