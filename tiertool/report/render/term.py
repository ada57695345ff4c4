"""The terminal report: rich tables (colour only on a terminal), then the reasons and warnings as plain lines.
Every string from the audit (task names, reasons, answers, models) goes through `printable`: an escape sequence
in a log must not retitle the window or hide the rest of the report."""

from __future__ import annotations

import io
import textwrap
from functools import partial
from typing import Any

from ...text import printable
from ..model import Report
from .common import evidence, part_lines, saving_rows, savings_evidence, savings_line, score, scorer_checks, typing_line

WIDTH = 80  # when not on a terminal (piped, a file): what every terminal shows


def render_term(report: Report, color: bool = False) -> str:
    """Nothing is cut at 80 columns: models appear once, in full, in the tier legend (the tables name the
    tiers), and a long task name wraps inside its cell."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape as markup_escape
    from rich.table import Table

    def escape(text: str) -> str:  # a cell: shown as itself, neither markup nor a control sequence
        return markup_escape(printable(text))

    p = printable

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
    say(f"Task typing: {typing_line(report.audit.typing)}", 0)
    for t in report.tasks:
        say(f"{t.task}: {t.reason}")
    parts = part_lines(report)
    if parts:
        say("Sub-populations tested apart (their pass rate differed from the rest of their task's):", 0)
    for line in parts:
        say(line)
    for t in report.tasks:
        if (t.scorer_reason or "").startswith("auto"):
            say(f"{t.task}: scorer {t.scorer_reason}")
    for t in report.tasks:
        for line in scorer_checks(t):
            say(line)
    for task, acc in (report.reference_accuracy or {}).items():
        say(f"reference accuracy on {task} vs expected: {acc.passed}/{acc.scored} ({acc.accuracy:.1%})")
    for w in report.warnings:
        # made printable before it is wrapped (a wrapped line's breaks are not the message's), then wrapped once
        console.print("[yellow]warning:[/] " + markup_escape(textwrap.fill(
            p(w.message), console.width - 9, subsequent_indent="  ", break_on_hyphens=False)), soft_wrap=True)
    for task, recs in (report.examples or {}).items():
        console.print(f"\nWorst examples: {p(task)}", style="bold", markup=False)
        for r in recs:
            console.print(f"  {p(r.request_id)} ({p(r.source)}) tier {p(r.tier)}: score {score(r.value)}, "
                          f"{p(r.reason)}", markup=False)
            for label, text in (("prompt", r.prompt), ("reference", r.reference), ("answer", r.answer)):
                shown = "(not available)" if text is None else printable(text, newlines=True)
                console.print(f"    {label}: {shown}", markup=False)
    return buf.getvalue()


def _wrapped(console: Any, text: str, indent: int = 2) -> None:
    """A plain line, made printable, wrapped to the console's width, continuation lines indented further (never
    rich markup)."""
    console.print(textwrap.fill(printable(text), console.width, initial_indent=" " * indent,
                                subsequent_indent=" " * (indent + 2), break_on_hyphens=False),
                  markup=False, soft_wrap=True)
