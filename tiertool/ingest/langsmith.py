"""LangSmith runs: `Client.list_runs()` objects as JSON lines (langsmith 0.15.1, the LangChain tracer's runs;
producers/README-otel.md) and the runs query API's pages (`{"runs": [...]}`; hosted/langsmith.source.md).

An `llm` run is one model call; `chain` / `tool` runs only lend their tags and metadata, which LangChain
already copies onto the child runs. Two input shapes: the LangChain tracer's serialized messages
(`inputs.messages[0]` = [{"lc": 1, "id": [..., "HumanMessage"], "kwargs": {...}}]) with the request parameters
in `extra.invocation_params`, and the OpenAI wrapper's request body (`inputs` = {messages, model, tools, ...})
with the chat completion as `outputs`. Server-side fields (`status`, token counts, `total_cost`) are used when
present and never needed."""

from __future__ import annotations

from typing import Any

from ..records import Message, Request
from .bodies import lost, openai_answer, openai_request, request_params, tool_calls, usage
from .common import BadRecord, NotARequest, as_dict, as_tags, content_text, task_from, to_float, to_int, to_time

NAME = "langsmith"
ROLES = {"HumanMessage": "user", "SystemMessage": "system", "AIMessage": "assistant", "ToolMessage": "tool",
         "FunctionMessage": "function", "human": "user", "system": "system", "ai": "assistant", "tool": "tool"}


def sniff(obj: dict[str, Any]) -> bool:
    return "run_type" in obj and "inputs" in obj and ("dotted_order" in obj or "trace_id" in obj)


def lc_message(m: Any) -> Message:
    """A LangChain message (serialized constructor, `{type, data}` dump, or already OpenAI-shaped)."""
    if not isinstance(m, dict):
        raise BadRecord("a LangChain message must be an object")
    if "role" in m:
        return m
    kind = m["id"][-1] if m.get("lc") and isinstance(m.get("id"), list) else m.get("type")
    kw = m.get("kwargs") or m.get("data") or m
    role = kw.get("role") if kind == "ChatMessage" else ROLES.get(str(kind))
    if role is None:
        raise BadRecord(f"LangChain message of type {kind!r} is not one tiertool can replay")
    msg: Message = {"role": role, "content": kw.get("content")}
    calls = tool_calls(kw.get("tool_calls") or (kw.get("additional_kwargs") or {}).get("tool_calls"))
    if calls:
        msg["tool_calls"], msg["content"] = list(calls), msg["content"] or None
    if kw.get("tool_call_id"):
        msg["tool_call_id"] = str(kw["tool_call_id"])
    return msg


def _langchain(run: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Request fields of a LangChain tracer run."""
    batch = as_dict(run.get("inputs"), "inputs").get("messages") or []
    messages = tuple(lc_message(m) for m in (batch[0] if batch and isinstance(batch[0], list) else batch))
    invocation = as_dict(extra.get("invocation_params"), "extra.invocation_params")
    fields: dict[str, Any] = {"messages": messages, "params": request_params(invocation),
                              "requested_model": invocation.get("model") or invocation.get("model_name")}
    generations = as_dict(run.get("outputs"), "outputs").get("generations") or []
    gen = generations[0][0] if generations and isinstance(generations[0], list) and generations[0] else None
    if isinstance(gen, dict):
        msg = as_dict(gen.get("message"), "generation.message")
        kw = msg.get("kwargs") or msg.get("data") or {}
        meta = kw.get("response_metadata") or {}
        fields.update(usage(kw.get("usage_metadata") or meta.get("token_usage")))
        finish = (gen.get("generation_info") or {}).get("finish_reason") or meta.get("finish_reason")
        fields.update(output=content_text(kw.get("content")) or gen.get("text") or None,
                      output_tool_calls=tool_calls(kw.get("tool_calls")), model=meta.get("model_name"),
                      finish_reason=finish)
    return fields


def _server_tokens(run: dict[str, Any]) -> dict[str, int]:
    """The token counts LangSmith's server computes (absent from what a client sends)."""
    pd, cd = run.get("prompt_token_details") or {}, run.get("completion_token_details") or {}
    return {"input_tokens": to_int(run.get("prompt_tokens"), "prompt_tokens"),
            "output_tokens": to_int(run.get("completion_tokens"), "completion_tokens"),
            "cached_tokens": to_int(pd.get("cache_read"), "prompt_token_details.cache_read"),
            "reasoning_tokens": to_int(cd.get("reasoning"), "completion_token_details.reasoning")}


def parse(run: dict[str, Any], source: str, group_by: str) -> Request:
    if run.get("run_type") != "llm":
        raise NotARequest(f"run of type {run.get('run_type')!r} (not an llm run)")
    extra = as_dict(run.get("extra"), "extra")
    metadata = as_dict(extra.get("metadata"), "extra.metadata")
    inputs = as_dict(run.get("inputs"), "inputs")
    sent = inputs.get("messages")
    if isinstance(sent, list) and all(isinstance(m, dict) and "role" in m for m in sent):  # a request body
        outputs = as_dict(run.get("outputs"), "outputs")
        fields = {**openai_request(inputs), **(openai_answer(outputs) if outputs.get("choices") else {})}
    else:
        fields = _langchain(run, extra)
    if run.get("prompt_tokens") is not None and not fields.get("input_tokens"):
        fields.update(_server_tokens(run))
    answered = fields.pop("model", None)
    model = answered or fields.get("requested_model") or metadata.get("ls_model_name")
    if not isinstance(model, str) or not model:
        raise BadRecord("the llm run names no model")
    tags = as_tags(run.get("tags"), "tags")
    task, how = task_from(tags, metadata, run, group_by)
    start, end = to_time(run.get("start_time")), to_time(run.get("end_time"))
    cost = to_float(run.get("total_cost"), "total_cost")
    failed = run.get("error") not in (None, "") or run.get("status") == "error"
    return Request(
        id=str(run.get("id") or source), source=source, model=model, **fields, task=task, task_source=how,
        unreplayable=lost(fields["messages"], fields["params"], fields.get("output_tool_calls", ())),
        cost=cost, cost_source="logged" if cost is not None else None, time=start,
        latency_s=(end - start) if start is not None and end is not None else None, tags=tags, metadata=metadata,
        status="error" if failed else "success", provider=metadata.get("ls_provider"),
        trace_id=run.get("trace_id"), parent_id=run.get("parent_run_id"),
        session_id=metadata.get("session_id") or metadata.get("thread_id") or None,
    )
