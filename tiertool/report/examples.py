"""The worst-scoring examples per task type, the evidence a human reads before trusting the bar, and the
reference tier's own accuracy where requests carry a ground truth.

Prompts are not kept in the audit: they are read back through ingest from the log each example came from
(any format, gzip, batch joins), only when examples are asked for.
"""

from __future__ import annotations

from ..ingest import find_requests
from ..records import Result, content_text
from ..store import Audit
from .model import Accuracy, Example


def worst_examples(audit: Audit, n: int) -> dict[str, list[Example]]:
    """Per task (largest first), the n lowest-scoring scored answers of the cheaper tiers: failures first,
    then lowest score; ties by request id so the list is stable. Each has both answers, score, reason, prompt."""
    reference = audit.config.reference.name
    chosen: dict[str, list[Result]] = {}
    for task in audit.tasks:
        rows = [r for r in audit.results
                if r.task == task and r.tier != reference and (r.passed is not None or r.error)]
        rows.sort(key=lambda r: (bool(r.passed), r.value if r.value is not None else 0.0, r.request_id, r.tier))
        if rows and n > 0:
            chosen[task] = rows[:n]
    meta = audit.meta
    requests = find_requests(meta.logs, {r.source for rows in chosen.values() for r in rows}, meta.log_format,
                             meta.mapping)
    prompts = {src: "\n\n".join(f"[{m.get('role', '?')}] {content_text(m.get('content')) or ''}"
                                for m in req.messages) for src, req in requests.items()}
    return {task: [Example(request_id=r.request_id, source=r.source, tier=r.tier, model=r.model, value=r.value,
                           passed=r.passed, reason=r.reason, reference=r.reference, answer=r.answer, error=r.error,
                           prompt=prompts.get(r.source)) for r in rows]
            for task, rows in chosen.items()}


def reference_accuracy(audit: Audit) -> dict[str, Accuracy]:
    """The reference tier's own accuracy per task, where requests carry a ground truth (`expected`)."""
    reference = audit.config.reference.name
    counts: dict[str, list[int]] = {}
    for r in audit.results:
        if r.tier == reference and r.passed is not None:
            c = counts.setdefault(r.task, [0, 0])
            c[0] += 1
            c[1] += int(r.passed)
    return {task: Accuracy(tier=reference, scored=n, passed=k, accuracy=round(k / n, 4))
            for task, (n, k) in counts.items()}
