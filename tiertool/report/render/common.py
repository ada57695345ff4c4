"""What every renderer shows alike: money and shares, the savings lines and the savings table rows."""

from __future__ import annotations

from ...pricing.savings import MIN_DAYS, span_text
from ...records import TASK_SOURCES
from ..model import Report, SavingsRow, TaskRow


def usd(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}" if abs(x) >= 1 else f"${x:,.4f}"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def score(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def bar(target: float) -> str:
    """The quality bar as a percentage: 0.95 -> 95%, 0.975 -> 97.5%."""
    return f"{target * 100:g}%"


def evidence(t: TaskRow, target: float) -> tuple[str, str, str, str]:
    """(tier, passed/scored, pass rate, lower bound against the bar) of the evidence that decided a task: the
    chosen cheaper tier's, or for a task kept on the reference its best cheaper tier's, which says why it
    stayed. Dashes when no cheaper answer was scored."""
    e = t.evidence
    if e is None or not e.scored:
        return "-", "-", "-", "-"
    bound = "-" if e.lower_bound is None else f"{e.lower_bound:.1%} {'≥' if e.meets_bar else '<'} {bar(target)}"
    return e.tier, f"{e.passed}/{e.scored}", pct(e.pass_rate), bound


def typing_line(counts: dict[str, int]) -> str:
    """How the requests got their task type, in `inspect`'s words and order."""
    n = sum(counts.values()) or 1
    return ", ".join(f"{words} {counts[src] / n:.1%}" for src, words in TASK_SOURCES.items() if counts.get(src))


PART_STATES = {"proven": "proven on its own", "open": "not proven when sampling stopped",
               "futile": "shown below the bar", "capped": "too few samples left to prove it"}


def part_lines(report: Report) -> list[str]:
    """One line per sub-population tested apart: which, why it was separated, what its own test found."""
    return [f"{t.task} on {p.tier}: {p.feature} {p.part!r} ({p.share:.0%} of the sample) was tested apart, "
            f"because it {p.separated_because}; on its later samples {p.passed}/{p.scored}: {PART_STATES[p.state]}"
            for t in report.tasks for p in t.subpopulations or ()]


def saving_rows(report: Report) -> list[tuple[str, str, str, str, str]]:
    """(task, current, projected, saved, share of all savings) per task, then the total."""
    s = report.savings
    rows = []
    for t in report.tasks:
        if t.current_usd is None or t.projected_usd is None:
            continue
        saved = t.current_usd - t.projected_usd
        rows.append((t.task, usd(t.current_usd), usd(t.projected_usd), usd(saved),
                     pct(saved / s.saved_usd) if s.saved_usd else "-"))
    rows.append(("total", usd(s.current_usd), usd(s.projected_usd), usd(s.saved_usd),
                 "100.0%" if s.saved_usd else "-"))
    return rows


def savings_line(s: SavingsRow) -> str:
    line = (f"{usd(s.current_usd)} -> {usd(s.projected_usd)}, saves {usd(s.saved_usd)} "
            f"({s.saved_fraction:.1%}) over the log's {s.period_days or 0:g} days")
    if s.monthly_saved_usd is not None:
        line += (f"; per 30 days {usd(s.monthly_current_usd)} -> {usd(s.monthly_projected_usd)}, "
                 f"saves {usd(s.monthly_saved_usd)}")
        if s.period_days is not None and s.period_days < MIN_DAYS:
            line += f" (scaled up from {span_text(s.period_days)} of log: rough)"
    return line


def savings_evidence(s: SavingsRow) -> list[str]:
    """The lines that let finance check the savings: interval, oracle, the audit's own cost."""
    out = []
    if s.monthly_saved_interval_usd:
        low, high = s.monthly_saved_interval_usd
        out.append(f"95% interval of the saving per 30 days (days resampled): {usd(low)} to {usd(high)}")
    if s.oracle_captured is not None:
        out.append(f"oracle (each sampled request on its cheapest passing tier) would save "
                   f"{usd(s.oracle_saved_usd)}; this recommendation captures {s.oracle_captured:.0%}")
    be = s.break_even_days
    out.append(f"the audit cost {usd(s.audit_cost_usd)}"
               + (f", earned back in {be:g} days" if be and s.audit_cost_usd > 0 else ""))
    return out


def scorer_checks(t: TaskRow) -> list[str]:
    """How far the task's scorer is checked: agreement with labels, the judge's position disagreement."""
    out = []
    a = t.agreement
    if a is not None:
        def ci(x: float | None, interval: list[float] | None, fmt: str) -> str:
            return "undefined" if x is None else format(x, fmt) + (
                f" [{format(interval[0], fmt)}, {format(interval[1], fmt)}]" if interval else "")

        out.append(f"{t.task}: scorer {a.scorer} vs {a.labelled} labels: kappa {ci(a.kappa, a.kappa_interval, '.2f')}, "
                   f"precision {ci(a.precision, a.precision_interval, '.0%')}, recall "
                   f"{ci(a.recall, a.recall_interval, '.0%')} (95%); pass rate {a.scorer_pass_rate:.0%} scorer, "
                   f"{a.label_pass_rate:.0%} labels")
        for tier, lb in (a.ppi_lower_bounds or {}).items():
            out.append(f"{t.task}: {tier}'s labelled pass rate >= {lb:.3f} (prediction-powered bound: scorer on "
                       f"every answer, labels on a random subset)")
    p = t.judge_position
    if p is not None:
        out.append(f"{t.task}: judge position disagreement {p.rate:.0%} ({p.disagreed}/{p.judged} answers changed "
                   "verdict when the order was swapped)")
    return out
