"""Helpers shared by the log formats: message text (`content_text`, from records), timestamps, task keys."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any

from ..limits import MAX_TOKENS, MIN_TIME, in_time_window
from ..records import Request
from ..records import content_text as content_text  # re-exported for the format modules
from .canonical import Reply, anthropic_reply, chat_reply, responses_reply
from .sources import loads

TASK_TAG_PREFIXES = ("task:", "taskName:", "feature:")
# Chat completion parameters a faithful replay sends as logged: decoding, output shape, tools, reasoning.
REQUEST_PARAMS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n",
    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "response_format", "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call",
    "reasoning_effort", "verbosity", "modalities", "audio", "prediction", "web_search_options",
    "thinking", "top_k", "user",
)


class BadRecord(ValueError):
    """Raised by a format parser: the line is JSON but not a usable record of that format."""


class NotARequest(BadRecord):
    """The line is valid but is not an LLM request (a non-LLM span, an embedding call): skipped, counted,
    and not an error under --strict."""


REDACTED = ("redacted-by-litellm",)
MAX_TIME = 32503680000.0  # year 3000


def maybe_json(value: Any) -> Any:
    """Spend-log exports keep nested objects as JSON strings; accept either."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested past what can be read: it stays a string
            return value
    return value


def response_reply(response: Any) -> Reply:
    """The answer (text, tool calls, finish reason) of a chat completion, a Responses API object, an Anthropic
    Message, or a plain string. A string that merely looks like JSON (an answer that *is* JSON) stays the answer
    unless it parses to one of those objects."""
    raw = response
    response = maybe_json(response)
    if isinstance(response, str):
        return Reply(response or None)
    if response in ({}, []):  # LiteLLM logs a failed call's response as "{}"
        return Reply(None)
    if isinstance(response, dict):
        choices = response.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            return chat_reply(choices[0].get("message"), choices[0].get("finish_reason"))
        if response.get("object") == "response" and isinstance(response.get("output"), list):
            return responses_reply(response["output"])
        if response.get("type") == "message" and isinstance(response.get("content"), list):
            return anthropic_reply(response["content"], response.get("stop_reason"))
    return Reply((raw or None) if isinstance(raw, str) else None)


def response_text(response: Any) -> tuple[str | None, str | None]:
    """(text, finish_reason) of a chat completion response, or of a plain string (see response_reply)."""
    reply = response_reply(response)
    return reply.text, reply.finish_reason


def check_messages(messages: Any) -> tuple[dict[str, Any], ...]:
    messages = maybe_json(messages)
    if messages in (None, {}, [], ""):
        return ()
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise BadRecord("'messages' must be a list of {role, content} objects")
    if any(m.get("content") in REDACTED for m in messages):
        return ()  # the gateway logged a placeholder, not the prompt: not replayable
    return tuple(messages)


def to_int(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRecord(f"'{name}' must be a number, got {type(value).__name__}")
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        raise BadRecord(f"'{name}' must be a finite number, got {value!r}") from None


def to_float(value: Any, name: str) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRecord(f"'{name}' must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise BadRecord(f"'{name}' must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise BadRecord(f"'{name}' must be a finite number, got {value!r}")
    return number


def to_time(value: Any) -> float | None:
    """Unix seconds from an ISO-8601 string or a number (seconds, milli-, micro- or nanoseconds)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        scale = 1e9 if value > 1e17 else 1e6 if value > 1e14 else 1e3 if value > 1e11 else 1.0
        seconds = float(value) / scale
        if not 0 <= seconds < MAX_TIME:
            raise BadRecord(f"time {value!r} is out of range (expected unix seconds, ms, us or ns)")
        return seconds
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return to_time(float(value))
            except ValueError:
                pass
            raise BadRecord(f"time {value!r} is not ISO-8601") from None
        if when.tzinfo is None:  # exports write UTC without an offset
            when = when.replace(tzinfo=timezone.utc)
        return when.timestamp()
    raise BadRecord(f"time must be a string or number, got {type(value).__name__}")


TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens")


def check_ranges(req: Request) -> Request:
    """The figures of a parsed record, held to sane ranges whatever the format: token counts 0..2^53, a cost
    and a latency >= 0, a time between 2000-01-01 and tomorrow. One year-9999 timestamp would stretch the log's
    period to millions of days (monthly figures read $0), a negative spend would invent savings, and a count
    past 64 bits cannot even be stored; such a line is skipped with its reason. The model names must be text
    (they key the tallies and the per-task clients)."""
    for name, value in (("model", req.model), ("model called", req.requested_model)):
        if value is not None and not isinstance(value, str):
            raise BadRecord(f"the {name} must be a string, got {type(value).__name__}")
    for name in TOKEN_FIELDS:
        n = getattr(req, name)
        if not 0 <= n <= MAX_TOKENS:
            raise BadRecord(f"{name} {n} is out of range (0..2^53)")
    for name in ("cost", "latency_s"):
        x = getattr(req, name)
        if x is not None and not (math.isfinite(x) and x >= 0):
            raise BadRecord(f"{'spend' if name == 'cost' else 'latency'} {x!r} is out of range (must be >= 0)")
    if req.time is not None and not in_time_window(req.time):
        first = time.strftime("%Y-%m-%d", time.gmtime(MIN_TIME))
        raise BadRecord(f"time {_iso(req.time)} is out of range ({first} .. tomorrow)")
    return req


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).isoformat(sep=" ")[:19]
    except (OverflowError, OSError, ValueError):
        return repr(seconds)


def dotted(obj: Any, path: str) -> Any:
    """Value at a dotted path (`metadata.task`, `response.choices.0.message.content`) in nested objects and
    lists, looking through JSON text on the way (CSV cells and spend-log columns hold JSON as text), or None."""
    for part in path.split("."):
        obj = maybe_json(obj)
        if isinstance(obj, list) and part.lstrip("-").isdigit() and -len(obj) <= int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return None
    return obj


def task_from(tags: tuple[str, ...], metadata: dict[str, Any], raw: dict[str, Any], group_by: str,
              name: Any = None) -> tuple[str, str]:
    """(task, how it was found): an explicit group_by path wins, then a task tag or property, then the
    trace / workflow / run `name`, then metadata.task. "none" leaves the request to template inference."""
    if group_by not in ("auto", "", None):
        value = dotted(raw, group_by)
        if value not in (None, ""):
            return str(value), "group_by"
        return "untagged", "none"
    for tag in tags:
        for prefix in TASK_TAG_PREFIXES:
            if tag.startswith(prefix) and tag[len(prefix):].strip():
                return tag[len(prefix):].strip(), "tag"
    if isinstance(name, str) and name.strip():
        return name.strip(), "name"
    value = metadata.get("task") if isinstance(metadata, dict) else None
    if value not in (None, ""):
        return str(value), "metadata"
    return "untagged", "none"


def typing_tag(tags: tuple[str, ...], task: str) -> str:
    """The tag `task_from` typed `task` by (`feature:x` for task x), as a client sends it; "" if none did."""
    for tag in tags:
        for prefix in TASK_TAG_PREFIXES:
            if tag.startswith(prefix) and tag[len(prefix):].strip() == task:
                return tag
    return ""


def trace_task(tags: tuple[str, ...], metadata: dict[str, Any], raw: dict[str, Any], group_by: str,
               name: Any = None) -> tuple[str, str]:
    """The task of a trace whose producer keeps free tags (Langfuse trace tags, Braintrust root tags): a task
    key (group_by, a task: tag, metadata.task) first; else the trace name with its tags, so that traces
    under one name but with different tags are never merged; else the name alone."""
    task, how = task_from(tags, metadata, raw, group_by)
    if how != "none" or group_by not in ("auto", "", None):
        return task, how
    if not tags:
        return task_from((), {}, raw, group_by, name=name)
    listed = ", ".join(sorted(set(tags)))
    return (f"{str(name).strip()} [{listed}]" if isinstance(name, str) and name.strip() else listed), "tag"


def params_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The request parameters a replay sends (REQUEST_PARAMS), as logged."""
    return {k: obj[k] for k in REQUEST_PARAMS if obj.get(k) is not None}


PROPERTY_KEYS = {"task": "task:", "taskname": "taskName:", "task_name": "taskName:", "feature": "feature:"}


def property_tags(props: Any) -> tuple[str, ...]:
    """Key/value properties (Helicone properties, OTel attributes) as tags: {"task": "x"} -> ("task:x",)."""
    if not isinstance(props, dict):
        return ()
    out = []
    for key, value in props.items():
        k = str(key).lower().removeprefix("helicone-property-")
        if k in PROPERTY_KEYS and value not in (None, ""):
            out.append(PROPERTY_KEYS[k] + str(value))
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out.append(f"{key}:{value}")
    return tuple(out)


def as_tags(value: Any, name: str) -> tuple[str, ...]:
    """A tag list (list of strings, a JSON string of one, or a comma-separated string)."""
    value = maybe_json(value)
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if not isinstance(value, list):
        raise BadRecord(f"'{name}' must be a list of strings, got {type(value).__name__}")
    return tuple(str(t) for t in value)


CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
RESPONSE_ANSWERED = ("completed", "incomplete")  # a Response cut short (max_output_tokens) still answered


def usage_fields(usage: Any, names: tuple[str, str, str, str] = CHAT_USAGE) -> dict[str, Any]:
    """An OpenAI usage object (chat's or the Responses API's key `names`) as Request's token fields: input
    includes cached and cache-write tokens, output includes reasoning tokens, as OpenAI counts them."""
    inp, out, inp_details, out_details = names
    usage = as_dict(usage, "usage")
    details, more = as_dict(usage.get(inp_details), inp_details), as_dict(usage.get(out_details), out_details)
    return {"input_tokens": to_int(usage.get(inp), f"usage.{inp}"),
            "output_tokens": to_int(usage.get(out), f"usage.{out}"),
            "cached_tokens": to_int(details.get("cached_tokens"), "cached_tokens"),
            "cache_write_tokens": to_int(details.get("cache_write_tokens"), "cache_write_tokens"),
            "reasoning_tokens": to_int(more.get("reasoning_tokens"), "reasoning_tokens")}


def as_dict(value: Any, name: str) -> dict[str, Any]:
    value = maybe_json(value)
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"'{name}' must be an object, got {type(value).__name__}")
    return value


def need_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise BadRecord(f"'{key}' must be a non-empty string")
    return value


def text_messages(system: Any, prompt: Any) -> tuple[dict[str, Any], ...]:
    """Messages from a plain system prompt and user prompt (either may be missing)."""
    msgs = []
    if isinstance(system, str) and system:
        msgs.append({"role": "system", "content": system})
    if isinstance(prompt, str) and prompt:
        msgs.append({"role": "user", "content": prompt})
    return tuple(msgs)
