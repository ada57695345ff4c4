"""The audit's gate step (`gate.enabled`): learn the per-request gate to the cheapest tier, prove its thresholds
on fresh samples, and write `gate.json` in the audit folder.

The order keeps the proof valid (tiertool.gate's docstring says why): the learning sample is the audit's own
per-task sample (its first `sample.max_per_task` requests in seeded order; those the rounds did not score are
labelled here), the plan is made from it alone, and only then are the fresh samples it asks for labelled: the
next requests of each task's seeded order, a uniform random sample of its traffic disjoint from the learning
sample, each labelled once. Gate labels are kept apart from the audit's results, so the per-task decisions and
their tests are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config, Tier
from ..ingest import Traffic
from ..pricing.prices import lookup
from ..pricing.savings import project
from ..records import Request, Result
from ..store import private_dir

if TYPE_CHECKING:
    from ..gate import Calibration, Gate, Learned, Plan

GATE_FILE = "gate.json"
Label = Callable[[Sequence[Request]], list[Result]]  # the cheaper tier's graded results of these requests


def labels(reqs: Sequence[Request], label: Label, known: Mapping[str, Result] | None = None) -> list[bool]:
    """The cheaper tier's pass label of each request (scored before if in `known`, else labelled now): a failed
    call or an ungraded answer counts as a fail."""
    known = known or {}
    missing = [q for q in reqs if q.id not in known]
    got = {**known, **({r.request_id: r for r in label(missing)} if missing else {})}
    return [bool(got[q.id].passed) if q.id in got else False for q in reqs]


def learn_gate(samples: Mapping[str, Sequence[Request]], fresh: Mapping[str, Sequence[Request]],
               scored: Sequence[Result], cheap: Tier, config: Config, traffic: Traffic, label: Label, out: Path,
               seed: int = 0, log: Callable[[str], None] = lambda _m: None) -> Path | None:
    """Learn, plan, label the fresh samples, calibrate, save; None (and why, logged) when nothing can be learnt."""
    from .. import gate

    rows: list[gate.Known] = []
    passed: list[bool] = []
    for task, reqs in samples.items():
        known = {r.request_id: r for r in scored if r.tier == cheap.name and r.task == task}
        rows += [(q.messages, q.params, task) for q in reqs]
        passed += labels(reqs, label, known)
    if len(set(passed)) < 2:
        (out / GATE_FILE).unlink(missing_ok=True)  # a gate of an earlier audit is not this audit's
        log(f"gate: not learnt: the {len(passed)} labelled requests all {'pass' if any(passed) else 'fail'} on "
            f"{cheap.name}, so nothing tells requests apart (the per-task decision covers this)")
        return None
    learned = gate.learn(rows, passed, seed)
    savings = project(traffic.volume, {t: cheap.model for t in traffic.tasks}, None, config.prices)
    value = {c.task: max(c.current_usd - c.projected_usd, 0.0) for c in savings.by_task}
    quality = config.quality
    plan = gate.plan(learned.curves, {t: len(v) for t, v in fresh.items()}, value, quality.target,
                     quality.confidence, config.gate.max_calibration)
    labelled = {task: ([(q.messages, q.params, task) for q in fresh[task][:tp.calibrate]],
                       labels(fresh[task][:tp.calibrate], label)) for task, tp in plan.tasks.items()}
    cals = gate.calibrate(learned, plan, labelled)
    built = gate.build(learned.predictor, plan, cals, cheap=cheap.model, fallback=config.reference.model)
    private_dir(out)
    path = built.save(out / GATE_FILE)
    path.chmod(0o600)  # its vocabulary holds words of the customers' prompts, as the audit database does
    for task in sorted(learned.curves):
        log(_summary(built, learned, plan, cals, task, [*samples.get(task, ()), *fresh.get(task, ())], cheap, config))
    log(f"gate -> {path}")
    return path


def _summary(built: Gate, learned: Learned, plan: Plan, cals: Mapping[str, Calibration], task: str,
             reqs: Sequence[Request], cheap: Tier, config: Config) -> str:
    """One line per task type: what the gate routes of `reqs` (a random sample of its traffic) and proved, or
    how many fresh samples would let it prove something."""
    from .. import gate

    tg = built.tasks.get(task)
    if tg is None or tg.threshold is None or tg.lower_bound is None:
        more = gate.needed(learned, plan, task, cals.get(task))
        return f"gate: {task}: routes nothing" + (f" (about {more[0]} fresh samples would let it prove routing "
                                                  f"{more[1]:.0%})" if more else "")
    ref_price, cheap_price = lookup(config.reference.model, config.prices), lookup(cheap.model, config.prices)
    ref_usd, cheap_usd = ([p.cost(q.input_tokens, q.output_tokens) if p else 0.0 for q in reqs]
                          for p in (ref_price, cheap_price))
    fig = gate.task_figures(built, task, [(q.messages, q.params, task) for q in reqs], ref_usd, cheap_usd, False)
    return (f"gate: {task}: routes {fig.routed_share:.0%} of its sampled traffic to {cheap.name} (saving "
            f"{fig.saved_fraction:.0%} of its reference cost), proven pass rate >= {tg.lower_bound:.1%} "
            f"({tg.passed}/{tg.routed} of its calibration samples passed)")
