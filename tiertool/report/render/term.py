"""The terminal report: rich tables (colour only on a terminal), then the reasons and warnings as plain lines."""

from __future__ import annotations

import io
import textwrap
from functools import partial
from typing import Any

from ..model import Report
from .common import evidence, saving_rows, savings_evidence, savings_line, score, scorer_checks

WIDTH = 80  # when not on a terminal (piped, a file): what every terminal shows


def render_term(report: Report, color: bool = False) -> str:
    """Nothing is cut at 80 columns: models appear once, in full, in the tier legend (the tables name the
    tiers), and a long task name wraps inside its cell."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=None if color else WIDTH, force_terminal=color, no_color=not color,
                      highlight=False)
    q = report.quality
    ref = report.reference.tier
    legend = "; ".join(f"{tier} = {model}" + (" (reference)" if tier == ref else "")
                       for tier, model in report.tier_models.items())
    _wrapped(console, f"tiers: {legend}", 0)
    table = Table(title=f"pass rate proven >= {q.target:g} at {q.confidence:g} confidence", box=box.SIMPLE_HEAD,
                  title_justify="left", show_edge=False, pad_edge=False, collapse_padding=True)
    for col, just in [("task", "left"), ("requests", "right"), ("tier", "left"), ("tested", "left"),
                      ("passed", "right"), ("pass rate", "right"), ("lower bound", "right")]:
        table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for t in report.tasks:
        table.add_row(escape(t.task), f"{t.requests:,}",
                      f"[green]{escape(t.tier)}[/]" if t.tier != ref else escape(t.tier),
                      *map(escape, evidence(t, q.target)))
    console.print(table)
    console.print()
    savings = Table(title="Savings over the log's period", box=box.SIMPLE_HEAD, title_justify="left",
                    show_edge=False, pad_edge=False, collapse_padding=True)
    for col in ("task", "current", "projected", "saved", "share of savings"):
        savings.add_column(col, justify="left" if col == "task" else "right", overflow="fold")
    for row in saving_rows(report):
        savings.add_row(escape(row[0]), *row[1:], style="bold" if row[0] == "total" else None)
    console.print(savings)
    console.print()
    say = partial(_wrapped, console)
    say(f"Savings: {savings_line(report.savings)}", 0)
    for line in savings_evidence(report.savings):
        say(line)
    for t in report.tasks:
        say(f"{t.task}: {t.reason}")
    for t in report.tasks:
        if (t.scorer_reason or "").startswith("auto"):
            say(f"{t.task}: scorer {t.scorer_reason}")
    for t in report.tasks:
        for line in scorer_checks(t):
            say(line)
    for task, acc in (report.reference_accuracy or {}).items():
        say(f"reference accuracy on {task} vs expected: {acc.passed}/{acc.scored} ({acc.accuracy:.1%})")
    for w in report.warnings:
        console.print("[yellow]warning:[/] " + escape(textwrap.fill(w.message, console.width - 9,
                                                                   subsequent_indent="  ")))
    for task, recs in (report.examples or {}).items():
        console.print(f"\nWorst examples: {task}", style="bold", markup=False)
        for r in recs:
            console.print(f"  {r.request_id} ({r.source}) tier {r.tier}: score {score(r.value)}, {r.reason}",
                          markup=False)
            for label, text in (("prompt", r.prompt), ("reference", r.reference), ("answer", r.answer)):
                console.print(f"    {label}: {'(not available)' if text is None else text}", markup=False)
    return buf.getvalue()


def _wrapped(console: Any, text: str, indent: int = 2) -> None:
    """A plain line wrapped to the console's width, continuation lines indented further (never rich markup)."""
    console.print(textwrap.fill(text, console.width, initial_indent=" " * indent,
                                subsequent_indent=" " * (indent + 2), break_on_hyphens=False),
                  markup=False, soft_wrap=True)
