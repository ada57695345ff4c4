"""The registry of log formats: how to recognise a record of each, and how to parse it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..records import Request
from . import (
    anthropic,
    helicone,
    langfuse,
    litellm_payload,
    litellm_spend,
    llm_logs,
    mapped,
    openai_batch,
    openai_chat,
    otel_genai,
)


@dataclass(frozen=True)
class Format:
    """A log format: `sniff` says whether a JSON object is one of its records, `parse` makes the Request."""

    name: str
    sniff: Callable[[dict[str, Any]], bool]
    parse: Callable[[dict[str, Any], str, str], Request]
    role: str = ""  # batch-request | batch-result: joined on the request id when both are given


# Most specific first: the first format whose sniff accepts a line reads it.
FORMAT_LIST = (
    Format(litellm_spend.NAME, litellm_spend.sniff, litellm_spend.parse),
    Format(helicone.NAME, helicone.sniff, helicone.parse),
    Format(litellm_payload.NAME, litellm_payload.sniff, litellm_payload.parse),
    Format(anthropic.RESULT, anthropic.sniff_result, anthropic.parse_result, "batch-result"),
    Format(anthropic.REQUEST, anthropic.sniff_request, anthropic.parse_request, "batch-request"),
    Format(openai_batch.INPUT, openai_batch.sniff_input, openai_batch.parse_input, "batch-request"),
    Format(openai_batch.OUTPUT, openai_batch.sniff_output, openai_batch.parse_output, "batch-result"),
    Format(anthropic.MESSAGE, anthropic.sniff_message, anthropic.parse_message),
    Format(langfuse.BUCKET, langfuse.sniff_bucket, langfuse.parse_bucket),
    Format(langfuse.API, langfuse.sniff_api, langfuse.parse_api),
    Format(llm_logs.NAME, llm_logs.sniff, llm_logs.parse),
    Format(otel_genai.NAME, otel_genai.sniff, otel_genai.parse),
    Format(openai_chat.NAME, openai_chat.sniff, openai_chat.parse),
)
FORMATS: dict[str, Format] = {f.name: f for f in FORMAT_LIST}
FORMAT_NAMES = (*FORMATS, mapped.NAME)  # mapped needs --map, so it is never sniffed

