"""The terminal report: rich tables (colour only on a terminal), then the reasons and warnings as plain lines."""

from __future__ import annotations

import io

from ..model import Report
from .common import saving_rows, savings_evidence, savings_line, score, usd


def render_term(report: Report, color: bool = False) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=None if color else 120, force_terminal=color, no_color=not color,
                      highlight=False)
    q = report.quality
    table = Table(title=f"tiertool: pass rate proven >= {q.target:g} at {q.confidence:g} confidence")
    for col, just in [("task", "left"), ("requests", "right"), ("share", "right"), ("tier", "left"),
                      ("model", "left"), ("pass rate", "right"), ("interval", "right"), ("sampled", "right"),
                      ("current", "right"), ("projected", "right")]:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for t in report.tasks:
        moved = t.tier != report.reference.tier
        table.add_row(escape(t.task), f"{t.requests:,}", f"{t.share:.1%}",
                      f"[green]{escape(t.tier)}[/]" if moved else escape(t.tier), escape(t.model),
                      f"{t.pass_rate:.1%}", f"{t.lower_bound:.1%}-100%", str(t.sampled),
                      usd(t.current_usd), usd(t.projected_usd))
    console.print(table)
    savings = Table(title="Savings over the log's period")
    for col in ("task", "current", "projected", "saved", "share of savings"):
        savings.add_column(col, justify="left" if col == "task" else "right")
    for row in saving_rows(report):
        savings.add_row(escape(row[0]), *row[1:], style="bold" if row[0] == "total" else None)
    console.print(savings)
    console.print(f"Savings: {savings_line(report.savings)}", markup=False)
    for line in savings_evidence(report.savings):
        console.print(f"  {line}", markup=False)
    for t in report.tasks:
        console.print(f"  {t.task}: {t.reason}", markup=False)
    for t in report.tasks:
        if (t.scorer_reason or "").startswith("auto"):
            console.print(f"  {t.task}: scorer {t.scorer_reason}", markup=False)
    for task, acc in (report.reference_accuracy or {}).items():
        console.print(f"  reference accuracy on {task} vs expected: {acc.passed}/{acc.scored} "
                      f"({acc.accuracy:.1%})", markup=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w.message)}")
    for task, recs in (report.examples or {}).items():
        console.print(f"\nWorst examples: {task}", style="bold", markup=False)
        for r in recs:
            console.print(f"  {r.request_id} ({r.source}) tier {r.tier}: score {score(r.value)}, {r.reason}",
                          markup=False)
            for label, text in (("prompt", r.prompt), ("reference", r.reference), ("answer", r.answer)):
                console.print(f"    {label}: {'(not available)' if text is None else text}", markup=False)
    return buf.getvalue()
