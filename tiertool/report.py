"""`tiertool report`: one report dict (the json format), rendered to text for the terminal or markdown.

Every renderer returns a string, so tests can snapshot it and the CLI only prints or writes it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from .decide import Decision
from .errors import InputError
from .recommend import Recommendation, savings_dict
from .store import Audit

FORMATS = ("term", "md", "json")
MAX_LISTED = 10  # failed requests listed in the term and md reports (json lists them all)


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


def build(audit: Audit, rec: Recommendation) -> dict[str, Any]:
    total = sum(d.requests for d in rec.decisions) or 1
    costs = {t.task: t for t in rec.savings.by_task}
    meta = audit.meta
    return {
        "tasks": [_task_row(d, total, costs.get(d.task)) for d in rec.decisions],
        "savings": savings_dict(rec.savings),
        "quality": rec.config.quality.model_dump(),
        "reference": {"tier": rec.config.reference.name, "model": rec.config.reference.model},
        "audit": {
            "logs": meta.get("logs", []), "records": meta.get("records"), "skipped": meta.get("skipped"),
            "calls": meta.get("calls", 0), "cache_hits": meta.get("cache_hits", 0),
            "failed": meta.get("failed", 0), "spend_usd": round(meta.get("spend_usd", 0.0), 6),
            "error": meta.get("error"),
        },
        "failures": [{"request_id": r.request_id, "source": r.source, "task": r.task, "tier": r.tier,
                      "error": r.error} for r in audit.results if r.error],
    }


def _task_row(d: Decision, total: int, cost: Any) -> dict[str, Any]:
    return {
        "task": d.task, "requests": d.requests, "share": round(d.requests / total, 4), "tier": d.tier,
        "model": d.model, "sampled": d.sampled, "pass_rate": round(d.pass_rate, 4),
        "lower_bound": round(d.lower_bound, 4), "scorer": d.scorer, "reason": d.reason,
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


def _warnings(data: dict[str, Any]) -> list[str]:
    out = []
    if data["audit"]["error"]:
        out.append(f"audit incomplete: {data['audit']['error']}")
    if data["audit"]["failed"]:
        out.append(f"{data['audit']['failed']} replay calls failed after retries (counted as failures)")
    for f in data.get("failures", [])[:MAX_LISTED]:
        out.append(f"{f['source']} on tier {f['tier']}: {f['error']}")
    if len(data.get("failures", [])) > MAX_LISTED:
        out.append(f"... and {len(data['failures']) - MAX_LISTED} more failed or unsent requests "
                   f"(all in `tiertool report --format json`, key 'failures')")
    if data["savings"]["unpriced_models"]:
        out.append(f"no price for {', '.join(data['savings']['unpriced_models'])}: left out of the savings")
    if data["savings"]["period_days"] is None:
        out.append("the log has no usable time span: no per-30-day figures")
    if data["audit"]["skipped"]:
        out.append(f"{data['audit']['skipped']} log lines were skipped (see `tiertool audit` output)")
    return out


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_md(data: dict[str, Any]) -> str:
    s = data["savings"]
    q = data["quality"]
    lines = [
        "# tiertool report", "",
        f"Quality bar: pass rate proven >= {q['target']:g} at {q['confidence']:g} confidence "
        f"(reference: `{data['reference']['model']}`).", "",
        "| task | requests | share | tier | model | pass rate | lower bound | sampled | current | projected |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for t in data["tasks"]:
        lines.append(f"| {_md(t['task'])} | {t['requests']:,} | {t['share']:.1%} | {t['tier']} | `{t['model']}` | "
                     f"{t['pass_rate']:.1%} | {t['lower_bound']:.1%} | {t['sampled']} | {_usd(t['current_usd'])} | "
                     f"{_usd(t['projected_usd'])} |")
    lines += ["", "## Savings", "",
              f"- current spend: {_usd(s['current_usd'])}; projected: {_usd(s['projected_usd'])}; "
              f"saved: {_usd(s['saved_usd'])} ({s['saved_fraction']:.1%})"]
    if s["monthly_saved_usd"] is not None:
        lines.append(f"- per 30 days: {_usd(s['monthly_current_usd'])} -> {_usd(s['monthly_projected_usd'])} "
                     f"(saves {_usd(s['monthly_saved_usd'])})")
    lines.append(f"- audit: {data['audit']['calls']} model calls sent, {data['audit']['cache_hits']} cache hits")
    lines += ["", "## Why", ""] + [f"- **{_md(t['task'])}**: {_md(t['reason'])}" for t in data["tasks"]]
    warnings = _warnings(data)
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {_md(w)}" for w in warnings]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_term(data: dict[str, Any], width: int | None = 120, color: bool = False) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, no_color=not color)
    q = data["quality"]
    table = Table(title=f"tiertool: pass rate proven >= {q['target']:g} at {q['confidence']:g} confidence")
    for col, just in [("task", "left"), ("requests", "right"), ("share", "right"), ("tier", "left"),
                      ("model", "left"), ("pass rate", "right"), ("lower bound", "right"), ("sampled", "right"),
                      ("current", "right"), ("projected", "right")]:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for t in data["tasks"]:
        moved = t["tier"] != data["reference"]["tier"]
        table.add_row(t["task"], f"{t['requests']:,}", f"{t['share']:.1%}",
                      f"[green]{t['tier']}[/]" if moved else t["tier"], t["model"], f"{t['pass_rate']:.1%}",
                      f"{t['lower_bound']:.1%}", str(t["sampled"]), _usd(t["current_usd"]), _usd(t["projected_usd"]))
    console.print(table)
    s = data["savings"]
    console.print(f"Savings: {_usd(s['current_usd'])} -> {_usd(s['projected_usd'])}, saves {_usd(s['saved_usd'])} "
                  f"({s['saved_fraction']:.1%})"
                  + (f"; per 30 days saves {_usd(s['monthly_saved_usd'])}" if s["monthly_saved_usd"] is not None
                     else ""), highlight=False)
    for t in data["tasks"]:
        console.print(f"  {t['task']}: {t['reason']}", highlight=False, markup=False)
    for w in _warnings(data):
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    return buf.getvalue()


def render(data: dict[str, Any], fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return render_json(data)
    if fmt == "md":
        return render_md(data)
    return render_term(data, width=None if color else 120, color=color)
