"""What LiteLLM's two logs (SpendLogs rows and the StandardLoggingPayload) share: which call types are LLM
requests, the request body in chat form for each, the answer, and the client's own tags.

LiteLLM logs `request_tags` as the client's tags, then the tags of the deployment the router picked (with
`enable_tag_filtering`), then `User-Agent: ...` entries it adds itself. Only the client's tags say what the
request is for, so only they are task keys; the rest stay in `metadata["deployment_tags"]`.
"""

from __future__ import annotations

from typing import Any

from .canonical import Chat, from_anthropic, from_responses
from .common import NotARequest, as_tags, check_messages, params_of

CHAT = ("completion", "acompletion", "")
RESPONSES = ("responses", "aresponses")
ANTHROPIC = ("anthropic_messages", "aanthropic_messages")
TEXT = ("text_completion", "atext_completion")
USER_AGENT = "User-Agent:"


def request_chat(call_type: str, body: dict[str, Any], messages: Any = None) -> Chat:
    """The request in chat form, from the client's request body (or the logged `messages` when the body is
    not logged); raises NotARequest for embeddings, images, audio and the like."""
    if call_type in RESPONSES:
        return from_responses(body)
    if call_type in ANTHROPIC:
        return from_anthropic(body)
    if call_type in TEXT:
        return Chat((), params_of(body), "a text completion (prompt string), not a chat request")
    if call_type not in CHAT:
        raise NotARequest(f"call_type {call_type!r} is not a chat/text completion")
    logged = body.get("messages") if body.get("messages") else messages
    return Chat(check_messages(logged), params_of(body))


def split_tags(logged: Any, client: tuple[str, ...] | None) -> tuple[tuple[str, ...], list[str]]:
    """(client tags, deployment tags) of `request_tags`. Without a record of the client's own tags, every tag
    but LiteLLM's User-Agent entries is taken as the client's."""
    tags = [t for t in as_tags(logged, "request_tags") if not t.startswith(USER_AGENT)]
    if client is None:
        return tuple(tags), []
    return client, [t for t in tags if t not in client]


def client_metadata(metadata: Any) -> dict[str, Any]:
    """The `metadata` the client sent (LiteLLM keeps it as `requester_metadata`), without the HTTP headers."""
    if not isinstance(metadata, dict):
        return {}
    return {k: v for k, v in metadata.items() if k != "headers"}
