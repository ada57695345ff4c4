"""`tiertool report --format html`: one self-contained page (inline CSS, server-drawn SVG, no script).

All log content goes through jinja2's autoescaping; a Content-Security-Policy forbids scripts and any
network fetch as a second line of defence.
"""

from __future__ import annotations

from typing import Any

W, H = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 36, 18, 44


def _usd(x: float) -> str:
    return f"${x:,.2f}" if abs(x) >= 1 else f"${x:,.4f}"


def chart(task: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Geometry of one task's cost-quality chart: a point per tier (cost of the task's traffic there, pass rate
    with its one-sided interval), and the quality bar as a line."""
    target = data["quality"]["target"]
    ref = data["reference"]["tier"]
    evidence = {e["tier"]: e for e in task["tiers"]}
    raw = []
    for tier, cost in task["cost_by_tier"].items():
        if tier == ref:
            raw.append((tier, cost, 1.0, 1.0, 0))
        elif tier in evidence and evidence[tier]["scored"] and cost is not None:
            e = evidence[tier]
            raw.append((tier, cost, e["pass_rate"], e["lower_bound"], e["scored"]))
    missing = [t for t in task["cost_by_tier"] if t not in {r[0] for r in raw}]
    xmax = max([r[1] or 0.0 for r in raw] + [0.0]) * 1.12 or 1.0
    low = min([r[3] for r in raw] + [target])
    ymin = max(0.0, min(0.5, int((low - 0.05) * 10) / 10))

    def x(v: float) -> float:
        return round(LEFT + (W - LEFT - RIGHT) * v / xmax, 1)

    def y(v: float) -> float:
        return round(TOP + (H - TOP - BOTTOM) * (1 - (v - ymin) / (1 - ymin)), 1)

    points = [{"tier": t, "cost": _usd(c or 0.0), "x": x(c or 0.0), "y": y(p), "y_low": y(lb), "y_top": y(1.0),
               "pass_rate": f"{p:.1%}", "lower_bound": f"{lb:.1%}", "scored": n, "assigned": t == task["tier"],
               "label_dx": -8 if x(c or 0.0) > W - RIGHT - 60 else 8,
               "anchor": "end" if x(c or 0.0) > W - RIGHT - 60 else "start"}
              for t, c, p, lb, n in raw]
    steps = 5
    yticks = [{"y": y(ymin + (1 - ymin) * i / steps), "label": f"{ymin + (1 - ymin) * i / steps:.0%}"}
              for i in range(steps + 1)]
    xticks = [{"x": x(xmax * i / 4), "label": _usd(xmax * i / 4)} for i in range(5)]
    return {"w": W, "h": H, "left": LEFT, "right": W - RIGHT, "top": TOP, "bottom": H - BOTTOM,
            "bar_y": y(target), "bar_label": f"bar {target:g}", "points": points, "yticks": yticks,
            "xticks": xticks, "missing": missing}


def render_html(data: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("tiertool.report", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    from .build import _saving_rows, _savings_line
    from .build import _usd as usd

    env.filters["usd"] = lambda v: usd(v)
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:.1%}"
    charts = {t["task"]: chart(t, data) for t in data["tasks"]}
    s = data["savings"]
    saved_rows = _saving_rows(data)
    max_saved = max((t["current_usd"] - t["projected_usd"] for t in data["tasks"] if t["current_usd"] is not None),
                    default=0.0)
    bars = {t["task"]: round(100 * (t["current_usd"] - t["projected_usd"]) / max_saved, 1)
            for t in data["tasks"] if t["current_usd"] is not None and max_saved > 0}
    return env.get_template("report.html.j2").render(
        data=data, charts=charts, savings_line=_savings_line(s), saving_rows=saved_rows, bars=bars,
        gates=data.get("gates") or [], examples=data.get("examples") or {})
