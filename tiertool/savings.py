"""Savings: the whole log's volume priced at today's models and at the assigned ones."""

from __future__ import annotations

from dataclasses import dataclass

from .prices import Price, lookup, same_model
from .volume import Usage

DAY = 86400.0


@dataclass(frozen=True)
class TaskCost:
    task: str
    current_usd: float
    projected_usd: float
    source: str  # where the figures came from


@dataclass(frozen=True)
class Savings:
    current_usd: float
    projected_usd: float
    period_days: float | None
    by_task: tuple[TaskCost, ...]
    unpriced: tuple[str, ...]  # models with no price: their requests are left out of both figures

    @property
    def saved_usd(self) -> float:
        return self.current_usd - self.projected_usd

    @property
    def saved_fraction(self) -> float:
        return self.saved_usd / self.current_usd if self.current_usd else 0.0

    def per_30_days(self, usd: float) -> float | None:
        return usd * 30.0 / self.period_days if self.period_days else None


def _cost(price: Price, u: Usage) -> float:
    return price.cost(u.input_tokens, u.output_tokens, u.cached_tokens)


def project(volume: dict[tuple[str, str], Usage], assignment: dict[str, str],
            period_days: float | None) -> Savings:
    """Price every (task, logged model) group today and at its task's assigned model.

    Today's figure is the logged cost when the log recorded one for every request of the group,
    else the price map's; the projection always uses the price map with the log's token counts.
    """
    by_task: dict[str, list[float]] = {}
    sources: dict[str, set[str]] = {}
    unpriced: set[str] = set()
    for (task, model), u in sorted(volume.items()):
        target = assignment.get(task, model)
        now_price = lookup(model)
        if u.logged_cost_n == u.requests and u.requests:
            current, src = u.logged_cost, "logged cost"
        elif now_price:
            current, src = _cost(now_price, u), now_price.source
        else:
            unpriced.add(model)
            continue
        if same_model(model, target):
            projected = current
        else:
            new_price = lookup(target)
            if new_price is None:
                unpriced.add(target)
                continue
            projected = _cost(new_price, u)
            src += f" -> {new_price.source}"
        acc = by_task.setdefault(task, [0.0, 0.0])
        acc[0] += current
        acc[1] += projected
        sources.setdefault(task, set()).add(src)
    tasks = tuple(TaskCost(t, c, p, "; ".join(sorted(sources[t]))) for t, (c, p) in by_task.items())
    return Savings(sum(t.current_usd for t in tasks), sum(t.projected_usd for t in tasks), period_days,
                   tasks, tuple(sorted(unpriced)))


def period_days(first: float | None, last: float | None) -> float | None:
    if first is None or last is None or last <= first:
        return None
    return (last - first) / DAY
