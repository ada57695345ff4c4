"""The worst-scoring examples per task type: the evidence a human reads before trusting the bar."""

from __future__ import annotations

from typing import Any

from ..store import Audit


def worst_examples(audit: Audit, n: int) -> dict[str, list[dict[str, Any]]]:
    """Per task (largest first), the n lowest-scoring scored answers of the cheaper tiers: failures first,
    then lowest score; ties by request id so the list is stable. Each has both answers, score and reason."""
    reference = (audit.meta.get("config") or {}).get("tiers", [{}])[-1].get("name")
    out: dict[str, list[dict[str, Any]]] = {}
    for task in audit.tasks:
        rows = [r for r in audit.results
                if r.task == task and r.tier != reference and (r.passed is not None or r.error)]
        rows.sort(key=lambda r: (bool(r.passed), r.value if r.value is not None else 0.0, r.request_id, r.tier))
        if rows and n > 0:
            out[task] = [{"request_id": r.request_id, "source": r.source, "tier": r.tier, "model": r.model,
                          "value": r.value, "passed": r.passed, "reason": r.reason, "reference": r.reference,
                          "answer": r.answer, "error": r.error} for r in rows[:n]]
    return out


def reference_accuracy(audit: Audit) -> dict[str, dict[str, Any]]:
    """The reference tier's own accuracy per task, where requests carry a ground truth (`expected`)."""
    reference = (audit.meta.get("config") or {}).get("tiers", [{}])[-1].get("name")
    out: dict[str, dict[str, Any]] = {}
    for r in audit.results:
        if r.tier == reference and r.passed is not None:
            row = out.setdefault(r.task, {"tier": reference, "scored": 0, "passed": 0})
            row["scored"] += 1
            row["passed"] += int(r.passed)
    for row in out.values():
        row["accuracy"] = round(row["passed"] / row["scored"], 4)
    return out
