"""`tiertool recommend`: decisions + savings, written as tiers.yaml and optionally a LiteLLM proxy config."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Config, parse_config
from ..decide.cascade import Cascade, cascades
from ..decide.decisions import Decision, decide
from ..pricing.savings import Savings, oracle, period_days, project
from ..store import Audit


@dataclass(frozen=True)
class Recommendation:
    config: Config
    decisions: tuple[Decision, ...]
    savings: Savings
    oracle_usd: float | None = None  # projected spend if each request went to its cheapest passing tier
    audit_cost_usd: float = 0.0  # what the audit's own model calls cost
    cascades: tuple[Cascade, ...] = ()  # only for tasks the config's `cascade:` names


def audit_config(audit: Audit) -> Config:
    """The config the audit ran with (kept in the audit, so later steps need no tiertool.yaml)."""
    return parse_config(audit.meta["config"], str(audit.folder / "audit.sqlite"))


def recommend(audit: Audit, assignment: dict[str, str] | None = None) -> Recommendation:
    """Decide every task from the audit's evidence; `assignment` (a committed tiers.yaml) overrides tiers."""
    config = audit_config(audit)
    decisions = tuple(decide(audit, config))
    if assignment:
        decisions = tuple(_assigned(d, assignment.get(d.task, d.tier), config) for d in decisions)
    days = period_days(audit.meta.get("first_time"), audit.meta.get("last_time"))
    savings = project(audit.volume, {d.task: d.model for d in decisions}, days, config.prices)
    oracle_usd = oracle(audit.volume, cheapest_passing(audit, config), config.reference.model, config.prices)
    return Recommendation(config, decisions, savings, oracle_usd, float(audit.meta.get("spend_usd") or 0.0),
                          tuple(cascades(audit, config)))


def cheapest_passing(audit: Audit, config: Config) -> dict[str, dict[str, float]]:
    """Per task, the sample's share of requests whose cheapest passing tier is each model (the oracle)."""
    order = {t.name: i for i, t in enumerate(config.tiers)}
    best: dict[tuple[str, str], int] = {}
    for r in audit.results:
        key = (r.task, r.request_id)
        best.setdefault(key, len(config.tiers) - 1)
        if r.passed and order.get(r.tier, 99) < best[key]:
            best[key] = order[r.tier]
    counts: dict[str, dict[str, float]] = {}
    for (task, _), i in best.items():
        shares = counts.setdefault(task, {})
        model = config.tiers[i].model
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
                   reason=f"assigned by the tiers file; this audit: {d.reason}")


def savings_dict(s: Savings, rec: Recommendation | None = None) -> dict[str, Any]:
    monthly = s.per_30_days(s.saved_usd)
    extra: dict[str, Any] = {}
    if rec is not None:
        oracle_saved = s.current_usd - rec.oracle_usd if rec.oracle_usd is not None else None
        extra = {
            "oracle_saved_usd": _r6(oracle_saved),
            "oracle_captured": round(s.saved_usd / oracle_saved, 4) if oracle_saved and oracle_saved > 0 else None,
            "audit_cost_usd": round(rec.audit_cost_usd, 6),
            "break_even_days": round(rec.audit_cost_usd / (monthly / 30), 2) if monthly and monthly > 0 else None,
        }
    return {
        "current_usd": round(s.current_usd, 6),
        "projected_usd": round(s.projected_usd, 6),
        "saved_usd": round(s.saved_usd, 6),
        "saved_fraction": round(s.saved_fraction, 4),
        "period_days": round(s.period_days, 3) if s.period_days else None,
        "monthly_current_usd": _r(s.per_30_days(s.current_usd)),
        "monthly_projected_usd": _r(s.per_30_days(s.projected_usd)),
        "monthly_saved_usd": _r(s.per_30_days(s.saved_usd)),
        "monthly_saved_interval_usd": [_r(x) for x in s.interval_30d] if s.interval_30d else None,
        "sources": {t.task: t.source for t in s.by_task},
        "unpriced_models": list(s.unpriced),
        **extra,
    }


def _r6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def tiers_doc(rec: Recommendation) -> dict[str, Any]:
    ref = rec.config.reference
    return {
        "generated_by": "tiertool recommend",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reference": {"tier": ref.name, "model": ref.model},
        "quality": rec.config.quality.model_dump(),
        "tasks": {
            d.task: {"tier": d.tier, "model": d.model, "pass_rate": round(d.pass_rate, 4),
                     "lower_bound": round(d.lower_bound, 4), "sampled": d.sampled, "requests": d.requests,
                     "scorer": d.scorer, "status": d.status, "reason": d.reason}
            for d in rec.decisions
        },
        "savings": savings_dict(rec.savings, rec),
        **({"cascade": cascade_dict(rec)} if rec.cascades else {}),
    }


def cascade_dict(rec: Recommendation) -> dict[str, Any]:
    return {c.task: {"try": c.tier, "check": c.check, "sampled": c.sampled,
                     "escalation_rate": round(c.escalation_rate, 4), "quality": round(c.quality, 4),
                     "quality_lower_bound": round(c.quality_lower_bound, 4),
                     "expected_cost_usd": round(c.expected_cost_usd, 6),
                     "reference_cost_usd": round(c.reference_cost_usd, 6)} for c in rec.cascades}


def litellm_config(rec: Recommendation, model_name: str | None = None) -> dict[str, Any]:
    """A LiteLLM proxy config: tagged deployments per cheaper model, a `default` one on the reference."""
    ref = rec.config.reference
    name = model_name or ref.model.rsplit("/", 1)[-1]
    tiers = {t.name: t for t in rec.config.tiers}

    def params(tier_name: str, tags: list[str]) -> dict[str, Any]:
        tier = tiers[tier_name]
        p: dict[str, Any] = {"model": tier.model, "tags": tags}
        if tier.api_base:
            p["api_base"] = tier.api_base
        if tier.api_key_env:
            p["api_key"] = f"os.environ/{tier.api_key_env}"
        return p

    by_tier: dict[str, list[str]] = {}
    for d in rec.decisions:
        if d.tier != ref.name:
            by_tier.setdefault(d.tier, []).append(f"task:{d.task}")
    model_list = [{"model_name": name, "litellm_params": params(t, sorted(tags))} for t, tags in by_tier.items()]
    model_list.append({"model_name": name, "litellm_params": params(ref.name, ["default"])})
    return {"model_list": model_list, "router_settings": {"enable_tag_filtering": True}}


def write_yaml(path: str | Path, doc: dict[str, Any], header: str = "") -> Path:
    import yaml

    path = Path(path)
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path

