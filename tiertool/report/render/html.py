"""`tiertool report --format html`: one self-contained page (inline CSS, server-drawn SVG, no script).

All log content goes through jinja2's autoescaping; a Content-Security-Policy forbids scripts and any
network fetch as a second line of defence.
"""

from __future__ import annotations

from typing import Any

from ..model import Report, TaskRow
from .common import pct, saving_rows, savings_line, usd

W, H = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 36, 18, 44


def chart(task: TaskRow, report: Report) -> dict[str, Any]:
    """Geometry of one task's cost-quality chart: a point per tier (cost of the task's traffic there, pass rate
    with its one-sided interval), and the quality bar as a line."""
    target = report.quality.target
    ref = report.reference.tier
    evidence = {e.tier: e for e in task.tiers}
    raw: list[tuple[str, float | None, float, float, int]] = []
    for tier, cost in task.cost_by_tier.items():
        e = evidence.get(tier)
        if tier == ref:
            raw.append((tier, cost, 1.0, 1.0, 0))
        elif e is not None and e.scored and cost is not None:
            raw.append((tier, cost, e.pass_rate or 0.0, e.lower_bound or 0.0, e.scored))
    missing = [t for t in task.cost_by_tier if t not in {r[0] for r in raw}]
    xmax = max([r[1] or 0.0 for r in raw] + [0.0]) * 1.12 or 1.0
    low = min([r[3] for r in raw] + [target])
    ymin = max(0.0, min(0.5, int((low - 0.05) * 10) / 10))

    def x(v: float) -> float:
        return round(LEFT + (W - LEFT - RIGHT) * v / xmax, 1)

    def y(v: float) -> float:
        return round(TOP + (H - TOP - BOTTOM) * (1 - (v - ymin) / (1 - ymin)), 1)

    points = [{"tier": t, "cost": usd(c or 0.0), "x": x(c or 0.0), "y": y(p), "y_low": y(lb), "y_top": y(1.0),
               "pass_rate": f"{p:.1%}", "lower_bound": f"{lb:.1%}", "scored": n, "assigned": t == task.tier,
               "label_dx": -8 if x(c or 0.0) > W - RIGHT - 60 else 8,
               "anchor": "end" if x(c or 0.0) > W - RIGHT - 60 else "start"}
              for t, c, p, lb, n in raw]
    steps = 5
    yticks = [{"y": y(ymin + (1 - ymin) * i / steps), "label": f"{ymin + (1 - ymin) * i / steps:.0%}"}
              for i in range(steps + 1)]
    xticks = [{"x": x(xmax * i / 4), "label": usd(xmax * i / 4)} for i in range(5)]
    return {"w": W, "h": H, "left": LEFT, "right": W - RIGHT, "top": TOP, "bottom": H - BOTTOM,
            "bar_y": y(target), "bar_label": f"bar {target:g}", "points": points, "yticks": yticks,
            "xticks": xticks, "missing": missing}


def render_html(report: Report, color: bool = False) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("tiertool.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["usd"] = usd
    env.filters["pct"] = pct
    charts = {t.task: chart(t, report) for t in report.tasks}
    saved = {t.task: t.current_usd - t.projected_usd for t in report.tasks
             if t.current_usd is not None and t.projected_usd is not None}
    max_saved = max(saved.values(), default=0.0)
    bars = {task: round(100 * v / max_saved, 1) for task, v in saved.items() if max_saved > 0}
    return env.get_template("report.html.j2").render(
        data=report, charts=charts, savings_line=savings_line(report.savings), saving_rows=saving_rows(report),
        bars=bars, gates=report.gates or [], examples=report.examples or {})
