"""The money at stake in each (task type, cheaper tier) test, from the log's volume and prices only, before any
outcome: what a proof would save a month, and what one more sample costs. The policy (policy.py) spends the
error budget and the samples by these figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..config import Config
from ..config.scorers import JudgeSpec, PredictionPoweredSpec, ScorerSpec
from ..pricing.prices import same_model
from ..pricing.savings import Pricer, project
from ..records import Key, Usage
from .policy import Arm

JUDGE_OUTPUT_TOKENS = 16  # a verdict and a short reason
UNPRICED_SHARE = 3 / 400  # a sample with no price costs this share of a month's saving (3 months: 400 samples)


def monthly(usd: float, days: float | None) -> float:
    """A figure over the log's period, per 30 days; a log with no period (or under a day) counts as one month
    or one day, so a burst of a few minutes is not extrapolated to a fortune."""
    return usd if days is None else usd * 30.0 / max(days, 1.0)


def arms(volume: dict[Key, Usage], config: Config, tasks: Iterable[str], days: float | None,
         free: Mapping[tuple[str, str], float] | None = None, labels_fraction: float | None = None) -> list[Arm]:
    """One Arm per task type and cheaper tier, rank 0 the cheapest. A saving that cannot be priced (no price, or
    a log with no token counts for the task) counts as the largest priced one (the test keeps its share of the
    error budget); a sample that cannot be priced costs UNPRICED_SHARE of a month's saving, so sampling still
    stops when continuing cannot pay. `free`: the share of a (task, tier)'s sample an imported label grades,
    which costs nothing (no call, no reference, no judge). A task is tested prediction-powered (Arm.pi) when its
    scorer is `prediction_powered`, or on imported labels drawn with `labels_fraction`."""
    pricer, ref = Pricer(config.prices), config.reference
    out: list[Arm] = []
    for task in tasks:
        mine = {k: u for k, u in volume.items() if k.task == task}
        n = sum(u.requests for u in mine.values()) or 1
        tokens_in = sum(u.input_tokens for u in mine.values()) / n
        tokens_out = sum(u.output_tokens for u in mine.values()) / n
        logged_ref = sum(u.requests for k, u in mine.items() if same_model(k.model, ref.model)) / n
        spec = config.spec_for(task)
        pi = spec.fraction if isinstance(spec, PredictionPoweredSpec) else labels_fraction
        ref_call, judge = _call(pricer, ref.model, tokens_in, tokens_out), _judge(pricer, config, spec, tokens_in,
                                                                                 tokens_out)
        extra = None if (ref_call is None and logged_ref < 1.0) or judge is None else \
            (1.0 - logged_ref) * (ref_call or 0.0) + judge
        for rank, tier in enumerate(config.tiers[:-1]):
            by = {c.task: c for c in project(mine, {task: tier.model}, days, config.prices).by_task}
            saved = by[task].current_usd - by[task].projected_usd if task in by else None
            counted = tokens_in + tokens_out > 0  # without token counts, $0 is not a price
            # a variant of the logged model (its own params: a lower effort) saves what its answers' length
            # will show, unknown before the audit: unpriced, like a model with no price
            variant = bool(tier.params) and saved == 0
            value = None if saved is None or pricer.price(tier.model) is None or not counted or variant \
                else monthly(saved, days)
            cost = _call(pricer, tier.model, tokens_in, tokens_out, config.replay.batch) if counted else None
            out.append(Arm(task, tier.name, rank, -1.0 if value is None else value,
                           -1.0 if cost is None or extra is None else cost + extra, pi))
    known = max((a.value_usd for a in out if a.value_usd >= 0), default=0.0) or 1.0
    priced = []
    for a in out:
        value = a.value_usd if a.value_usd >= 0 else known
        cost = a.cost_usd if a.cost_usd >= 0 else value * UNPRICED_SHARE
        priced.append(Arm(a.task, a.tier, a.rank, value, cost * (1.0 - (free or {}).get((a.task, a.tier), 0.0)),
                          a.pi))
    return priced


def _call(pricer: Pricer, model: str, tokens_in: float, tokens_out: float, batch: bool = False) -> float | None:
    """One call's cost; `batch`: a cheaper tier's call sent through a batch API (`--batch`), at its batch price."""
    price = pricer.price(model)
    price = price.batched() if price and batch else price
    return price.cost(round(tokens_in), round(tokens_out)) if price else None


def _judge(pricer: Pricer, config: Config, spec: ScorerSpec, tokens_in: float, tokens_out: float) -> float | None:
    """A judge call per sample: it reads the prompt and both answers; a prediction_powered task's judge on the
    share of samples it labels (plus its cheap scorer's own judge, if that is one)."""
    if isinstance(spec, PredictionPoweredSpec):
        cheap, judge = (_judge(pricer, config, s, tokens_in, tokens_out) for s in (spec.cheap, spec.judge))
        return None if cheap is None or judge is None else cheap + spec.fraction * judge
    if not isinstance(spec, JudgeSpec):
        return 0.0
    model = next((t.model for t in config.tiers if t.name == spec.tier), spec.model or "")
    return _call(pricer, model, tokens_in + 2 * tokens_out, JUDGE_OUTPUT_TOKENS)
