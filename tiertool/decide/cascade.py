"""Optional cascade per task: serve the cheapest tier's answer when a cheap check passes, else escalate to the
reference. Estimated from the audit's sample: how often the check escalates, the quality that results (a
request is good when it was escalated or its cheap answer passed the bar) and the expected cost."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import CascadeCheck
from ..limits import loads, pattern
from ..pricing.prices import lookup
from ..pricing.savings import totals
from ..store import Audit
from .sequential import exact_lower_bound


def passes_check(check: CascadeCheck, answer: str) -> bool:
    text = answer.strip()
    if check.check == "nonempty":
        return bool(text)
    if check.check == "labels":
        return text.casefold() in {label.casefold() for label in check.labels}
    if check.check == "regex":
        return pattern(check.pattern or "").search(text)
    try:
        loads(text)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class Cascade:
    task: str
    tier: str  # the cheap tier tried first
    check: str
    sampled: int
    escalation_rate: float
    quality: float  # share of sampled requests whose served answer meets the bar
    quality_lower_bound: float  # exact 95% one-sided lower bound (advisory: not part of the audit's family)
    expected_cost_usd: float  # for the task's whole logged volume
    reference_cost_usd: float


def cascades(audit: Audit) -> list[Cascade]:
    """The cascade estimate of every task the config names under `cascade:` (and the audit sampled)."""
    config = audit.config
    cheap = config.tiers[0]
    ref = config.reference
    out = []
    volume = totals(audit.volume)
    for task, check in config.cascade.items():
        rows = [r for r in audit.results if r.task == task and r.tier == cheap.name and r.answer is not None
                and r.passed is not None]
        if not rows:
            continue
        escalated = [not passes_check(check, r.answer or "") for r in rows]
        good = sum(1 for r, esc in zip(rows, escalated, strict=True) if esc or r.passed)
        rate = sum(escalated) / len(rows)
        cheap_price, ref_price = lookup(cheap.model, config.prices), lookup(ref.model, config.prices)
        usage = [u for k, u in volume.items() if k.task == task]
        if cheap_price is None or ref_price is None or not usage:
            continue
        ref_cost = sum(ref_price.cost(u.input_tokens, u.output_tokens, u.cached_tokens) for u in usage)
        cheap_cost = sum(cheap_price.cost(u.input_tokens, u.output_tokens, u.cached_tokens) for u in usage)
        out.append(Cascade(task, cheap.name, check.check, len(rows), rate, good / len(rows),
                           exact_lower_bound(good, len(rows), 0.05), cheap_cost + rate * ref_cost, ref_cost))
    return out
