"""`tiertool recommend`: the recommendation (decide.recommendation) written as tiers.yaml, and optionally as a
LiteLLM proxy config routing each task tag to its tier."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..decide.recommendation import Recommendation
from ..errors import InputError
from ..pricing.prices import same_model
from ..report.build import cascade_rows, savings_row

if TYPE_CHECKING:
    from ..gate import Gate

TIERS_HEADER = "# Task tiers chosen by `tiertool recommend`; evidence in the audit folder.\n"
PROXY_HEADER = ("# LiteLLM proxy config written by `tiertool recommend`: requests tagged task:<name> go to their "
                "task's tier; the rest to the `default` deployment.\n")
GATE_MODULE, GATE_GROUP = "tiertool_gate", "-gate"  # the hook module beside the config; the gate's group suffix


def tiers_doc(rec: Recommendation) -> dict[str, Any]:
    """tiers.yaml: each task's tier with its evidence, the savings and the cascade estimates."""
    ref = rec.config.reference
    cascade = {task: row.model_dump(mode="json", by_alias=True) for task, row in cascade_rows(rec).items()}
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
        "savings": savings_row(rec).model_dump(mode="json"),
        **({"cascade": cascade} if cascade else {}),
    }


def litellm_config(rec: Recommendation, model_name: str | None = None, gate: Gate | None = None
                   ) -> dict[str, Any]:
    """A LiteLLM proxy config: tagged deployments per cheaper model, a `default` one on the reference; with a
    `gate`, one more group (`<name>-gate`) on the gate's cheaper model and the gate's pre-call hook."""
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
    doc: dict[str, Any] = {"model_list": model_list, "router_settings": {"enable_tag_filtering": True}}
    if gate is not None:
        cheap = next((t for t in rec.config.tiers if same_model(t.model, gate.cheap)), None)
        if cheap is None:
            raise InputError(f"the gate routes to {gate.cheap}, which no tier of the config serves: pass the "
                             "gate built from this audit")
        model_list.append({"model_name": f"{name}{GATE_GROUP}", "litellm_params": params(cheap.name, ["default"])})
        doc["litellm_settings"] = {"callbacks": [f"{GATE_MODULE}.gate"]}
    return doc


def write_tiers(rec: Recommendation, path: str | Path) -> Path:
    return _write_yaml(path, tiers_doc(rec), TIERS_HEADER)


def write_litellm_config(rec: Recommendation, path: str | Path, model_name: str | None = None,
                         gate_path: str | Path | None = None) -> Path:
    """The proxy config; with `gate_path`, also the hook module it loads (`tiertool_gate.py`, beside it)."""
    from ..gate import load

    path = Path(path)
    gate = load(gate_path) if gate_path is not None else None
    doc = litellm_config(rec, model_name, gate)
    if gate_path is not None:
        routed = doc["model_list"][-1]["model_name"]  # the gate's group, appended last
        (path.parent / f"{GATE_MODULE}.py").write_text(
            hook_module(Path(gate_path), routed.removesuffix(GATE_GROUP), routed, rec.config.group_by),
            encoding="utf-8")
    return _write_yaml(path, doc, PROXY_HEADER)


def hook_module(gate_path: Path, group: str, routed: str, group_by: str) -> str:
    """The module the proxy config loads: it only makes tiertool's hook from the gate file."""
    return ("# Written by `tiertool recommend`: the per-request gate as a LiteLLM pre-call hook.\n"
            "from tiertool.gate.litellm_hook import GateHook\n\n"
            f"gate = GateHook({str(gate_path.resolve())!r}, group={group!r}, routed={routed!r}, "
            f"group_by={group_by!r})\n")


def _write_yaml(path: str | Path, doc: dict[str, Any], header: str) -> Path:
    import yaml

    path = Path(path)
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
