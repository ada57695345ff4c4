"""Markdown, for a pull-request comment and GitHub's step summary: log content only inside code blocks, and
control characters escaped (`report -f md` is often read in a terminal first)."""

from __future__ import annotations

import re

from ...text import printable
from ..model import Report
from .common import (
    evidence,
    part_lines,
    saving_rows,
    savings_evidence,
    savings_line,
    score,
    scorer_checks,
    typing_line,
    usd,
)


def render_md(report: Report, color: bool = False) -> str:
    q = report.quality
    lines = ["# tiertool report", ""]
    if report.gates:
        lines += ["## CI gates", ""]
        lines += [f"- {'pass' if g.passed else '**FAIL**'} `{g.gate}`: {_md(g.message)}" for g in report.gates]
        for g in report.gates:
            if g.details:
                lines += ["", "```diff" if g.gate == "diff" else "```", *map(printable, g.details), "```"]
        lines.append("")
    lines += [
        f"Quality bar: pass rate proven >= {q.target:g} at {q.confidence:g} confidence "
        f"(reference: `{_md(report.reference.model)}`).", "",
        "Tested, passed, pass rate and lower bound are the evidence that decided each task: the chosen cheaper "
        "tier's, or for a task kept on the reference its best cheaper tier's.", "",
        "| task | requests | share | tier | model | tested | passed | pass rate | lower bound | current | projected |",
        "|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for t in report.tasks:
        tier, passed, rate, bound = evidence(t, q.target)
        lines.append(f"| {_md(t.task)} | {t.requests:,} | {t.share:.1%} | {_md(t.tier)} | `{_md(t.model)}` | "
                     f"{_md(tier)} | {passed} | {rate} | {_md(bound)} | {usd(t.current_usd)} | "
                     f"{usd(t.projected_usd)} |")
    s = report.savings
    lines += ["", "## Savings", "", savings_line(s) + ".", ""]
    lines += [f"- {_md(line)}" for line in savings_evidence(s)]
    lines += ["", "| task | current | projected | saved | share of savings |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {_md(r[0])} | {' | '.join(r[1:])} |" for r in saving_rows(report)]
    lines += ["", f"Audit: {report.audit.calls} model calls sent, {report.audit.cache_hits} cache hits. "
              f"Task typing: {typing_line(report.audit.typing)}."]
    lines += ["", "## Why", ""] + [f"- **{_md(t.task)}**: {_md(t.reason)}" for t in report.tasks]
    parts = part_lines(report)
    if parts:
        lines += ["", "## Sub-populations tested apart", ""] + [f"- {_md(line)}" for line in parts]
    lines += ["", "## Scorers", ""] + [f"- **{_md(t.task)}**: `{t.scorer}`"
                                       + (f" ({_md(t.scorer_reason)})" if t.scorer_reason else "")
                                       for t in report.tasks]
    lines += [f"- {_md(line)}" for t in report.tasks for line in scorer_checks(t)]
    for task, acc in (report.reference_accuracy or {}).items():
        lines.append(f"- reference tier accuracy on **{_md(task)}** vs expected answers: {acc.passed}/"
                     f"{acc.scored} ({acc.accuracy:.1%})")
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- {_md(w.message)}" for w in report.warnings]
    if report.examples:
        lines += ["", "## Worst examples", ""]
        for task, recs in report.examples.items():
            lines += [f"### {_md(task)}", ""]
            for r in recs:
                lines += [f"- `{_md(r.request_id)}` ({_md(r.source)}), tier {_md(r.tier)}: "
                          f"score {score(r.value)}, {_md(r.reason)}", ""]
                for label, text in (("prompt", r.prompt), ("reference", r.reference), ("answer", r.answer)):
                    lines += [f"  {label}:", *_fenced(text), ""]
    return "\n".join(lines) + "\n"


def _fenced(text: str | None) -> list[str]:
    """A code block that no backtick run inside the text can close (so log content stays literal)."""
    text = "(not available)" if text is None else printable(text, newlines=True)
    longest = max((len(run) for line in text.split("\n") for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"  {fence}text", *[f"  {line}" for line in text.split("\n")], f"  {fence}"]


def _md(text: str) -> str:
    """Text safe in a markdown table cell or list item: no HTML, no cell breaks, no control characters."""
    text = printable(text.replace("\n", " "))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
