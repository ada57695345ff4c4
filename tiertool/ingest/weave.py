"""W&B Weave calls (`/calls/stream_query` lines, weave 0.54.0; hosted/weave.source.md): a call whose `op_name`
is the ref of an autopatched provider op (`weave:///<entity>/<project>/op/openai.chat.completions.create:<digest>`,
`anthropic.Messages.create`) keeps the request kwargs as `inputs` and the provider's response as `output`
(bodies.py reads both); the task is a call attribute (`weave.attributes(task=...)`), the session the `thread_id`;
a failure has `exception` set. Other ops (the app's own functions) are not LLM calls."""

from __future__ import annotations

from typing import Any

from ..records import Request
from .bodies import chat_bodies
from .common import BadRecord, NotARequest, as_dict, property_tags, task_from, to_time

NAME = "weave"
LLM_OPS = ("openai.chat.completions.create", "anthropic.Messages.create", "litellm.completion",
           "openai.beta.chat.completions.parse")


def sniff(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("op_name"), str) and "inputs" in obj and "started_at" in obj


def op(name: str) -> str:
    """`weave:///acme/app/op/openai.chat.completions.create:abc` -> `openai.chat.completions.create`."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    name = op(obj["op_name"])
    if name not in LLM_OPS:
        raise NotARequest(f"op {name!r} is not a model call")
    inputs = {k: v for k, v in as_dict(obj.get("inputs"), "inputs").items() if k != "self"}
    failed = obj.get("exception") not in (None, "")
    fields = chat_bodies(inputs, {} if failed else as_dict(obj.get("output"), "output"))
    model = fields.pop("model", None) or fields.get("requested_model")
    if not isinstance(model, str) or not model:
        raise BadRecord("the call's inputs name no model")
    attrs = as_dict(obj.get("attributes"), "attributes")
    tags = property_tags({k: v for k, v in attrs.items() if k.lower() in ("task", "taskname", "task_name", "feature")})
    task, how = task_from(tags, attrs, obj, group_by)
    start, end = to_time(obj.get("started_at")), to_time(obj.get("ended_at"))
    return Request(
        id=str(obj.get("id") or source), source=source, model=model, **{k: v for k, v in fields.items()
                                                                        if k != "provider"},
        task=task, task_source=how, tags=tags, metadata=attrs, time=start,
        latency_s=(end - start) if start is not None and end is not None else None,
        status="error" if failed else "success", provider=fields.get("provider") or name.split(".", 1)[0],
        trace_id=obj.get("trace_id"), parent_id=obj.get("parent_id"), session_id=obj.get("thread_id"),
    )
