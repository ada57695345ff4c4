"""`tiertool report`: one report dict (the json format), rendered to text for the terminal or markdown.

Every renderer returns a string, so tests can snapshot it and the CLI only prints or writes it.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from ..commands.recommend import Recommendation, cascade_dict, savings_dict
from ..decide.decisions import Decision
from ..errors import InputError
from ..store import Audit

FORMATS = ("term", "md", "html", "json")


def load_tiers(path: str | Path) -> dict[str, str]:
    """task -> tier name, from a tiers.yaml written by `tiertool recommend`."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: tiers file not found; run `tiertool recommend` first")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        return {task: str(v["tier"]) for task, v in doc["tasks"].items()}
    except (yaml.YAMLError, TypeError, KeyError, AttributeError) as e:
        raise InputError(f"{p}: not a tiers file (expected tasks: {{<task>: {{tier: ...}}}}): {e}") from None


def build(audit: Audit, rec: Recommendation, examples: int = 0, today: date | None = None) -> dict[str, Any]:
    """The report as one dict (the json format); `examples` adds that many worst examples per task."""
    from .facts import task_facts, warnings

    total = sum(d.requests for d in rec.decisions) or 1
    costs = {t.task: t for t in rec.savings.by_task}
    meta = audit.meta
    data: dict[str, Any] = {
        "tasks": [{**_task_row(d, total, costs.get(d.task)), **task_facts(audit, rec, d.task)}
                  for d in rec.decisions],
        "savings": savings_dict(rec.savings, rec),
        "cascade": cascade_dict(rec),
        "quality": rec.config.quality.model_dump(),
        "reference": {"tier": rec.config.reference.name, "model": rec.config.reference.model},
        "tier_models": {t.name: t.model for t in rec.config.tiers},
        "audit": {
            "logs": meta.get("logs", []), "records": meta.get("records"), "skipped": meta.get("skipped"),
            "calls": meta.get("calls", 0), "cache_hits": meta.get("cache_hits", 0),
            "failed": meta.get("failed", 0), "spend_usd": round(meta.get("spend_usd", 0.0), 6),
            "error": meta.get("error"),
            "failures": [{"request_id": r.request_id, "source": r.source, "task": r.task, "tier": r.tier,
                          "error": r.error} for r in audit.results if r.error],
        },
    }
    chosen = meta.get("scorers") or {}
    for row in data["tasks"]:
        if row["task"] in chosen:  # what `auto` (or the config) picked, and why
            row["scorer"], row["scorer_reason"] = chosen[row["task"]]["scorer"], chosen[row["task"]]["reason"]
    from .examples import reference_accuracy

    accuracy = reference_accuracy(audit)
    if accuracy:
        data["reference_accuracy"] = accuracy
    data["warnings"] = warnings(data, rec, today)
    if examples > 0:
        from .prompts import examples as worst

        data["examples"] = worst(audit, examples)
    return data


def _task_row(d: Decision, total: int, cost: Any) -> dict[str, Any]:
    return {
        "task": d.task, "requests": d.requests, "share": round(d.requests / total, 4), "tier": d.tier,
        "model": d.model, "sampled": d.sampled, "pass_rate": round(d.pass_rate, 4),
        "lower_bound": round(d.lower_bound, 4), "scorer": d.scorer, "status": d.status, "reason": d.reason,
        "more_samples": d.more_samples,
        "current_usd": round(cost.current_usd, 6) if cost else None,
        "projected_usd": round(cost.projected_usd, 6) if cost else None,
        "tiers": [{"tier": e.tier, "model": e.model, "scored": e.scored, "passed": e.passed, "errors": e.errors,
                   "pass_rate": _r4(e.pass_rate), "lower_bound": _r4(e.lower_bound), "meets_bar": e.meets}
                  for e in d.evidence],
    }


def _r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _usd(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}" if abs(x) >= 1 else f"${x:,.4f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _saving_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(task, current, projected, saved, share of all savings) per task, then the total."""
    s = data["savings"]
    rows = []
    for t in data["tasks"]:
        if t["current_usd"] is None:
            continue
        saved = t["current_usd"] - t["projected_usd"]
        rows.append((t["task"], _usd(t["current_usd"]), _usd(t["projected_usd"]), _usd(saved),
                     _pct(saved / s["saved_usd"]) if s["saved_usd"] else "-"))
    rows.append(("total", _usd(s["current_usd"]), _usd(s["projected_usd"]), _usd(s["saved_usd"]),
                 "100.0%" if s["saved_usd"] else "-"))
    return rows


def _savings_line(s: dict[str, Any]) -> str:
    line = (f"{_usd(s['current_usd'])} -> {_usd(s['projected_usd'])}, saves {_usd(s['saved_usd'])} "
            f"({s['saved_fraction']:.1%}) over the log's {s['period_days'] or 0:g} days")
    if s["monthly_saved_usd"] is not None:
        line += (f"; per 30 days {_usd(s['monthly_current_usd'])} -> {_usd(s['monthly_projected_usd'])}, "
                 f"saves {_usd(s['monthly_saved_usd'])}")
    return line


def gate_lines(data: dict[str, Any]) -> list[str]:
    """One line per failed gate (then its details, indented), or one line saying all passed."""
    gates = data.get("gates") or []
    failed = [g for g in gates if not g["passed"]]
    if not gates:
        return []
    if not failed:
        return [f"all gates passed: {', '.join(g['gate'] for g in gates)}"]
    out = []
    for g in failed:
        out.append(f"gate failed: {g['gate']}: {g['message']}")
        out += [f"    {d}" for d in g["details"]]
    return out


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_md(data: dict[str, Any]) -> str:
    q = data["quality"]
    lines = ["# tiertool report", ""]
    if data.get("gates"):
        lines += ["## CI gates", ""]
        lines += [f"- {'pass' if g['passed'] else '**FAIL**'} `{g['gate']}`: {_md(g['message'])}"
                  for g in data["gates"]]
        for g in data["gates"]:
            if g["details"]:
                lines += ["", "```diff" if g["gate"] == "diff" else "```", *g["details"], "```"]
        lines.append("")
    lines += [
        f"Quality bar: pass rate proven >= {q['target']:g} at {q['confidence']:g} confidence "
        f"(reference: `{data['reference']['model']}`).", "",
        "| task | requests | share | tier | model | pass rate | lower bound | sampled | current | projected |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for t in data["tasks"]:
        lines.append(f"| {_md(t['task'])} | {t['requests']:,} | {t['share']:.1%} | {t['tier']} | `{t['model']}` | "
                     f"{t['pass_rate']:.1%} | {t['lower_bound']:.1%} | {t['sampled']} | {_usd(t['current_usd'])} | "
                     f"{_usd(t['projected_usd'])} |")
    s = data["savings"]
    lines += ["", "## Savings", "", _savings_line(s) + ".", ""]
    lines += [f"- {_md(line)}" for line in _savings_evidence(s)]
    lines += ["", "| task | current | projected | saved | share of savings |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {_md(r[0])} | {' | '.join(r[1:])} |" for r in _saving_rows(data)]
    lines += ["", f"Audit: {data['audit']['calls']} model calls sent, {data['audit']['cache_hits']} cache hits."]
    lines += ["", "## Why", ""] + [f"- **{_md(t['task'])}**: {_md(t['reason'])}" for t in data["tasks"]]
    lines += ["", "## Scorers", ""] + [f"- **{_md(t['task'])}**: `{t['scorer']}`"
                                       + (f" ({_md(t['scorer_reason'])})" if t.get("scorer_reason") else "")
                                       for t in data["tasks"]]
    for task, acc in data.get("reference_accuracy", {}).items():
        lines.append(f"- reference tier accuracy on **{_md(task)}** vs expected answers: {acc['passed']}/"
                     f"{acc['scored']} ({acc['accuracy']:.1%})")
    if data["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {_md(w['message'])}" for w in data["warnings"]]
    if data.get("examples"):
        lines += ["", "## Worst examples", ""]
        for task, recs in data["examples"].items():
            lines += [f"### {_md(task)}", ""]
            for r in recs:
                lines += [f"- `{_md(r['request_id'])}` ({_md(r['source'])}), tier {r['tier']}: "
                          f"score {_score(r['value'])}, {_md(r['reason'])}", ""]
                for label in ("prompt", "reference", "answer"):
                    lines += [f"  {label}:", *_fenced(r.get(label)), ""]
    return "\n".join(lines) + "\n"


def _savings_evidence(s: dict[str, Any]) -> list[str]:
    """The lines that let finance check the savings: interval, oracle, the audit's own cost."""
    out = []
    if s.get("monthly_saved_interval_usd"):
        low, high = s["monthly_saved_interval_usd"]
        out.append(f"95% interval of the saving per 30 days (days resampled): {_usd(low)} to {_usd(high)}")
    if s.get("oracle_captured") is not None:
        out.append(f"oracle (each sampled request on its cheapest passing tier) would save "
                   f"{_usd(s['oracle_saved_usd'])}; this recommendation captures {s['oracle_captured']:.0%}")
    if s.get("audit_cost_usd") is not None:
        be = s.get("break_even_days")
        out.append(f"the audit cost {_usd(s['audit_cost_usd'])}"
                   + (f", earned back in {be:g} days" if be and s["audit_cost_usd"] > 0 else ""))
    return out


def _score(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _fenced(text: str | None) -> list[str]:
    """A code block that no backtick run inside the text can close (so log content stays literal)."""
    text = "(not available)" if text is None else text
    longest = max((len(m) for m in text.split("\n") for m in _backtick_runs(m)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"  {fence}text", *[f"  {line}" for line in text.split("\n")], f"  {fence}"]


def _backtick_runs(line: str) -> list[str]:
    import re

    return re.findall(r"`+", line)


def _md(text: str) -> str:
    """Text safe in a markdown table cell or list item: no HTML, no cell breaks."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
            .replace("\n", " "))


def render_term(data: dict[str, Any], width: int | None = 120, color: bool = False) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, no_color=not color, highlight=False)
    q = data["quality"]
    table = Table(title=f"tiertool: pass rate proven >= {q['target']:g} at {q['confidence']:g} confidence")
    for col, just in [("task", "left"), ("requests", "right"), ("share", "right"), ("tier", "left"),
                      ("model", "left"), ("pass rate", "right"), ("interval", "right"), ("sampled", "right"),
                      ("current", "right"), ("projected", "right")]:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for t in data["tasks"]:
        moved = t["tier"] != data["reference"]["tier"]
        table.add_row(escape(t["task"]), f"{t['requests']:,}", f"{t['share']:.1%}",
                      f"[green]{escape(t['tier'])}[/]" if moved else escape(t["tier"]), escape(t["model"]),
                      f"{t['pass_rate']:.1%}", f"{t['lower_bound']:.1%}-100%", str(t["sampled"]),
                      _usd(t["current_usd"]), _usd(t["projected_usd"]))
    console.print(table)
    savings = Table(title="Savings over the log's period")
    for col in ("task", "current", "projected", "saved", "share of savings"):
        savings.add_column(col, justify="left" if col == "task" else "right")
    for row in _saving_rows(data):
        savings.add_row(escape(row[0]), *row[1:], style="bold" if row[0] == "total" else None)
    console.print(savings)
    console.print(f"Savings: {_savings_line(data['savings'])}", markup=False)
    for line in _savings_evidence(data["savings"]):
        console.print(f"  {line}", markup=False)
    for t in data["tasks"]:
        console.print(f"  {t['task']}: {t['reason']}", markup=False)
    for t in data["tasks"]:
        if t.get("scorer_reason", "").startswith("auto"):
            console.print(f"  {t['task']}: scorer {t['scorer_reason']}", markup=False)
    for task, acc in data.get("reference_accuracy", {}).items():
        console.print(f"  reference accuracy on {task} vs expected: {acc['passed']}/{acc['scored']} "
                      f"({acc['accuracy']:.1%})", markup=False)
    for w in data["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(w['message'])}")
    for task, recs in (data.get("examples") or {}).items():
        console.print(f"\nWorst examples: {task}", style="bold", markup=False)
        for r in recs:
            console.print(f"  {r['request_id']} ({r['source']}) tier {r['tier']}: score {_score(r['value'])}, "
                          f"{r['reason']}", markup=False)
            for label in ("prompt", "reference", "answer"):
                text = r.get(label)
                console.print(f"    {label}: {'(not available)' if text is None else text}", markup=False)
    return buf.getvalue()


def render(data: dict[str, Any], fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return render_json(data)
    if fmt == "md":
        return render_md(data)
    if fmt == "html":
        from .html import render_html

        return render_html(data)
    return render_term(data, width=None if color else 120, color=color)
