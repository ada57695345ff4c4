"""The recommendation: every task's decision, the savings it gives on the log, the per-request oracle, the
audit's own cost and the optional cascade estimates. `recommend`, `report` and the CI gates all start here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..config import Config
from ..pricing.savings import Savings, oracle, period_days, project
from ..store import Audit, Clients
from .cascade import Cascade, cascades
from .decisions import Decision, decide


@dataclass(frozen=True)
class Recommendation:
    config: Config
    decisions: tuple[Decision, ...]
    savings: Savings
    oracle_usd: float | None = None  # projected spend if each request went to its cheapest passing tier
    audit_cost_usd: float = 0.0  # what the audit's own model calls cost
    cascades: tuple[Cascade, ...] = ()  # only for tasks the config's `cascade:` names
    clients: dict[str, Clients] = field(default_factory=dict)  # per task: the model name and tag clients used


def recommend(audit: Audit, assignment: dict[str, str] | None = None) -> Recommendation:
    """Decide every task from the audit's evidence; `assignment` (a committed tiers.yaml) overrides tiers."""
    config = audit.config
    decisions = tuple(decide(audit))
    if assignment:
        decisions = tuple(_assigned(d, assignment.get(d.task, d.tier), config) for d in decisions)
    days = period_days(audit.meta.first_time, audit.meta.last_time)
    scale = {d.task: audit.meta.output_scale.get(d.task, {}).get(d.tier, 1.0) for d in decisions}
    savings = project(audit.volume, {d.task: d.model for d in decisions}, days, config.prices, scale)
    oracle_usd = oracle(audit.volume, cheapest_passing(audit), config.reference.model, config.prices)
    return Recommendation(config, decisions, savings, oracle_usd, audit.meta.spend_usd, tuple(cascades(audit)),
                          dict(audit.meta.clients))


def cheapest_passing(audit: Audit) -> dict[str, dict[str, float]]:
    """Per task, the sample's share of requests whose cheapest passing tier is each model (the oracle)."""
    tiers = audit.config.tiers
    order = {t.name: i for i, t in enumerate(tiers)}
    best: dict[tuple[str, str], int] = {}
    for r in audit.results:
        key = (r.task, r.request_id)
        best.setdefault(key, len(tiers) - 1)
        if r.passed and order.get(r.tier, 99) < best[key]:
            best[key] = order[r.tier]
    counts: dict[str, dict[str, float]] = {}
    for (task, _), i in best.items():
        shares = counts.setdefault(task, {})
        model = tiers[i].model
        shares[model] = shares.get(model, 0) + 1
    for shares in counts.values():
        n = sum(shares.values())
        for m in shares:
            shares[m] /= n
    return counts


def _assigned(d: Decision, name: str, config: Config) -> Decision:
    """A decision moved to the tier a tiers file assigns, with this audit's evidence for that tier."""
    tiers = {t.name: t for t in config.tiers}
    if name == d.tier or name not in tiers:
        return d
    ev = next((e for e in d.evidence if e.tier == name), None)
    is_ref = name == config.reference.name
    return replace(d, tier=name, model=tiers[name].model,
                   pass_rate=1.0 if is_ref else (ev.pass_rate or 0.0) if ev else 0.0,
                   lower_bound=1.0 if is_ref else (ev.lower_bound or 0.0) if ev else 0.0,
                   evidence_tier=d.evidence_tier if is_ref else name,
                   reason=f"assigned by the tiers file; this audit: {d.reason}")
