"""Model prices from litellm's bundled price map, read as JSON so that pricing never imports litellm."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True)
class Price:
    """USD per token. `source` says where the figure came from."""

    input: float
    output: float
    cached_input: float
    source: str
    deprecation_date: str | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Cost of a call; cached tokens are part of input_tokens (OpenAI's convention)."""
        uncached = max(input_tokens - cached_tokens, 0)
        return uncached * self.input + cached_tokens * self.cached_input + output_tokens * self.output


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


def lookup(model: str) -> Price | None:
    """Price of a model as logged or configured (`openai/gpt-4o-mini`, `gpt-4o-mini`, ...), or None."""
    table = price_map()
    for name in _candidates(model):
        entry = table.get(name)
        if entry and "input_cost_per_token" in entry:
            inp = float(entry["input_cost_per_token"])
            return Price(
                input=inp,
                output=float(entry.get("output_cost_per_token", 0.0)),
                cached_input=float(entry.get("cache_read_input_token_cost", inp)),
                source=f"litellm price map ({name})",
                deprecation_date=entry.get("deprecation_date"),
            )
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
