"""Requests and answers logged in another API's shape, put in OpenAI chat form: the form replay sends through
litellm, which translates it for every provider (an Anthropic-logged request replayed on an OpenAI model and
back). What the chat form cannot say (a built-in Responses tool, a stored conversation, a server tool) makes the
request not replayable, with that reason; nothing is dropped silently.

Anthropic Messages: `system` (a string, or text blocks that may carry `cache_control`) becomes a system message;
`tool_use` blocks become `tool_calls`, `tool_result` blocks `tool` messages, base64 images and PDFs data URLs,
`thinking` blocks of earlier turns the assistant's `thinking_blocks` (litellm's field); `tools`, `tool_choice`,
`stop_sequences`, `thinking`, `top_k`, `metadata.user_id` become their chat parameters.
Responses API: `instructions` becomes a system message, `input` items messages (`function_call` /
`function_call_output` the tool turns), `text.format` the `response_format`, `reasoning.effort`
`reasoning_effort`, `max_output_tokens` `max_completion_tokens`. Reasoning items of earlier turns are the
answering model's own opaque state and are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..records import Message, content_text


@dataclass(frozen=True)
class Chat:
    """A request in chat form, and why it cannot be replayed as logged (None when it can)."""

    messages: tuple[Message, ...]
    params: dict[str, Any] = field(default_factory=dict)
    unreplayable: str | None = None


@dataclass(frozen=True)
class Reply:
    """A logged answer: its text (None when it is only tool calls) and its tool calls in chat form."""

    text: str | None
    tool_calls: tuple[Message, ...] = ()
    finish_reason: str | None = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def tool_call(call_id: Any, name: Any, arguments: Any) -> Message:
    """One tool call in chat form; arguments are a JSON string there, whatever the log used."""
    return {"id": str(call_id or ""), "type": "function",
            "function": {"name": str(name or ""), "arguments": _json_text(arguments if arguments is not None else {})}}


def chat_reply(message: Any, finish_reason: Any = None) -> Reply:
    """A chat completion's `choices[0].message`."""
    if not isinstance(message, dict):
        return Reply(None, (), finish_reason)
    calls = message.get("tool_calls") or ()
    if not isinstance(calls, list):
        calls = ()
    tool_calls = tuple(tool_call(c.get("id"), c["function"].get("name"), c["function"].get("arguments"))
                       for c in calls if isinstance(c, dict) and isinstance(c.get("function"), dict))
    text = content_text(message.get("content"))
    return Reply(text or None if tool_calls else text, tool_calls, finish_reason)


# --- Anthropic Messages -------------------------------------------------------------------------------------

SERVER_TOOL_BLOCKS = ("server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
                      "code_execution_tool_result", "mcp_tool_use", "mcp_tool_result", "container_upload")


def _source_url(source: Any) -> str | None:
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64" and source.get("data"):
        return f"data:{source.get('media_type') or 'application/octet-stream'};base64,{source['data']}"
    if source.get("type") == "url" and source.get("url"):
        return str(source["url"])
    return None


def _anthropic_part(block: dict[str, Any]) -> Message | str:
    """A content block as a chat content part, or the reason it has none."""
    kind = block.get("type")
    extra = {"cache_control": block["cache_control"]} if block.get("cache_control") else {}
    if kind == "text":
        return {"type": "text", "text": str(block.get("text") or ""), **extra}
    url = _source_url(block.get("source"))
    if kind == "image" and url:
        return {"type": "image_url", "image_url": {"url": url}, **extra}
    if kind == "document" and url:
        return {"type": "file", "file": {"file_data": url}, **extra}
    if kind in ("image", "document"):
        return f"an {kind} block given by {_dict(block.get('source')).get('type', '?')} reference, not in the log"
    return f"a {kind!r} content block that chat completions cannot carry"


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _parts_or_text(parts: list[Message]) -> Any:
    """Plain text stays a string (as most logs write it); parts with images or cache_control stay parts."""
    if all(p.get("type") == "text" and len(p) == 2 for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _anthropic_message(msg: dict[str, Any], why: list[str]) -> list[Message]:
    role, content = msg.get("role"), msg.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    out: list[Message] = []
    parts: list[Message] = []
    calls: list[Message] = []
    thinking: list[Message] = []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "tool_result":
            inner = block.get("content")
            text = inner if isinstance(inner, str) else _parts_or_text(
                [p for p in (_anthropic_part(b) for b in _blocks(inner)) if isinstance(p, dict)])
            out.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""), "content": text})
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input")))
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(block)
        elif kind in SERVER_TOOL_BLOCKS:
            why.append(f"a server tool turn ({kind}) that chat completions cannot carry")
        else:
            part = _anthropic_part(block)
            if isinstance(part, str):
                why.append(part)
            else:
                parts.append(part)
    if parts or calls or thinking:
        entry: Message = {"role": role, "content": _parts_or_text(parts) if parts else None}
        if calls:
            entry["tool_calls"] = calls
        if thinking:
            entry["thinking_blocks"] = thinking
        out.append(entry)
    return out


def _anthropic_tool(tool: Any, why: list[str]) -> Message | None:
    if not isinstance(tool, dict):
        return None
    if "input_schema" not in tool:  # a server tool (web_search_20250305, bash_..., computer_...)
        why.append(f"server tool {tool.get('type') or tool.get('name')!r} has no chat equivalent")
        return None
    fn = {"name": tool.get("name"), "parameters": tool.get("input_schema")}
    if tool.get("description"):
        fn["description"] = tool["description"]
    return {"type": "function", "function": fn}


def _anthropic_tool_choice(choice: Any) -> tuple[Any, bool | None]:
    """(tool_choice, parallel_tool_calls) in chat form."""
    if not isinstance(choice, dict):
        return None, None
    parallel = False if choice.get("disable_parallel_tool_use") else None
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind)), parallel


ANTHROPIC_PARAMS = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
                    "stop_sequences": "stop", "thinking": "thinking", "service_tier": "service_tier"}


def from_anthropic(params: dict[str, Any]) -> Chat:
    """A Messages API request (`messages.create` / a batch request's `params`) in chat form."""
    why: list[str] = []
    system = params.get("system")
    messages: list[Message] = []
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    elif isinstance(system, list) and system:
        parts = [p for p in (_anthropic_part(b) for b in _blocks(system)) if isinstance(p, dict)]
        messages.append({"role": "system", "content": _parts_or_text(parts)})
    for msg in params.get("messages") or ():
        if isinstance(msg, dict):
            messages += _anthropic_message(msg, why)
    out = {chat: params[key] for key, chat in ANTHROPIC_PARAMS.items() if params.get(key) is not None}
    tools = [t for t in (_anthropic_tool(t, why) for t in params.get("tools") or ()) if t]
    if tools:
        out["tools"] = tools
    choice, parallel = _anthropic_tool_choice(params.get("tool_choice"))
    if choice is not None:
        out["tool_choice"] = choice
    if parallel is not None:
        out["parallel_tool_calls"] = parallel
    user = _dict(params.get("metadata")).get("user_id")
    if user:  # Messages API `metadata` holds only user_id: chat's `user`, which litellm maps back
        out["user"] = str(user)
    if params.get("mcp_servers"):
        why.append("MCP servers (mcp_servers) have no chat equivalent")
    return Chat(tuple(messages), out, "; ".join(dict.fromkeys(why)) or None)


def anthropic_reply(content: Any, stop_reason: Any = None) -> Reply:
    """A Message's `content` blocks: text blocks are the answer, `tool_use` blocks its tool calls."""
    blocks = _blocks(content)
    texts = [str(b.get("text") or "") for b in blocks if b.get("type") == "text"]
    calls = tuple(tool_call(b.get("id"), b.get("name"), b.get("input")) for b in blocks if b.get("type") == "tool_use")
    return Reply("".join(texts) if texts else None, calls, stop_reason if isinstance(stop_reason, str) else None)


# --- OpenAI Responses API -----------------------------------------------------------------------------------

def _responses_part(part: Any, why: list[str]) -> Message | None:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text", "summary_text"):
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "input_image" and part.get("image_url"):
        image = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and (part.get("file_data") or part.get("file_id")):
        file = {k: part[k] for k in ("file_data", "file_id", "filename") if part.get(k)}
        return {"type": "file", "file": file}
    if kind == "input_audio" and isinstance(part.get("input_audio"), dict):
        return {"type": "input_audio", "input_audio": part["input_audio"]}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    why.append(f"an input part of type {kind!r} ({'by file_id' if part.get('file_id') else 'unsupported'})")
    return None


def _responses_input(items: Any, why: list[str]) -> list[Message]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}] if items else []
    out: list[Message] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            content = item.get("content")
            if isinstance(content, list):
                parts = [p for p in (_responses_part(p, why) for p in content) if p]
                content = _parts_or_text(parts)
            out.append({"role": item.get("role") or "user", "content": content})
        elif kind == "function_call":
            call = tool_call(item.get("call_id"), item.get("name"), item.get("arguments"))
            if out and out[-1].get("role") == "assistant" and "tool_calls" in out[-1]:
                out[-1]["tool_calls"].append(call)  # parallel calls: one assistant turn
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            out.append({"role": "tool", "tool_call_id": str(item.get("call_id") or ""),
                        "content": output if isinstance(output, str) else _json_text(output)})
        elif kind == "reasoning":
            continue  # the answering model's own state (often encrypted): no other model can take it
        elif kind == "item_reference":
            why.append(f"an item_reference to {item.get('id')!r}, stored by OpenAI and not in the log")
        else:
            why.append(f"an input item of type {kind!r} that chat completions cannot carry")
    return out


def _responses_tool(tool: Any, why: list[str]) -> Message | None:
    if not isinstance(tool, dict):
        return None
    if tool.get("type") != "function":
        why.append(f"built-in tool {tool.get('type')!r} has no chat completions equivalent")
        return None
    fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
    return {"type": "function", "function": fn}


def _responses_tool_choice(choice: Any, why: list[str]) -> Any:
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    why.append(f"tool_choice {choice!r} has no chat completions equivalent")
    return None


def _response_format(fmt: Any) -> Any:
    """`text.format` as `response_format`; the SDK's model_dump writes the schema as `schema_` (an alias)."""
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema", fmt.get("schema_"))
        spec = {"name": fmt.get("name"), "schema": schema}
        spec.update({k: fmt[k] for k in ("strict", "description") if fmt.get(k) is not None})
        return {"type": "json_schema", "json_schema": spec}
    return {"type": fmt["type"]}


RESPONSES_PARAMS = {"temperature": "temperature", "top_p": "top_p", "max_output_tokens": "max_completion_tokens",
                    "parallel_tool_calls": "parallel_tool_calls", "top_logprobs": "top_logprobs",
                    "service_tier": "service_tier"}


def from_responses(body: dict[str, Any], tools_given: bool = True) -> Chat:
    """A Responses API request (a batch line's body) or the settings a Response object echoes, in chat form.
    `tools_given` is False for a Response object, which echoes `tool_choice: auto` and `parallel_tool_calls`
    whether or not they were sent."""
    why: list[str] = []
    messages: list[Message] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    elif body.get("instructions"):
        why.append("instructions given as input items")
    messages += _responses_input(body.get("input"), why)
    params = {chat: body[key] for key, chat in RESPONSES_PARAMS.items() if body.get(key) is not None}
    tools = [t for t in (_responses_tool(t, why) for t in body.get("tools") or ()) if t]
    if tools:
        params["tools"] = tools
        choice = _responses_tool_choice(body.get("tool_choice"), why)
        if choice is not None:
            params["tool_choice"] = choice
    elif not tools_given:
        params.pop("parallel_tool_calls", None)
    text = _dict(body.get("text"))
    fmt = _response_format(text.get("format"))
    if fmt:
        params["response_format"] = fmt
    if text.get("verbosity"):
        params["verbosity"] = text["verbosity"]
    reasoning = _dict(body.get("reasoning"))
    if reasoning.get("effort"):
        params["reasoning_effort"] = reasoning["effort"]
    for key, what in (("previous_response_id", "continues response {!r}, whose history OpenAI stores (not in the log)"),
                      ("conversation", "belongs to a stored conversation {!r} (not in the log)"),
                      ("prompt", "uses a stored prompt template {!r}")):
        if body.get(key):
            why.append(what.format(body[key] if isinstance(body[key], str) else "…"))
    return Chat(tuple(messages), params, "; ".join(dict.fromkeys(why)) or None)


def responses_reply(output: Any) -> Reply:
    """A Response's `output` items: message text is the answer, `function_call` items its tool calls."""
    items = [o for o in output if isinstance(o, dict)] if isinstance(output, list) else []
    texts = [str(p.get("text") or "") for o in items if o.get("type") == "message"
             for p in (o.get("content") or ()) if isinstance(p, dict) and p.get("type") == "output_text"]
    calls = tuple(tool_call(o.get("call_id"), o.get("name"), o.get("arguments"))
                  for o in items if o.get("type") == "function_call")
    return Reply("".join(texts) if texts else None, calls, "tool_calls" if calls else None)
