"""The cost plan shown before anything is sent, and the hard budget that every sent call must fit in.

Estimates use the log's token counts (or the prompt's text when the log has none) and the config's `prices:`,
else litellm's bundled price map (tiertool.prices, read without importing litellm). The budget reserves each
attempt's worst case while it is in flight and keeps it charged until the provider's usage says otherwise: a
call that timed out or whose body was cut short may still be billed, so it stays at its worst case.

The worst case holds for any script without a tokenizer: a byte-level tokenizer never makes more tokens than the
prompt has UTF-8 bytes (a Chinese character is three bytes, one or two tokens), and the JSON framing counted
with them covers the per-message tokens. Characters / 3, the old bound, was 14% short on CJK prompts.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import TiertoolError
from ..pricing.prices import Price, lookup, price_map
from ..records import Call

DEFAULT_MAX_OUTPUT = 4096  # when neither the request nor the price map says how long an answer may be
Prices = Mapping[str, Any] | None  # the config's `prices:` (PriceOverride per model)


class PlanDeclined(TiertoolError):
    """Nothing was sent: --dry-run, or the user said no at the prompt."""

    exit_code = 0


def _text(call: Call) -> str:
    return json.dumps(call.messages, ensure_ascii=False)


def input_estimate(call: Call) -> int:
    """Expected input tokens: as logged, else about four characters a token for ASCII and a token for every
    other character (CJK scripts run at one or two characters a token, not four)."""
    if call.input_tokens:
        return call.input_tokens
    text = _text(call)
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def worst_input(call: Call) -> int:
    """The most input tokens the call can be billed for: the logged count, or the UTF-8 bytes of everything
    sent (messages and parameters), whichever is larger."""
    sent = json.dumps({"messages": call.messages, "params": call.params}, ensure_ascii=False)
    return max(call.input_tokens, len(sent.encode("utf-8")))


def output_estimate(call: Call) -> int:
    """Expected output tokens: as logged (the reference's answer length), else a quarter of the maximum."""
    return call.output_tokens or min(max_output(call), 1024)


def max_output(call: Call) -> int:
    """The longest answer the call may get: its own max_tokens, else the model's, else DEFAULT_MAX_OUTPUT."""
    own = requested_max(call)
    if own is not None:
        return own
    model = call.tier.model
    for name in (model, model.split("/", 1)[-1]):
        entry = price_map().get(name) or {}
        limit = entry.get("max_output_tokens") or entry.get("max_tokens")
        if isinstance(limit, int) and limit > 0:
            return limit
    return DEFAULT_MAX_OUTPUT


def requested_max(call: Call) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = call.params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def price_of(call: Call, prices: Prices = None, batch: bool = False) -> Price | None:
    """The call's price per token: the tier model's, at its batch price when the call goes in a batch."""
    price = lookup(call.tier.model, prices)
    return price.batched() if price is not None and batch else price


def worst_case_usd(call: Call, prices: Prices = None, batch: bool = False) -> float | None:
    """The most this call can cost (None: the model has no price, so no bound is known)."""
    price = price_of(call, prices, batch)
    if price is None:
        return None
    return price.cost(worst_input(call), max_output(call))


@dataclass
class TierPlan:
    tier: str
    model: str
    calls: int = 0  # to send (at most, for a sequential audit)
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float | None = 0.0  # None: the model is not in the price map
    worst_usd: float | None = 0.0
    expected_calls: int = 0  # sequential: what the rounds send if each test proves the bar at its first chance
    expected_usd: float | None = 0.0
    batch: bool = False  # sent through the provider's batch API, at its batch price


@dataclass
class Plan:
    tiers: dict[str, TierPlan] = field(default_factory=dict)
    budget: float | None = None
    upper_bound: bool = False  # sequential: the rounds may stop early, so `calls` is "up to"
    offline: bool = False  # nothing is sent: the calls are answers missing from the cache

    @property
    def calls(self) -> int:
        """The calls that would be sent (none offline)."""
        return 0 if self.offline else sum(t.calls for t in self.tiers.values())

    @property
    def cached(self) -> int:
        return sum(t.cached for t in self.tiers.values())

    @property
    def usd(self) -> float | None:
        return _total([t.usd for t in self.tiers.values() if t.calls])

    def lines(self) -> list[str]:
        """The plan as plain lines: the headline, one line per tier, the estimated total."""
        todo = sum(t.calls for t in self.tiers.values())
        up_to = "up to " if self.upper_bound else ""
        expected = sum(t.expected_calls for t in self.tiers.values())
        if self.offline:
            return [f"plan: --offline, nothing is sent: of {up_to}{todo + self.cached:,} answers the audit needs, "
                    f"{self.cached:,} are cached or recorded" + (f", {todo:,} missing (their samples stay unscored)"
                                                                  if todo else "")]
        head = f"plan: {up_to}{todo:,} model calls to send"
        if self.upper_bound:
            head += f"; ~{expected:,} if each test proves the bar at its first chance (a failing one stops sooner)"
        out = [head + f", {self.cached:,} answers cached"
               + (f"; budget ${self.budget:,.4f}" if self.budget is not None else "")]
        for t in self.tiers.values():
            calls = f"{up_to}{t.calls:,} calls" + (f" (~{t.expected_calls:,} at first chance)" if self.upper_bound
                                                   else "")
            usd = "no price for this model" if t.usd is None else (
                f"~{_usd(t.usd)}" + (f" (~{_usd(t.expected_usd)} at first chance" if self.upper_bound else " (")
                + f"{', ' if self.upper_bound else ''}at most {_usd(t.worst_usd)})")
            how = ", batch API at batch prices" if t.batch else ""
            out.append(f"  {t.tier} ({t.model}{how}): {calls}, {t.cached:,} cached; ~{t.input_tokens:,} input + "
                       f"~{t.output_tokens:,} output tokens; {usd}")
        total = self.usd
        if total is None:
            out.append("  estimated total: unknown (a model has no price in litellm's price map)")
        elif self.upper_bound:
            out.append(f"  estimated total: up to ~{_usd(total)}; "
                       f"~{_usd(_total([t.expected_usd for t in self.tiers.values()]))} at first chance")
        else:
            out.append(f"  estimated total: ~{_usd(total)}")
        return out


def _total(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _usd(x: float | None) -> str:
    return "?" if x is None else f"${x:,.4f}"


def make_plan(todo: list[Call], cached: list[Call], budget: float | None = None,
              expected: list[Call] | None = None, offline: bool = False, prices: Prices = None,
              batch: frozenset[str] = frozenset()) -> Plan:
    """The plan for `todo` (not cached) beside `cached`; `expected` (a sequential audit) are the calls of
    `todo` the rounds are expected to send, while `todo` is the most they could; `prices` is the config's;
    the tiers named in `batch` are priced at their batch price."""
    plan = Plan(budget=budget, upper_bound=expected is not None, offline=offline)

    def tier_plan(call: Call) -> TierPlan:
        return plan.tiers.setdefault(call.tier.name, TierPlan(call.tier.name, call.tier.model,
                                                              batch=call.tier.name in batch and not offline))

    for call in cached:
        tier_plan(call).cached += 1
    for call in todo:
        tp = tier_plan(call)
        i, o = input_estimate(call), output_estimate(call)
        tp.calls += 1
        tp.input_tokens += i
        tp.output_tokens += o
        price = price_of(call, prices, tp.batch)
        worst = worst_case_usd(call, prices, tp.batch)
        tp.usd = None if price is None or tp.usd is None else tp.usd + price.cost(i, o)
        tp.worst_usd = None if worst is None or tp.worst_usd is None else tp.worst_usd + worst
    for call in expected or ():
        tp = plan.tiers[call.tier.name]
        price = price_of(call, prices, tp.batch)
        tp.expected_calls += 1
        tp.expected_usd = None if price is None or tp.expected_usd is None else \
            tp.expected_usd + price.cost(input_estimate(call), output_estimate(call))
    return plan


class Budget:
    """A hard spending cap: an attempt is sent only when its worst case fits beside what is spent and in
    flight, and it stays charged at that worst case unless the provider's usage (or an error status, which
    providers do not bill) says what it really cost."""

    def __init__(self, cap: float | None) -> None:
        self.cap = cap
        self.spent = 0.0
        self.reserved = 0.0
        self._freed: asyncio.Condition | None = None

    def bind(self) -> None:
        """Create the wait condition on the running event loop (each Replayer.run has its own)."""
        self._freed = asyncio.Condition()

    async def reserve(self, worst: float | None) -> bool:
        """Hold `worst` USD for an attempt; False when it could break the cap even with nothing in flight."""
        if self.cap is None:
            return True
        if worst is None:  # no price, no bound: never sent under a budget
            return False
        assert self._freed is not None
        async with self._freed:
            while self.spent + self.reserved + worst > self.cap + 1e-12:
                if self.reserved <= 0 or self.spent + worst > self.cap + 1e-12:
                    return False
                await self._freed.wait()
            self.reserved += worst
            return True

    def hold(self, worst: float | None) -> bool:
        """Hold `worst` USD now, without waiting for calls in flight to settle (a batch holds all its items'
        worst cases at once, before it is submitted); False when it does not fit."""
        if self.cap is None:
            return True
        if worst is None or self.spent + self.reserved + worst > self.cap + 1e-12:
            return False
        self.reserved += worst
        return True

    async def settle(self, worst: float | None, actual: float | None) -> float:
        """Replace an attempt's reservation by what it cost: `actual` from the provider's usage, or None when
        nothing says (a timeout, a body cut short), which keeps the worst case charged. Returns the charge."""
        charge = actual if actual is not None else (worst or 0.0)
        self.spent += charge
        if self.cap is not None and worst is not None:
            assert self._freed is not None
            async with self._freed:
                self.reserved = max(self.reserved - worst, 0.0)
                self._freed.notify_all()
        return charge
