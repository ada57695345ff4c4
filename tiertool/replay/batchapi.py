"""The provider side of batch replay (`--batch`, `replay.batch`): submit one batch of calls to a tier, poll it,
and read its results back item by item. The Replayer (engine.py) decides what goes in a batch and what each
item's outcome means (the cache, the budget, the counts).

OpenAI (and OpenAI-compatible endpoints): a JSONL file of /v1/chat/completions requests and a batch on it,
through litellm's acreate_file / acreate_batch / aretrieve_batch / afile_content, with the SDK's own retries off
(a create retried after a timeout could submit, and bill, a batch twice; a poll is retried by the Replayer, where
it counts). Anthropic Message Batches:
litellm retrieves them and reads their results, but its create_batch does not create them (1.110.2:
"Batch creation not yet implemented for Anthropic") and the anthropic SDK is not installed with litellm, so the
create request is posted with litellm's own HTTP client, URL and headers (AnthropicBatchesConfig) and each
request's params are litellm's translation of the chat call (AnthropicConfig.transform_request), the body its
per-call route would send.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Tier
from ..errors import ReplayError
from ..records import Call
from .llm import litellm

PROVIDERS = ("openai", "anthropic")
ENDED = ("completed", "expired", "failed", "cancelled")  # OpenAI's final statuses (litellm maps Anthropic's to them)


class BatchFailed(Exception):
    """The provider failed or cancelled the whole batch."""


class ItemFailed(Exception):
    """A batch item the provider answered with an error status (the engine treats it as that status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reply:
    """What an answer says, from a chat completion (per call or batch item) or an Anthropic message."""

    text: str | None
    tool_calls: tuple[dict[str, Any], ...]  # in OpenAI chat shape (records.Answer.tool_calls)
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int = 0
    choices: bool = True  # False: a completion with no choices
    reasoning_tokens: int = 0  # part of output_tokens


@dataclass(frozen=True)
class Item:
    """One request's line in a batch's results: a reply, or an HTTP status and message (`status` None: the item
    expired or was cancelled)."""

    reply: Reply | None = None
    status: int | None = None
    error: str = ""


def provider(tier: Tier) -> str:
    """litellm's provider for the tier's model; only OpenAI's and Anthropic's batch APIs are supported."""
    try:
        name = str(litellm().get_llm_provider(tier.model)[1])
    except Exception as e:  # noqa: BLE001 - litellm raises its own error types for an unknown provider
        raise ReplayError(f"--batch: tier '{tier.name}' ({tier.model}): {e}") from None
    if name not in PROVIDERS:
        raise ReplayError(f"--batch: tier '{tier.name}' ({tier.model}) is on provider '{name}'; batch replay "
                          f"supports {' and '.join(PROVIDERS)} (drop --batch or replay.batch for this audit)")
    return name


def _bare(tier: Tier) -> str:
    return str(litellm().get_llm_provider(tier.model)[0])


def _anthropic_params(tier: Tier, call: Call, params: dict[str, Any]) -> Any:
    from litellm.llms.anthropic.chat.transformation import AnthropicConfig

    config, model = AnthropicConfig(), _bare(tier)
    optional = config.map_openai_params(params, {}, model, True)
    messages: Any = [dict(m) for m in call.messages]
    return config.transform_request(model, messages, optional, {}, {})


async def submit(tier: Tier, name: str, calls: Sequence[tuple[Call, dict[str, Any]]], timeout: float) -> str:
    """Create one batch of (call, params) on the tier; returns the batch id (custom ids are the call keys)."""
    lt, key = litellm(), tier.api_key()
    if name == "anthropic":
        from litellm.llms.anthropic.batches.transformation import AnthropicBatchesConfig
        from litellm.llms.custom_httpx.http_handler import get_async_httpx_client
        from litellm.types.utils import LlmProviders

        config = AnthropicBatchesConfig()
        base = tier.api_base
        url = config.get_complete_batch_url(base, key, _bare(tier), {}, {}, {})
        headers = config.validate_environment({}, _bare(tier), [], {}, {}, key, base)
        requests = [{"custom_id": c.key, "params": _anthropic_params(tier, c, p)} for c, p in calls]
        response = await get_async_httpx_client(llm_provider=LlmProviders.ANTHROPIC).post(
            url, headers=headers, json={"requests": requests}, timeout=timeout)
        response.raise_for_status()
        return str(response.json()["id"])
    lines = [{"custom_id": c.key, "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": _bare(tier), "messages": list(c.messages), **p}} for c, p in calls]
    data = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode()
    file = await lt.acreate_file(file=("tiertool-batch.jsonl", data), purpose="batch", custom_llm_provider="openai",
                                 api_base=tier.api_base, api_key=key, timeout=timeout, max_retries=0)
    batch = await lt.acreate_batch(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=file.id,
                                   custom_llm_provider="openai", api_base=tier.api_base, api_key=key,
                                   metadata={"source": "tiertool"}, timeout=timeout, max_retries=0)
    return str(batch.id)


async def status(tier: Tier, name: str, batch_id: str, timeout: float) -> Any:
    """The batch as litellm reports it (OpenAI's shape: status, output_file_id, error_file_id, errors)."""
    return await litellm().aretrieve_batch(batch_id=batch_id, custom_llm_provider=name, api_base=tier.api_base,
                                           api_key=tier.api_key(), timeout=timeout, max_retries=0)


async def results(tier: Tier, name: str, batch: Any, timeout: float) -> dict[str, Item]:
    """Every item in an ended batch's output (and error) file, by custom id; raise BatchFailed when the provider
    failed or cancelled the batch as a whole."""
    if batch.status in ("failed", "cancelled"):
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        why = "; ".join(str(getattr(e, "message", e)) for e in errors[:3]) or f"status {batch.status}"
        raise BatchFailed(why)
    items: dict[str, Item] = {}
    for file_id in (batch.output_file_id, getattr(batch, "error_file_id", None)):
        if not file_id:
            continue
        content = await litellm().afile_content(file_id=file_id, custom_llm_provider=name, api_base=tier.api_base,
                                                api_key=tier.api_key(), timeout=timeout, max_retries=0)
        for line in content.content.decode("utf-8", "replace").splitlines():
            parsed = _line(line)
            if parsed is not None:
                items[parsed[0]] = parsed[1]
    return items


def _line(line: str) -> tuple[str, Item] | None:
    """One results line, in OpenAI's shape or Anthropic's own (litellm hands Anthropic's through unchanged when
    it cannot translate them); None for a line that is not one."""
    try:
        row = json.loads(line)
        custom_id = str(row["custom_id"])
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(row.get("result"), dict):
        return custom_id, _anthropic_item(row["result"])
    response, error = row.get("response") or {}, row.get("error") or {}
    body = response.get("body") if isinstance(response, dict) else None
    code = response.get("status_code") if isinstance(response, dict) else None
    if code == 200 and isinstance(body, dict):
        return custom_id, Item(reply=chat_reply(body))
    message = ((body or {}).get("error") or {}).get("message") if isinstance(body, dict) else None
    message = message or (error.get("message") if isinstance(error, dict) else None) or "no answer"
    if not isinstance(code, int) or message.startswith("Batch request was "):  # expired (litellm's wording too)
        return custom_id, Item(error=str(message))
    return custom_id, Item(status=code, error=str(message))


def _anthropic_item(result: dict[str, Any]) -> Item:
    kind = result.get("type")
    if kind == "succeeded" and isinstance(result.get("message"), dict):
        m = result["message"]
        blocks = m.get("content") or []
        text = "".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
        u = m.get("usage") or {}
        cached = _int(u.get("cache_read_input_tokens")) or 0
        fresh = _int(u.get("input_tokens"))
        total = None if fresh is None else fresh + cached + (_int(u.get("cache_creation_input_tokens")) or 0)
        tools = tuple(_call(b.get("id"), b.get("name"), b.get("input")) for b in blocks
                      if isinstance(b, dict) and b.get("type") == "tool_use")
        out = _int(u.get("output_tokens"))
        return Item(reply=Reply(text if text or not tools else None, tools, total, out, cached))
    if kind == "errored":
        error = (result.get("error") or {}).get("error") or {}
        kind_of = str(error.get("type", "api_error"))
        status = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                  "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429,
                  "overloaded_error": 529}.get(kind_of, 500)
        return Item(status=status, error=str(error.get("message") or kind_of))
    return Item(error=f"the batch request {kind or 'ended without a result'}")


def chat_reply(body: Any) -> Reply:
    """A chat completion (a dict from a batch file, or litellm's ModelResponse) as a Reply."""
    usage = get(body, "usage") or {}
    details = get(usage, "prompt_tokens_details") or {}
    choices = get(body, "choices") or []
    message = get(choices[0], "message") if choices else None
    if message is None:
        return Reply(None, (), _int(get(usage, "prompt_tokens")), _int(get(usage, "completion_tokens")),
                     _int(get(details, "cached_tokens")) or 0, choices=False)
    out = _int(get(usage, "completion_tokens"))
    reasoning = _int(get(get(usage, "completion_tokens_details"), "reasoning_tokens")) or 0
    calls = tuple(_call(get(c, "id"), get(get(c, "function"), "name"), get(get(c, "function"), "arguments"))
                  for c in get(message, "tool_calls") or ())
    return Reply(get(message, "content"), calls, _int(get(usage, "prompt_tokens")), out,
                 _int(get(details, "cached_tokens")) or 0, reasoning_tokens=min(reasoning, out or 0))


def _call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """One tool call in chat shape, whatever provider litellm translated it from (arguments a JSON string)."""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments or {})
    return {"id": str(call_id or ""), "type": "function", "function": {"name": str(name or ""), "arguments": arguments}}


def get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _int(value: Any) -> int | None:
    from ..limits import MAX_TOKENS

    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS
    return value if ok else None
