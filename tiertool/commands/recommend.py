"""`tiertool recommend`: the recommendation (decide.recommendation) written as tiers.yaml (the LiteLLM proxy
config is commands.litellm_config)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..decide.recommendation import Recommendation
from ..report.build import cascade_rows, savings_row

TIERS_HEADER = "# Task tiers chosen by `tiertool recommend`; evidence in the audit folder.\n"


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


def write_tiers(rec: Recommendation, path: str | Path) -> Path:
    return _write_yaml(path, tiers_doc(rec), TIERS_HEADER)


def _write_yaml(path: str | Path, doc: dict[str, Any], header: str) -> Path:
    import yaml

    path = Path(path)
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
