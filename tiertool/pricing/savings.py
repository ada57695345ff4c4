"""Savings: every request of the log priced at its logged model and at its task's assigned model.

Prices come from `prices:` in the config, else litellm's bundled map (or an alias, prices.ALIASES). Today's
figure is the logged cost where the log recorded one for every request of a group, else the price map's; the
projection always uses the price map with the log's own token counts (input, cached, cache-write, output and
reasoning; batch prices for batch requests). A tier with its own `params` (a lower reasoning effort) writes
answers of another length than the logged model did, so its output tokens are the log's scaled by what the audit
measured (`scale`: its answers' output tokens, reasoning included, over the reference's on the same requests).
The interval resamples days, because that is how next month's traffic will differ from this one's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..records import Key, Usage
from .prices import Price, lookup, same_model

DAY = 86400.0
MIN_DAYS = 7  # fewer days of log: no interval, and per-30-day figures are a rough scaling (the report says so)


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
    interval_30d: tuple[float, float] | None = None  # 95% bootstrap interval of the saving per 30 days

    @property
    def saved_usd(self) -> float:
        return self.current_usd - self.projected_usd

    @property
    def saved_fraction(self) -> float:
        return self.saved_usd / self.current_usd if self.current_usd else 0.0

    def per_30_days(self, usd: float) -> float | None:
        return usd * 30.0 / self.period_days if self.period_days else None

    @property
    def short_span(self) -> str | None:
        """The log's span when it is too short for per-30-day figures to be more than a scaling of it."""
        if self.period_days is None or self.period_days >= MIN_DAYS:
            return None
        return span_text(self.period_days)


def _cost(price: Price, key: Key, u: Usage) -> float:
    return price.cost(u.input_tokens, u.output_tokens, u.cached_tokens, u.cache_write_tokens, key.batch)


class Pricer:
    """Prices (task, model, batch) groups today and at a target model, remembering sources and gaps."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self.overrides = overrides or {}
        self.unpriced: set[str] = set()
        self._cache: dict[str, Price | None] = {}

    def price(self, model: str) -> Price | None:
        if model not in self._cache:
            self._cache[model] = lookup(model, self.overrides)
            if self._cache[model] is None:
                self.unpriced.add(model)
        return self._cache[model]

    def current(self, key: Key, u: Usage) -> tuple[float, str] | None:
        if u.requests and u.logged_cost_n == u.requests:
            return u.logged_cost, "logged cost"
        price = self.price(key.model)
        return (_cost(price, key, u), price.source) if price else None

    def at(self, key: Key, u: Usage, model: str, current: float, scale: float = 1.0) -> tuple[float, str] | None:
        """The group's cost on `model`, its output tokens times `scale` (the tier's measured output length)."""
        if same_model(key.model, model) and scale == 1.0:
            return current, "unchanged"
        price = self.price(model)
        if price is None:
            return None
        scaled = replace(u, output_tokens=round(u.output_tokens * scale),
                         reasoning_tokens=round(u.reasoning_tokens * scale))
        return _cost(price, key, scaled), price.source + (f", output x{scale:.2f} as audited" if scale != 1 else "")


def project(volume: dict[Key, Usage], assignment: dict[str, str], period_days: float | None,
            overrides: Mapping[str, Any] | None = None, scale: Mapping[str, float] | None = None) -> Savings:
    """Price every group today and at its task's assigned model (a task missing from `assignment` keeps its
    logged model), output tokens times the task's `scale` (default 1)."""
    pricer = Pricer(overrides)
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    sources: dict[str, set[str]] = defaultdict(set)
    daily: dict[str, float] = defaultdict(float)
    for key, u in sorted(volume.items(), key=lambda kv: (kv[0].task, kv[0].model, kv[0].batch, kv[0].day)):
        now = pricer.current(key, u)
        if now is None:
            continue
        new = pricer.at(key, u, assignment.get(key.task, key.model), now[0], (scale or {}).get(key.task, 1.0))
        if new is None:
            continue
        acc[key.task][0] += now[0]
        acc[key.task][1] += new[0]
        sources[key.task].add(now[1] if new[1] == "unchanged" else f"{now[1]} -> {new[1]}")
        if key.day:
            daily[key.day] += now[0] - new[0]
    tasks = tuple(TaskCost(t, c, p, "; ".join(sorted(sources[t]))) for t, (c, p) in acc.items())
    return Savings(sum(t.current_usd for t in tasks), sum(t.projected_usd for t in tasks), period_days, tasks,
                   tuple(sorted(pricer.unpriced)), _interval(daily))


def _interval(daily: dict[str, float]) -> tuple[float, float] | None:
    """95% bootstrap (BCa) interval of 30 x the mean daily saving, resampling days; None under MIN_DAYS days."""
    if len(daily) < MIN_DAYS:
        return None
    import numpy as np
    from scipy.stats import bootstrap

    values = np.array([daily[d] for d in sorted(daily)])
    if np.ptp(values) == 0:
        return (30 * float(values[0]),) * 2
    res = bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=2000, method="BCa",
                    random_state=np.random.default_rng(0))
    return 30 * float(res.confidence_interval.low), 30 * float(res.confidence_interval.high)


def totals(by: dict[Key, Usage]) -> dict[Key, Usage]:
    """The volume summed over days (keeping task, model and batch flag)."""
    out: dict[Key, Usage] = {}
    for key, usage in by.items():
        k = Key(key.task, key.model, key.batch, "")
        out[k] = out[k] + usage if k in out else usage
    return out


def span_text(days: float) -> str:
    """A log's time span as a person says it: '3.5 days', '21 hours', '4 minutes'."""
    hours = days * 24
    number, unit = ((f"{days:.2g}" if days < 10 else f"{days:.0f}", "day") if days >= 1 else
                    (f"{hours:.2g}", "hour") if hours >= 1 else (f"{max(hours * 60, 1):.0f}", "minute"))
    return f"{number} {unit}{'' if number == '1' else 's'}"


def period_days(first: float | None, last: float | None) -> float | None:
    if first is None or last is None or last <= first:
        return None
    return (last - first) / DAY


def oracle(volume: dict[Key, Usage], cheapest_passing: dict[str, dict[str, float]], reference: str,
           overrides: Mapping[str, Any] | None = None) -> float:
    """Projected spend if every request went to the cheapest tier that passes it: per task, the sample's
    share of requests whose cheapest passing model is m (`cheapest_passing[task][m]`), applied to the task's
    whole volume. Tasks with no sample keep their logged model."""
    pricer = Pricer(overrides)
    total = 0.0
    for key, u in totals(volume).items():
        now = pricer.current(key, u)
        if now is None:
            continue
        shares = cheapest_passing.get(key.task) or {key.model: 1.0}
        for model, share in shares.items():
            cost = pricer.at(key, u, model, now[0])
            total += share * (cost[0] if cost else now[0])
    return total
