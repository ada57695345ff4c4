"""The registry of log formats: how to recognise a record of each, and how to parse it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..records import Request
from . import (
    anthropic,
    braintrust,
    helicone,
    langfuse,
    langsmith,
    litellm_payload,
    litellm_spend,
    llm_logs,
    mapped,
    mlflow,
    openai_batch,
    openai_chat,
    openai_responses,
    openinference,
    openrouter,
    otel_genai,
    weave,
)

Parse = Callable[[dict[str, Any], str, str], Request]


@dataclass(frozen=True)
class Format:
    """A log format: `sniff` says whether a JSON object is one of its records, `parse` makes the Request."""

    name: str
    sniff: Callable[[dict[str, Any]], bool]
    parse: Parse
    role: str = ""  # batch-request | batch-result: joined on the request id when both are given
    fields: tuple[str, ...] = ()  # the top-level fields its records have: names the nearest format of a log
    session: Callable[[], Parse] | None = None  # a parser that remembers earlier records of the same file

    def parser(self) -> Parse:
        return self.session() if self.session else self.parse


# Most specific first: the first format whose sniff accepts a line reads it.
FORMAT_LIST = (
    Format(litellm_spend.NAME, litellm_spend.sniff, litellm_spend.parse,
           fields=("request_id", "spend", "startTime", "model", "proxy_server_request", "request_tags")),
    Format(helicone.NAME, helicone.sniff, helicone.parse,
           fields=("request_id", "request_created_at", "request_body", "response_body")),
    Format(litellm_payload.NAME, litellm_payload.sniff, litellm_payload.parse,
           fields=("id", "response_cost", "hidden_params", "model", "messages")),
    Format(anthropic.RESULT, anthropic.sniff_result, anthropic.parse_result, "batch-result",
           fields=("custom_id", "result")),
    Format(anthropic.REQUEST, anthropic.sniff_request, anthropic.parse_request, "batch-request",
           fields=("custom_id", "params")),
    Format(openai_batch.INPUT, openai_batch.sniff_input, openai_batch.parse_input, "batch-request",
           fields=("custom_id", "method", "url", "body")),
    Format(openai_batch.OUTPUT, openai_batch.sniff_output, openai_batch.parse_output, "batch-result",
           fields=("id", "custom_id", "response", "error")),
    Format(anthropic.MESSAGE, anthropic.sniff_message, anthropic.parse_message,
           fields=("id", "type", "model", "content", "usage")),
    Format(langfuse.BUCKET, langfuse.sniff_bucket, langfuse.parse_bucket,
           fields=("type", "provided_model_name", "trace_id", "start_time")),
    Format(langfuse.API, langfuse.sniff_api, langfuse.parse_api,
           fields=("type", "providedModelName", "traceId", "startTime")),
    Format(llm_logs.NAME, llm_logs.sniff, llm_logs.parse, fields=("prompt", "response", "datetime_utc", "model"),
           session=llm_logs.Parser),
    Format(braintrust.NAME, braintrust.sniff, braintrust.parse,
           fields=("span_id", "root_span_id", "span_attributes", "input", "output", "metrics")),
    Format(weave.NAME, weave.sniff, weave.parse, fields=("op_name", "inputs", "output", "started_at", "trace_id")),
    Format(langsmith.NAME, langsmith.sniff, langsmith.parse,
           fields=("run_type", "inputs", "outputs", "trace_id", "dotted_order")),
    Format(openrouter.NAME, openrouter.sniff, openrouter.parse),  # {"data": {...}}: too few fields to be nearest
    Format(openai_chat.NAME, openai_chat.sniff, openai_chat.parse, fields=("model", "messages")),
    Format(openai_chat.MESSAGES, openai_chat.sniff_messages, openai_chat.parse, fields=("messages",)),
    Format(openai_chat.COMPLETION, openai_chat.sniff_completion, openai_chat.parse_completion,
           fields=("object", "choices", "model", "usage")),
    Format(openai_responses.NAME, openai_responses.sniff, openai_responses.parse,
           fields=("object", "output", "model", "usage")),
    Format(mlflow.NAME, mlflow.sniff, mlflow.parse,  # spans of the traces given by mlflow.TraceStream
           fields=("trace_id", "trace", "state", "request_time", "spans")),
    Format(openinference.NAME, openinference.sniff, openinference.parse),  # plain spans from otlp.py
    Format(otel_genai.NAME, otel_genai.sniff, otel_genai.parse, fields=("traceId", "spanId", "attributes")),
)
FORMATS: dict[str, Format] = {f.name: f for f in FORMAT_LIST}
FORMAT_NAMES = (*FORMATS, mapped.NAME)  # mapped needs --map, so it is never sniffed
