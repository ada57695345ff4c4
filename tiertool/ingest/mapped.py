"""Any other CSV or JSON-lines log, read through a column map: `--map prompt=question,response=answer,
model=model_name,task=category`. Dotted paths reach into JSON objects, JSON text in CSV cells included, and
into lists by index (`response=response.choices.0.message.content`); a prompt column may hold a message list
(or a request body with `messages`) instead of text; a quoted value such as `model='gpt-4o'` is the same for
every row."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..records import Request
from .common import (
    BadRecord,
    as_tags,
    check_messages,
    dotted,
    maybe_json,
    response_reply,
    task_from,
    text_messages,
    to_float,
    to_int,
    to_time,
)

NAME = "mapped"
KEYS = ("prompt", "response", "model", "task", "system", "id", "time", "input_tokens", "output_tokens", "cost",
        "expected", "tags", "status")
OK = ("", "success", "succeeded", "ok", "200", "completed", "true")  # status values of a call that answered
REQUIRED = ("prompt", "model")


def parse_map(spec: str | None) -> dict[str, str]:
    """`prompt=col,model=col` -> {"prompt": "col", ...}; a bad spec is an InputError that shows the form."""
    if not spec:
        return {}
    out: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, col = part.partition("=")
        key, col = key.strip(), col.strip()
        if not sep or not col:
            raise InputError(f"--map {spec}: '{part}' is not KEY=COLUMN (e.g. --map prompt=question,model=model)")
        if key not in KEYS:
            raise InputError(f"--map: unknown key '{key}'; known: {', '.join(KEYS)}")
        out[key] = col
    missing = [k for k in REQUIRED if k not in out]  # model='gpt-4o' (quoted) is a literal for every row
    if missing:
        raise InputError(f"--map needs {' and '.join(f'{k}=COLUMN' for k in missing)}")
    return out


def check_columns(path: str, columns: list[str], mapping: dict[str, str]) -> None:
    """A CSV header must hold every mapped column: else one clear error, not a skip per line."""
    absent = [f"{k}={c}" for k, c in mapping.items()
              if c not in columns and c.split(".")[0] not in columns and not _literal(c)]
    if absent:
        raise InputError(f"{path}:1: --map {', '.join(absent)}: no such column; columns are: {', '.join(columns)}")


def _literal(col: str) -> bool:
    return len(col) >= 2 and col[0] == col[-1] == "'"


def sniff(obj: dict[str, Any]) -> bool:
    return True


def parse(obj: dict[str, Any], source: str, group_by: str, mapping: dict[str, str]) -> Request:
    def get(key: str) -> Any:
        col = mapping.get(key)
        if col is None:
            return None
        if _literal(col):
            return col[1:-1]
        return obj[col] if col in obj else dotted(obj, col)

    model = get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRecord(f"model column '{mapping['model']}' is empty or missing")
    messages = _messages(get("prompt"), get("system"), mapping["prompt"])
    tags = as_tags(get("tags"), mapping.get("tags", "tags"))
    explicit = get("task")
    if group_by in ("auto", "", None) and explicit not in (None, ""):
        task, how = str(explicit), "column"
    else:
        task, how = task_from(tags, {}, obj, group_by)
    response = get("response")
    reply = response_reply(response if isinstance(response, (str, dict, type(None))) else str(response))
    cost = to_float(get("cost"), "cost")
    return Request(
        id=str(get("id") or source), source=source, model=model.strip(), messages=messages,
        output=reply.text, output_tool_calls=reply.tool_calls, task=task, task_source=how,
        input_tokens=to_int(get("input_tokens"), "input_tokens"),
        output_tokens=to_int(get("output_tokens"), "output_tokens"),
        cost=cost, cost_source="logged" if cost is not None else None, time=to_time(get("time")), tags=tags,
        status="success" if str(get("status") or "").strip().lower() in OK else str(get("status")),
        expected=None if get("expected") in (None, "") else str(get("expected")),
    )


def _messages(prompt: Any, system: Any, column: str) -> tuple[dict[str, Any], ...]:
    """The prompt column as messages: text (with the system column), or a message list / request body."""
    value = maybe_json(prompt)
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        msgs = check_messages(value)
        return text_messages(system, None) + msgs if system and not any(
            m.get("role") == "system" for m in msgs) else msgs
    if prompt is not None and not isinstance(prompt, str):
        raise BadRecord(f"prompt column '{column}' must be text or a list of messages, got {type(prompt).__name__}")
    return text_messages(system, prompt)
