"""What litellm cannot carry from a logged request to a tier's provider, so that such a request is counted as not
replayable (with the reason) instead of being replayed without it.

litellm runs with `drop_params` (llm.py): a parameter its table says the tier's model does not take is dropped
without a word, and the cheaper model would be judged on a different request. Measured on litellm 1.110.2
against the loopback server (tests/test_replay_fidelity.py): `thinking` does not reach an OpenAI model nor a
Claude model without extended thinking, `top_k` goes to OpenAI as is (which OpenAI refuses), `seed` does not
reach Anthropic nor `reasoning_effort` gpt-4o-mini; a whitespace-only stop sequence is dropped for Anthropic; an
`input_audio` part sent to Anthropic loses its whole message; earlier turns' `thinking_blocks` go to OpenAI as
an unknown field; a system message goes to o4-mini or o3 as a user message (their table entries do not say they
take system messages). A parameter outside litellm's list for the model is taken to be dropped the same way.
What litellm translates is carried: tools, tool_choice, parallel_tool_calls, a JSON-schema response_format (a
forced tool on Anthropic), images, PDF file parts, tool turns, system blocks with `cache_control`, `user`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..config import Tier
from ..records import Message, Request
from .llm import litellm

# Parameters a provider takes natively that litellm passes on untranslated (absent from its supported list).
NATIVE = {"anthropic": frozenset({"top_k"})}
# Content part types a provider's chat translation loses, and history fields a provider does not take.
LOST_PARTS = {"anthropic": frozenset({"input_audio"})}
FOREIGN_FIELDS = {"thinking_blocks": "anthropic"}  # an earlier turn's thinking: only Anthropic takes it back


@dataclass(frozen=True)
class Route:
    """How litellm sends a request to one model."""

    provider: str
    params: frozenset[str]  # the parameters it sends
    system_as_user: bool  # o-series models its table does not mark as taking system messages


@cache
def _route(model: str) -> Route | None:
    """How litellm sends to this model, or None when it cannot tell."""
    lt = litellm()
    try:
        name, provider, _, _ = lt.get_llm_provider(model)
        params = lt.get_supported_openai_params(model=name, custom_llm_provider=provider)
        system_as_user = provider == "openai" and lt.openaiOSeriesConfig.is_model_o_series_model(name) and not (
            lt.supports_system_messages(name, provider))
    except Exception:  # noqa: BLE001 - a model litellm does not know: nothing can be said, nothing is refused
        return None
    if not params:
        return None
    return Route(provider, frozenset(params) | NATIVE.get(provider, frozenset()), system_as_user)


def uncarried(model: str, messages: Sequence[Message], params: dict[str, Any]) -> str | None:
    """What of this request litellm would drop or change on the way to `model`, or None."""
    route = _route(model)
    if route is None:
        return None
    provider, supported = route.provider, route.params
    if route.system_as_user and any(m.get("role") == "system" for m in messages):
        return f"a system message would reach {model} as a user message (litellm's o-series translation)"
    dropped = [k for k in params if k not in supported]
    if dropped:
        return f"{', '.join(dropped)} cannot be sent to {model} through litellm (dropped)"
    if provider == "anthropic":
        stop = params.get("stop")
        if any(isinstance(s, str) and s.isspace() for s in (stop if isinstance(stop, list) else [stop])):
            return f"a whitespace-only stop sequence cannot be sent to {model} (litellm drops it for Anthropic)"
    for m in messages:
        for name, owner in FOREIGN_FIELDS.items():
            if m.get(name) and provider != owner:
                return f"an earlier turn's {name} cannot be sent to {model} (only {owner} takes them)"
        content = m.get("content")
        kinds = {str(p.get("type")) for p in content if isinstance(p, dict)} if isinstance(content, list) else set()
        lost = kinds & LOST_PARTS.get(provider, frozenset())
        if lost:
            return f"a {min(lost)} part cannot be sent to {model} (litellm drops the message)"
    return None


def carry_check(tiers: Sequence[Tier]) -> Callable[[Request], str | None]:
    """For ingest: why a request cannot be sent as logged to every tier of the audit, naming the tier."""

    def check(req: Request) -> str | None:
        for tier in tiers:
            why = uncarried(tier.model, req.messages, tier.merged(req.params))  # as Call.to sends it
            if why:
                return f"tier {tier.name}: {why}"
        return None

    return check
