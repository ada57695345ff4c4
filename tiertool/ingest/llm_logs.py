"""simonw/llm logs: `llm logs --json` output (a JSON array, or JSON lines) and its `logs.db` SQLite file
(table `responses`: `id, model, prompt, system, prompt_json, options_json, response, response_json,
conversation_id, duration_ms, datetime_utc, input_tokens, output_tokens, token_details`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Request
from .common import BadRecord, as_dict, need_str, params_of, task_from, text_messages, to_float, to_int, to_time

NAME = "llm-logs"


def sniff(obj: dict[str, Any]) -> bool:
    return "prompt" in obj and "response" in obj and "datetime_utc" in obj


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    model = need_str(obj, "model")
    prompt, system = obj.get("prompt"), obj.get("system")
    if prompt is not None and not isinstance(prompt, str):
        raise BadRecord(f"'prompt' must be text, got {type(prompt).__name__}")
    details = as_dict(obj.get("token_details"), "token_details")
    duration = to_float(obj.get("duration_ms"), "duration_ms")
    task, how = task_from((), {}, obj, group_by)
    response = obj.get("response")
    return Request(
        id=str(obj.get("id") or source), source=source, model=str(obj.get("resolved_model") or model),
        requested_model=model, messages=text_messages(system, prompt),
        params=params_of(as_dict(obj.get("options_json"), "options_json")),
        output=response if isinstance(response, str) else None, task=task, task_source=how,
        input_tokens=to_int(obj.get("input_tokens"), "input_tokens"),
        output_tokens=to_int(obj.get("output_tokens"), "output_tokens"),
        cached_tokens=to_int(details.get("cached_tokens"), "token_details.cached_tokens"),
        time=to_time(obj.get("datetime_utc")), latency_s=duration / 1000 if duration is not None else None,
        trace_id=obj.get("conversation_id") or None,
    )


def db_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(rowid, row) of the `responses` table, streamed."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        cur = con.execute("SELECT rowid AS _rowid, * FROM responses ORDER BY rowid")
    except sqlite3.DatabaseError as e:
        raise InputError(f"{path}: SQLite file without an llm `responses` table ({e}); expected llm's logs.db") \
            from None
    try:
        for row in cur:
            d = dict(row)
            yield d.pop("_rowid"), d
    finally:
        con.close()
