"""Model prices: `prices:` in the config, else litellm's bundled price map (read as JSON, so pricing never
imports litellm), else an alias for a model name the map has dropped. Every Price says where it came from."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"

# Model names that litellm's map no longer lists, mapped to an entry for the same model at the same list
# price (often a cloud reseller's listing of it). Extend with `prices:` in tiertool.yaml.
ALIASES: dict[str, str] = {
    "claude-3-haiku-20240307": "vertex_ai/claude-3-haiku@20240307",
    "claude-3-sonnet-20240229": "vertex_ai/claude-3-sonnet@20240229",
    "claude-3-opus-20240229": "anthropic.claude-3-opus-20240229-v1:0",
    "claude-3-opus-latest": "anthropic.claude-3-opus-20240229-v1:0",
    "claude-3-5-sonnet-20240620": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-5-sonnet-20241022": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-sonnet-latest": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-haiku-20241022": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-3-5-haiku-latest": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-instant-1": "anthropic.claude-instant-v1",
    "claude-instant-1.2": "anthropic.claude-instant-v1",
    "gpt-4-0314": "gpt-4-0613",
    "gpt-4-0125-preview": "azure/gpt-4-0125-preview",
    "gpt-4-turbo-preview": "azure/gpt-4-0125-preview",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1",
}
MTOK = 1e-6
BATCH_DISCOUNT = 0.5  # OpenAI's Batch API and Anthropic's Message Batches both bill half the list price


@dataclass(frozen=True)
class Price:
    """USD per token. `source` says where the figure came from."""

    input: float
    output: float
    cached_input: float
    source: str
    deprecation_date: str | None = None
    cache_write: float | None = None
    batch_input: float | None = None
    batch_output: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0, cache_write_tokens: int = 0,
             batch: bool = False) -> float:
        """Cost of a call. Input tokens include cached and cache-write tokens (OpenAI's convention, to which
        ingest normalises); output tokens include reasoning tokens, which providers bill as output."""
        uncached = max(input_tokens - cached_tokens - cache_write_tokens, 0)
        inp = self.batch_input if batch and self.batch_input is not None else self.input
        out = self.batch_output if batch and self.batch_output is not None else self.output
        write = self.cache_write if self.cache_write is not None else self.input
        return uncached * inp + cached_tokens * self.cached_input + cache_write_tokens * write + output_tokens * out

    def batched(self) -> Price:
        """The price of a request sent through a batch API: the batch prices where the map (or `prices:` with
        `batch_discount`) has them, else half the list price (BATCH_DISCOUNT); cached and cache-write tokens
        at the input's discount. `source` says which."""
        ratio = self.batch_input / self.input if self.batch_input is not None and self.input else BATCH_DISCOUNT
        inp = self.batch_input if self.batch_input is not None else self.input * ratio
        out = self.batch_output if self.batch_output is not None else self.output * ratio
        how = "batch price" if self.batch_input is not None else f"batch: {BATCH_DISCOUNT:.0%} of the list price"
        return replace(self, input=inp, output=out, cached_input=self.cached_input * ratio,
                       cache_write=None if self.cache_write is None else self.cache_write * ratio,
                       source=f"{self.source}, {how}", batch_input=inp, batch_output=out)


@cache
def price_map() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations)), PRICE_MAP_FILE)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _candidates(model: str) -> list[str]:
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    return names


def _from_entry(entry: dict[str, Any], source: str) -> Price:
    inp = float(entry["input_cost_per_token"])
    opt = entry.get
    return Price(
        input=inp,
        output=float(opt("output_cost_per_token", 0.0)),
        cached_input=float(opt("cache_read_input_token_cost", inp)),
        source=source,
        deprecation_date=opt("deprecation_date"),
        cache_write=_f(opt("cache_creation_input_token_cost")),
        batch_input=_f(opt("input_cost_per_token_batches")),
        batch_output=_f(opt("output_cost_per_token_batches")),
    )


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def lookup(model: str, overrides: Mapping[str, Any] | None = None) -> Price | None:
    """Price of a model as logged or configured (`openai/gpt-4o-mini`, `gpt-4o-mini`, ...), or None.

    `overrides` is the config's `prices:` (PriceOverride objects, USD per million tokens)."""
    for name in _candidates(model):
        if overrides and name in overrides:
            o = overrides[name]
            inp = o.input * MTOK
            return Price(inp, o.output * MTOK, (o.cached_input if o.cached_input is not None else o.input) * MTOK,
                         f"tiertool.yaml prices ({name})",
                         cache_write=None if o.cache_write is None else o.cache_write * MTOK,
                         batch_input=inp * (1 - o.batch_discount),
                         batch_output=o.output * MTOK * (1 - o.batch_discount))
    table = price_map()
    for name in _candidates(model):
        entry = table.get(name)
        if entry and "input_cost_per_token" in entry:
            return _from_entry(entry, f"litellm price map ({name})")
    for name in _candidates(model):
        alias = ALIASES.get(name)
        entry = table.get(alias) if alias else None
        if entry and "input_cost_per_token" in entry:
            return _from_entry(entry, f"litellm price map via alias ({name} -> {alias})")
    return None


def same_model(logged: str, configured: str) -> bool:
    """Whether a logged model name is the configured tier model (provider prefix and dated snapshot aside)."""
    a = logged.split("/", 1)[1] if "/" in logged and "/" not in configured else logged
    b = configured.split("/", 1)[1] if "/" in configured and "/" not in logged else configured
    if a == b:
        return True
    a_short = a.rsplit("/", 1)[-1]
    b_short = b.rsplit("/", 1)[-1]
    rest = a_short[len(b_short):]
    return a_short.startswith(b_short + "-") and rest[1:5].isdigit()
