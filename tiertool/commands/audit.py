"""`tiertool audit`: read the log, sample each task type, replay the sample on cheaper tiers, score, store.

Replay runs in rounds (decide.sampling): each round scores more of a task type's sample on the cheaper tier
the sampling policy picks, so task types that settle early, or whose proof could not repay it, stop costing calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..config import Config, Tier, unknown_tasks
from ..decide.sampling import Plan, audit_rounds
from ..defaults import AUDIT_DIR
from ..errors import InputError, ReplayError
from ..ingest import Traffic, scan
from ..ingest.mapped import parse_map
from ..pricing.prices import same_model
from ..pricing.savings import period_days
from ..records import LABELLED, UNSENT, Answer, Call, Request, Result
from ..replay import BatchReplayer, Cache, PlanDeclined, Replayer, carry_check
from ..scorers.auto import NEEDS_JUDGE
from ..scorers.base import Reference
from ..scorers.grade import Grader
from ..scorers.labels import Labels, load_labels
from ..store import AuditMeta, Clients, save_audit, writable
from .gate import learn_gate

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
    error: str | None = None  # why the audit is incomplete (a tier that could not be called, failed calls)
    over_budget: int = 0  # calls not sent because --budget would not cover them
    unsent: tuple[str, ...] = ()  # "file:line on tier" of every answer neither cached nor sent
    unscored: int = 0  # samples without a score: their tasks could not be audited
    unsaved: int = 0  # answers paid for that could not be written to the cache
    gate: Path | None = None  # the gate file, when `gate.enabled` and a gate could be learnt


def _item(req: Request, tier: Tier) -> Answer | Call:
    """The log's own answer when the logged model is this tier's and the tier's params change nothing of the
    logged request, else the call to send (with the tier's params merged over the logged ones: `Call.to`)."""
    logged = req.logged_answer()
    if logged is not None and same_model(req.model, tier.model) and tier.merged(req.params) == req.params:
        return logged
    return Call.to(tier, req.messages, req.params, req.input_tokens, req.output_tokens)


def run_audit(logs: Sequence[str | Path], config: Config, out: str | Path = AUDIT_DIR, seed: int | None = None,
              offline: bool = False, fmt: str | None = None, group_by: str | None = None,
              labels: str | Path | None = None, log: Callable[[str], None] = lambda _msg: None,
              labels_fraction: float | None = None,
              mapping: str | None = None, strict: bool = False,
              replay_options: dict[str, Any] | None = None, dry_run: bool = False, engine: str | None = None,
              since: str | None = None, until: str | None = None) -> AuditSummary:
    """Run the audit and store its evidence in `out`; returns what happened, counts reconciled.

    `replay_options` go to the Replayer (budget, approve, progress); a declined plan raises PlanDeclined, and
    so does `dry_run` once the plan is shown (nothing is sent and nothing written). `seed` overrides
    `sample.seed`; the audit's stored config keeps the seed it used. `engine`, `since` and `until` say where and
    which logs to read (ingest.scan).
    """
    if labels_fraction is not None and (not labels or not 0 < labels_fraction <= 1):
        raise InputError("--labels-fraction needs --labels and a probability in (0, 1]: the chance each request "
                         "was labelled")
    if labels_fraction is not None and any(s.scorer == "prediction_powered" for s in config.tasks.values()):
        raise InputError("--labels-fraction: a prediction_powered task draws its own labels; use one or the other")
    if seed is not None and seed != config.sample.seed:
        config = config.model_copy(update={"sample": config.sample.model_copy(update={"seed": seed})})
    seed = config.sample.seed
    out = writable(Path(out))  # before anything is read or paid for
    imported = load_labels(labels) if labels else None
    cap = config.sample.cap
    extra = config.gate.max_calibration if config.gate.enabled else 0  # the gate's fresh samples follow the audit's
    traffic = scan(logs, fmt, group_by or config.group_by, mapping, sample=cap + extra, seed=seed,
                   engine=engine, since=since, until=until, semantic=config.semantic_tasks,
                   check=carry_check(config.tiers), steps=config.agent_steps)
    require_records(traffic)
    stats = traffic.stats
    replayable = {task: t.replayable for task, t in traffic.tasks.items()}
    ordered = {task: traffic.sample(task) for task, n in replayable.items() if n}
    samples = {task: reqs[:cap] for task, reqs in ordered.items()}
    non_replayable = stats.records - sum(replayable.values())
    if strict and stats.skipped:
        first = stats.examples[0]
        raise InputError(f"--strict: {stats.skipped} log line(s) skipped; first {first.source}: {first.reason}")
    if non_replayable:
        why = "; ".join(f"{n} x {reason}" for reason, n in stats.not_replayable.most_common(3))
        log(f"{non_replayable} records are not replayable ({why}): they count for volume and savings but are "
            f"never replayed")
    free = {(task, tier.name): sum(imported.has(r.id, tier.name) for r in reqs) / len(reqs)
            for task, reqs in samples.items() for tier in config.tiers[:-1]} if imported and not labels_fraction \
        else None  # under --labels-fraction every answer is fetched: the scorer's verdict is needed on all

    cache = Cache(config.cache_file(out), readonly=dry_run)
    for rec in config.replay.recorded:
        cache.load_recorded(config.path(rec))
    batch: dict[str, Any] = {"tiers": [t.name for t in config.tiers[:-1]]} if config.replay.batch else {}
    replayer = (BatchReplayer if batch else Replayer)(cache, config.replay, offline=offline, prices=config.prices,
                                                      **batch, **(replay_options or {}))
    grader = Grader(config, imported, caller=replayer)  # judge calls: same cache, retries, budget and counts
    grader.check(samples)  # a scorer that cannot run fails here, before any replay call
    open_ended = _open_ended(samples, config, grader, imported)
    if open_ended:
        log(f"{', '.join(open_ended)}: {NEEDS_JUDGE} (the log's reference answers are open-ended and no judge is "
            "configured): no sample is spent on them")
    rounds = audit_rounds(config, traffic.volume, samples,
                          {t: 0 if t in open_ended else len(samples.get(t, [])) for t in replayable},
                          period_days(traffic.first_time, traffic.last_time), free, labels_fraction)
    fam = rounds.family
    needs = f"a proof needs at least {fam.needed} all-passing samples" if fam.needed else \
        "none could prove the bar within its traffic and what its saving repays, even if every sample passed"
    log(f"read {stats.records} records from {len(traffic.paths)} file(s), skipped {stats.skipped}; "
        f"{len(replayable)} task types, {len(fam.tested)} with enough traffic to test ({needs})")
    for message in [m for _, m in unknown_tasks(config, traffic.tasks)] + [config.sample.ignored() or ""]:
        if message:
            log(f"warning: {message}")
    tiers = {t.name: t for t in config.tiers}
    referenced = dict.fromkeys(samples, 0)  # samples whose reference answer a round already fetched (a prefix)
    references: dict[tuple[str, str], Answer | None] = {}  # those answers, for a dearer tier sampled later

    def item(req: Request, tier: Tier) -> Answer | Call:
        """What grading this (sample, tier) needs: nothing to fetch when an imported label grades it, though an
        answer at hand for free (logged or cached) is still read, so the scorer can be checked against the label."""
        got = _item(req, tier)
        return Answer(None, LABELLED) if labelled(req, tier) and not free_answer(got) else got

    def free_answer(got: Answer | Call) -> bool:
        return isinstance(got, Answer) or cache.has(got.key)

    def labelled(req: Request, tier: Tier) -> bool:
        """A label grades it alone (not under --labels-fraction, which needs the scorer's verdict beside it)."""
        return imported is not None and not labels_fraction and tier is not config.reference and \
            imported.has(req.id, tier.name)

    def needed(plan: Plan, upto: dict[str, int]) -> list[Item]:
        """The round's items: each planned (sample, tier), and the reference for samples not yet referenced
        (unless labels grade every cheaper tier of the sample: then no reference answer is needed)."""
        items = [(req, tiers[tier], item(req, tiers[tier])) for (task, tier), (first, stop) in plan.items()
                 for req in samples[task][first:stop]]
        for task in {task for task, _ in plan}:
            stop = max(b for (t, _), (_, b) in plan.items() if t == task)
            items += [(req, config.reference, ref) for req in samples[task][upto[task]:stop]
                      if free_answer(ref := _item(req, config.reference))
                      or not all(labelled(req, t) for t in config.tiers[:-1])]
        return items

    # The plan shown before sending covers every call the rounds could need (they may stop early), and those
    # they are expected to need; with the gate, its learning sample (expected) and its fresh samples (could).
    most = needed(rounds.most(), dict.fromkeys(samples, 0))
    expected = _expected(most, config, fam.needed, cache.has) if config.sample.sequential else None
    gate_could, gate_expected = (_gate_calls(reqs, config) for reqs in (ordered, samples))
    replayer.approve([item for _, _, item in most if isinstance(item, Call)] + gate_could,
                     None if expected is None else expected + gate_expected)
    if dry_run:
        cache.close()
        raise PlanDeclined("--dry-run")
    results: list[Result] = []
    every: list[Item] = []
    error = None
    gate_file: Path | None = None
    try:
        while plan := rounds.next():
            items = needed(plan, referenced)
            for (task, _), (_, stop) in plan.items():
                referenced[task] = max(referenced[task], stop)
            every += items
            calls = [item for _, _, item in items if isinstance(item, Call)]
            log(f"round {rounds.round + 1}: {len({task for task, _ in plan})} task types, "
                f"{len({c.key for c in calls})} answers to fetch")
            try:
                answers = replayer.run(calls)
            except ReplayError as e:
                answers, error = replayer.answers, str(e)
            scored = _score(items, answers, config, grader, rounds.round, references)
            results += scored
            graded = {(r.source, r.tier): r for r in scored if r.passed is not None or r.error}
            for (task, tier), (start, stop) in plan.items():  # in sample order; an unscored sample is left out
                rows = [graded[(req.source, tier)] for req in samples[task][start:stop] if (req.source, tier) in graded]
                rounds.record(task, tier, start, [(r.request_id, bool(r.passed)) for r in rows], rows)
            rounds.finish_round()
            if error:
                break
        if config.gate.enabled and not error:
            cheap = config.tiers[0]

            def label(reqs: Sequence[Request]) -> list[Result]:
                items = [(q, t, _item(q, t)) for q in reqs for t in (config.reference, cheap)]
                answers = replayer.run([item for _, _, item in items if isinstance(item, Call)])
                return [r for r in _score(items, answers, config, grader, rounds.round) if r.tier == cheap.name]

            try:
                gate_file = learn_gate(samples, {t: q[cap:] for t, q in ordered.items()}, results, cheap, config,
                                       traffic, label, out, seed, log)
            except ReplayError as e:
                error = f"gate not built: {e}"
    finally:
        replayer.close()  # worker processes, when replay.workers > 1

    rs = replayer.stats
    unscored = sum(r.passed is None for r in results)
    # samples left unscored by --offline or --budget have their own message (Audit.incomplete)
    error = error or grader.error or _incomplete(rs.failed, 0 if rs.missing or rs.over_budget else unscored)
    if imported is not None:
        log(imported.summary(str(labels)))
    meta = AuditMeta(
        version=_version(), config=config, logs=tuple(str(p) for p in traffic.paths), log_format=fmt,
        mapping=parse_map(mapping), records=stats.records, skipped=stats.skipped,
        non_replayable=non_replayable, typing=dict(stats.typing),
        task_sources={t: dict(x.sources) for t, x in traffic.tasks.items()}, first_time=traffic.first_time,
        last_time=traffic.last_time, family=fam, calls=rs.sent, cache_hits=rs.cached, failed=rs.failed,
        spend_usd=rs.spend, unconfirmed=rs.unconfirmed, unconfirmed_usd=rs.unconfirmed_usd, error=error,
        scorers=grader.choices, offline_missing=len(rs.missing), over_budget=rs.over_budget,
        subpopulations=rounds.part_tests(), labels_fraction=labels_fraction,
        output_scale=_output_scale(every, replayer.answers, config),
        clients={t: Clients(called=dict(x.called), tags=dict(x.tags)) for t, x in traffic.tasks.items()})
    try:
        save_audit(out, meta, traffic.volume, results, rounds.states(), rounds.statuses())
    finally:
        cache.close()
    return AuditSummary(out, stats.records, stats.skipped, len(replayable),
                        len({(r.task, r.source) for r in results}), rs.sent, rs.cached, rs.failed,
                        len(rs.missing), error, rs.over_budget, _unsent(every, replayer.answers), unscored,
                        rs.unsaved, gate_file)


def _open_ended(samples: dict[str, list[Request]], config: Config, grader: Grader, imported: Labels | None
                ) -> list[str]:
    """Task types `auto` marks "needs a judge or labels" from the reference answers the log already holds (none
    of their samples is labelled): decided before sampling, so the policy spends nothing on them."""
    cheaper = config.tiers[:-1]
    out = []
    for task, reqs in samples.items():
        if imported is not None and any(imported.has(r.id, t.name) for r in reqs for t in cheaper):
            continue
        logged = [a for r in reqs if isinstance(a := _item(r, config.reference), Answer)]
        if grader.open_ended(task, [Reference(a.text or "", a.tool_calls) for a in logged]):
            out.append(task)
    return sorted(out)


def _output_scale(items: Sequence[Item], answers: dict[str, Answer], config: Config) -> dict[str, dict[str, float]]:
    """Per task, for each tier with its own `params`: its answers' output tokens over the reference's, on the
    requests where both answers say how many they had (the savings price the tier's output at this length)."""
    got: dict[tuple[str, str], dict[str, int]] = {}  # (task, source) -> tier -> output tokens
    for req, tier, item in items:
        answer = item if isinstance(item, Answer) else answers.get(item.key)
        if answer is not None and answer.output_tokens:
            got.setdefault((req.task, req.source), {})[tier.name] = answer.output_tokens
    ref = config.reference.name
    sums: dict[str, dict[str, list[int]]] = {}
    for (task, _), by_tier in got.items():
        for tier in config.tiers[:-1]:
            if tier.params and tier.name in by_tier and ref in by_tier:
                acc = sums.setdefault(task, {}).setdefault(tier.name, [0, 0])
                acc[0] += by_tier[tier.name]
                acc[1] += by_tier[ref]
    return {task: {tier: mine / theirs for tier, (mine, theirs) in by.items()} for task, by in sums.items()}


def _incomplete(failed: int, unscored: int) -> str | None:
    """Why the evidence is not whole, when calls failed or samples could not be scored: no quality verdict
    rests on it (README "Guarantees under failure")."""
    if not failed and not unscored:
        return None
    parts = ([f"{failed} calls failed after their retries"] if failed else []) + (
        [f"{unscored} samples have no score"] if unscored else [])
    return f"{' and '.join(parts)} (each is listed by `tiertool report`); a re-run sends only what is missing"


def _gate_calls(samples: dict[str, list[Request]], config: Config) -> list[Call]:
    """The calls labelling these requests for the gate takes (the reference and the cheapest tier)."""
    if not config.gate.enabled:
        return []
    items = (_item(q, t) for reqs in samples.values() for q in reqs for t in (config.reference, config.tiers[0]))
    return [c for c in items if isinstance(c, Call)]


def require_records(traffic: Traffic) -> None:
    """Reading nothing is an error, never a green run: exit 2 before anything is written."""
    st = traffic.stats
    if st.records:
        return
    first = f"; first: {st.examples[0].source}: {st.examples[0].reason}" if st.examples else ""
    mapping = "" if "--map " in first else (", and a CSV or other JSON lines log can be read with "
                                            "--map prompt=COL,model=COL")
    raise InputError(f"{', '.join(map(str, traffic.paths))}: no request could be read ({st.lines} lines, "
                     f"{st.skipped} skipped{first}); `tiertool inspect LOG` says why{mapping}")


def _expected(most: list[Item], config: Config, needed: int, cached: Callable[[str], bool]) -> list[Call]:
    """The calls a sequential audit is expected to send: each test runs to the first round at which an
    all-passing sample proves the bar, or, when the cache holds at least a round of its answers (an earlier audit
    stopped it there), to where those end; the reference answers as far as its task's cheaper tiers go."""
    step = config.sample.round
    first_chance = math.ceil(needed / step) * step
    by_test: dict[tuple[str, str], list[Answer | Call]] = {}
    for req, tier, item in most:
        by_test.setdefault((req.task, tier.name), []).append(item)
    ends: dict[str, int] = {}
    for (task, name), items in by_test.items():
        if name != config.reference.name:
            done = next((i for i, x in enumerate(items) if isinstance(x, Call) and not cached(x.key)), len(items))
            end = done if done >= step else first_chance  # policy rounds need not be multiples of `step`
            ends[task] = max(ends.get(task, 0), end)
            by_test[(task, name)] = items[:end]
    for (task, name), items in by_test.items():
        if name == config.reference.name:
            by_test[(task, name)] = items[:ends.get(task, 0)]
    return [x for items in by_test.values() for x in items if isinstance(x, Call)]


def _version() -> str:
    try:
        return version("tiertool")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "unknown"


def _unsent(items: list[Item], answers: dict[str, Answer]) -> tuple[str, ...]:
    """Where each answer that was neither cached nor sent was needed: "file:line on tier NAME"."""
    return tuple(dict.fromkeys(
        f"{req.source} on tier {tier.name}" for req, tier, item in items
        if isinstance(item, Call) and (answers.get(item.key) or Answer(None, UNSENT)).origin == UNSENT))


def _score(items: list[Item], answers: dict[str, Answer], config: Config, grader: Grader, round_no: int,
           references: dict[tuple[str, str], Answer | None] | None = None) -> list[Result]:
    """Grade one round's answers; each result remembers its round (sequential decisions look per round).
    `references` keeps the reference answers of earlier rounds: a dearer tier started later on samples a
    cheaper one already took is graded against the reference answers those rounds fetched."""
    resolved: dict[tuple[str, str], Answer | None] = {}
    for req, tier, item in items:
        resolved[(req.source, tier.name)] = item if isinstance(item, Answer) else answers.get(item.key)
    if references is not None:
        for req, _, _ in items:
            key = (req.source, config.reference.name)
            if key in resolved:
                references[key] = resolved[key]
            elif key in references:
                resolved[key] = references[key]
    graded = grader.grade([(req, tier) for req, tier, _ in items], resolved, config.reference)
    return [replace(r, round=round_no) for r in graded]
