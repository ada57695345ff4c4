"""What `tiertool report` does, as one library call: build, gate, redact, render, write the step summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class ReportResult:
    text: str
    gate_lines: tuple[str, ...]
    failed: bool


def run_report(audit_dir: Path, *, tiers: Path | None = None, fmt: str = "term", examples: int = 0,
               redact: bool = False, check: bool = False, baseline: Path | None = None,
               fail_under_savings: str | None = None, new_logs: list[Path] | None = None,
               drift_threshold: float = 0.25, color: bool = False, step_summary: str | None = None,
               today: date | str | None = None) -> ReportResult:
    from ..commands.recommend import audit_config, recommend
    from ..store import load_audit
    from . import gates as g
    from .build import build, gate_lines, load_tiers, render, render_md

    today = _day(today)
    floor = g.parse_fraction(fail_under_savings) if fail_under_savings is not None else None
    audit = load_audit(audit_dir)
    assignment = load_tiers(tiers) if tiers else None
    rec = recommend(audit, assignment)
    data = build(audit, rec, examples=examples, today=today)
    if check:
        results = [g.audit_gate(data)]
        base_path = baseline or tiers or (Path("tiers.yaml") if Path("tiers.yaml").is_file() else None)
        if baseline is not None and not baseline.is_file():
            raise InputError(f"{baseline}: baseline tiers file not found (--baseline)")
        if base_path is not None:
            committed = load_tiers(base_path)
            fresh = recommend(audit) if assignment else rec
            results += [g.bar_gate(data, committed, fresh), g.diff_gate(committed, fresh, base_path)]
        if floor is not None:
            results.append(g.savings_gate(data, floor))
        results.append(g.deprecation_gate(data, today))
        if new_logs:
            results.append(g.drift_gate(data, g.task_mix(new_logs, audit_config(audit).group_by), drift_threshold))
        data["gates"] = [r.as_dict() for r in results]
    if redact:
        from .redact import redact_all

        data = redact_all(data)
    text = render(data, fmt, color=color)
    if step_summary:
        _append(Path(step_summary), text if fmt == "md" else render_md(data))
    lines = tuple(gate_lines(data))
    if check and "bar" not in {r["gate"] for r in data["gates"]}:
        lines += ("note: no --baseline and no ./tiers.yaml: the bar and diff gates did not run",)
    return ReportResult(text, lines, any(not r["passed"] for r in data.get("gates", [])))


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    except OSError as e:
        raise InputError(f"{path}: cannot write the step summary (GITHUB_STEP_SUMMARY): {e.strerror}") from None


def _day(value: date | str | None) -> date:
    if value is None:
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--today {value}: expected a date like 2026-12-31") from None
