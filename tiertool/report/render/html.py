"""`tiertool report --format html`: one self-contained page (inline CSS, server-drawn SVG, no script).

All log content goes through jinja2's autoescaping; a Content-Security-Policy forbids scripts and any
network fetch as a second line of defence.
"""

from __future__ import annotations

import math
from typing import Any

from ..model import Report, TaskRow
from .common import PART_STATES, bar, evidence, pct, saving_rows, savings_line, scorer_checks, usd

W, H = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 36, 18, 44
PAD = 12  # data never reaches the frame: a point (radius 6) at 100% or at $0 stays inside
CHAR_W, TEXT_H = 7.0, 13.0  # a generous estimate of 11px system-ui glyphs, so estimated boxes contain real ones
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def nice_step(span: float, steps: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `steps` intervals over `span`."""
    raw = span / steps if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)


def _money(v: float, step: float) -> str:
    """A tick's dollar label with as many decimals as its step needs: $0, $0.05, $0.10, $0.0025."""
    exp = math.floor(math.log10(step) + 1e-9)
    decimals = max(0, -exp + (1 if round(step / 10 ** exp, 3) == 2.5 else 0))
    return f"${v:,.{decimals}f}"


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _text_box(x: float, y: float, text: str, anchor: str) -> Box:
    """The box a label drawn at baseline (x, y) covers."""
    w = len(text) * CHAR_W
    x0 = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
    return x0, y - TEXT_H + 3, x0 + w, y + 3


def _place(text: str, px: float, py: float, taken: list[Box], inside: Box) -> tuple[float, float, str]:
    """A spot for a point's label that overlaps no label or point placed so far and stays in the plot: beside
    the point first, then above or below it, then further out."""
    for dy in (0, 14, 28, 42, 56):
        for x, y, anchor in ((px + 9, py - 4 - dy, "start"), (px + 9, py + 12 + dy, "start"),
                             (px - 9, py - 4 - dy, "end"), (px - 9, py + 12 + dy, "end"),
                             (px, py - 10 - dy, "middle"), (px, py + 20 + dy, "middle")):
            box = _text_box(x, y, text, anchor)
            inside_ok = box[0] >= inside[0] and box[2] <= inside[2] and box[1] >= inside[1] and box[3] <= inside[3]
            if inside_ok and not any(_overlaps(box, b) for b in taken):
                taken.append(box)
                return x, y, anchor
    taken.append(_text_box(px + 9, py - 4, text, "start"))
    return px + 9, py - 4, "start"


def chart(task: TaskRow, report: Report) -> dict[str, Any]:
    """Geometry of one task's cost-quality chart: a point per tier (cost of the task's traffic there, pass rate
    with its one-sided interval), and the quality bar as a line. Ticks fall on round values, points stay
    inside the frame and no two labels overlap."""
    target = report.quality.target
    ref = report.reference.tier
    evidence_ = {e.tier: e for e in task.tiers}
    raw: list[tuple[str, float, float, float, int]] = []
    for tier, cost in task.cost_by_tier.items():
        e = evidence_.get(tier)
        if cost is None:
            continue
        if tier == ref:
            raw.append((tier, cost, 1.0, 1.0, 0))
        elif e is not None and e.scored:
            raw.append((tier, cost, e.pass_rate or 0.0, e.lower_bound or 0.0, e.scored))
    missing = [t for t in task.cost_by_tier if t not in {r[0] for r in raw}]
    top_cost = max([r[1] for r in raw] + [0.0])
    xstep = nice_step(top_cost, 4) if top_cost > 0 else 0.25
    xmax = max(math.ceil(top_cost / xstep - 1e-9), 1) * xstep
    low = min([r[3] for r in raw] + [target])
    ystep = next(s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25) if (1 - low) / s <= 6)
    ymin = max(0.0, math.floor(low / ystep - 1e-9) * ystep)
    if ymin > low - ystep / 4 and ymin > 0:  # room below the lowest whisker
        ymin = max(0.0, ymin - ystep)
    right, bottom = W - RIGHT, H - BOTTOM

    def x(v: float) -> float:
        return round(LEFT + PAD + (right - LEFT - 2 * PAD) * v / xmax, 1)

    def y(v: float) -> float:
        return round(TOP + PAD + (bottom - TOP - 2 * PAD) * (1 - (v - ymin) / (1 - ymin)), 1)

    inside: Box = (LEFT + 2, 2, W - 2, bottom - 2)  # the plot and the margins above and right of it
    bar_y = y(target)
    above = bar_y - TOP > 2 * TEXT_H
    label_y = round(bar_y - 4 if above else bar_y + 14, 1)
    bar_label = {"x": right - 4, "y": label_y, "text": f"bar {bar(target)}"}
    taken = [_text_box(right - 4, label_y, f"bar {bar(target)}", "end"), (LEFT, bar_y - 1, right, bar_y + 1)]
    taken += [(x(c) - 7, y(p) - 7, x(c) + 7, y(p) + 7) for _, c, p, _, _ in raw]  # labels avoid the points
    points = []
    for t, c, p, lb, n in sorted(raw, key=lambda r: (r[1], -r[2])):
        lx, ly, anchor = _place(t, x(c), y(p), taken, inside)
        points.append({"tier": t, "cost": usd(c), "x": x(c), "y": y(p), "y_low": y(lb), "y_top": y(1.0),
                       "pass_rate": f"{p:.1%}", "lower_bound": f"{lb:.1%}", "scored": n, "assigned": t == task.tier,
                       "label_x": round(lx, 1), "label_y": round(ly, 1), "anchor": anchor})
    yticks = [{"y": y(ymin + ystep * i), "label": f"{(ymin + ystep * i) * 100:.0f}%"}
              for i in range(round((1 - ymin) / ystep) + 1)]
    xticks = [{"x": x(xstep * i), "label": _money(xstep * i, xstep)} for i in range(round(xmax / xstep) + 1)]
    return {"w": W, "h": H, "left": LEFT, "right": right, "top": TOP, "bottom": bottom, "bar_y": bar_y,
            "bar_label": bar_label, "points": points, "yticks": yticks, "xticks": xticks, "missing": missing}


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
        bars=bars, gates=report.gates or [], examples=report.examples or {},
        evidence={t.task: evidence(t, report.quality.target) for t in report.tasks},
        checks={t.task: scorer_checks(t) for t in report.tasks}, part_states=PART_STATES)
