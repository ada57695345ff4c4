"""The gate in a LiteLLM proxy: a pre-call hook that sends each request the gate admits to the cheaper tier.

`tiertool recommend --gate gate.json --litellm-config proxy.yaml` writes, beside the config, a two-line module
(`tiertool_gate.py`) that makes one `GateHook` from the gate file when the proxy starts; the config lists it in
`litellm_settings.callbacks`. Per request to the gated model group, the hook finds the task type exactly as the
audit's ingest did (`task_from` on the request's tags, metadata and `group_by`; `params_of` for the request
parameters) and asks `Gate.route`; when that is the cheaper model it rewrites `data["model"]` to the config's
group for it (`<group>-gate`), which is the request's `model_group` in the proxy's spend row: the gate's routed
traffic is findable in the log. Everything else passes through untouched. litellm is imported only here, by the
proxy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from ..ingest.common import params_of, task_from
from .gatefile import Gate, load


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    metadata = data.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def request_tags(data: dict[str, Any]) -> tuple[str, ...]:
    """The proxy request's tags, from the body's `tags` or `metadata.tags` (the x-litellm-tags header lands in
    them before the hook runs)."""
    tags = data.get("tags") or _metadata(data).get("tags") or ()
    if isinstance(tags, str):
        tags = tags.split(",")
    return tuple(str(t).strip() for t in tags)


def gated_model(gate: Gate, data: dict[str, Any], group_by: str = "auto") -> str:
    """The model the gate picks for one proxy request body (the cheaper tier's or the fallback)."""
    task, _ = task_from(request_tags(data), _metadata(data), data, group_by)
    return gate.route(data.get("messages") or (), params_of(data), task)


class GateHook(CustomLogger):
    """Rewrites requests to model group `group` that the gate admits to `routed` (a model_name of the config
    serving the gate's cheaper model). The proxy calls `async_pre_call_hook` only because this class defines it
    itself (it checks `vars(type(callback))`)."""

    def __init__(self, gate_path: str | Path, group: str, routed: str, group_by: str = "auto") -> None:
        super().__init__()
        self.gate, self.group, self.routed, self.group_by = load(gate_path), group, routed, group_by

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict[str, Any],
                                  call_type: str) -> dict[str, Any]:
        if data.get("model") != self.group or gated_model(self.gate, data, self.group_by) != self.gate.cheap:
            return data
        return {**data, "model": self.routed}
