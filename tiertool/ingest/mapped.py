"""Any other CSV or JSON-lines log, read through a column map: `--map prompt=question,response=answer,
model=model_name,task=category` (dotted paths reach into JSON objects; a quoted value such as
`model='gpt-4o'` is the same for every row)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError
from ..records import Request
from .common import BadRecord, as_tags, dotted, task_from, text_messages, to_float, to_int, to_time

NAME = "mapped"
KEYS = ("prompt", "response", "model", "task", "system", "id", "time", "input_tokens", "output_tokens", "cost",
        "expected", "tags")
REQUIRED = ("prompt", "model")
GUESSES = {  # map key -> the column names it usually has, likeliest first
    "prompt": ("prompt", "input", "question", "query", "q", "request", "user_input", "instruction", "text"),
    "model": ("model", "model_name", "llm", "engine", "deployment"),
    "response": ("response", "output", "answer", "completion", "a", "reply", "result"),
    "task": ("task", "task_type", "category", "route"),
}


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
    absent = [f"{k}={c}" for k, c in mapping.items() if c not in columns and not _literal(c)]
    if absent:
        raise InputError(f"{path}:1: --map {', '.join(absent)}: no such column; columns are: {', '.join(columns)}")


def suggest(record: dict[str, Any], group_by: str = "auto") -> str | None:
    """The `--map` that reads this record: columns guessed by name, kept only if the record then parses."""
    columns = {str(c).lower(): str(c) for c in record}
    mapping: dict[str, str] = {}
    for key, names in GUESSES.items():
        col = next((columns[n] for n in names if n in columns and columns[n] not in mapping.values()), None)
        if col is not None:
            mapping[key] = col
    if not set(REQUIRED) <= set(mapping) or _structured(record[mapping["prompt"]]):
        return None
    try:
        req = parse(record, "", group_by, mapping)
    except (BadRecord, TypeError, ValueError, KeyError, AttributeError):
        return None
    return "--map " + ",".join(f"{k}={c}" for k, c in mapping.items()) if req.messages else None


def _structured(value: Any) -> bool:
    """Messages kept as JSON text (a CSV export of chat logs): read as a plain prompt they would be replayed
    as JSON, so no map is suggested for them."""
    if not isinstance(value, str) or value.lstrip()[:1] not in ("[", "{"):
        return not isinstance(value, str)
    try:
        return isinstance(json.loads(value), (list, dict))
    except ValueError:
        return False


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

    prompt, model = get("prompt"), get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRecord(f"model column '{mapping['model']}' is empty or missing")
    if prompt is not None and not isinstance(prompt, str):
        raise BadRecord(f"prompt column '{mapping['prompt']}' must be text, got {type(prompt).__name__}")
    tags = as_tags(get("tags"), mapping.get("tags", "tags"))
    explicit = get("task")
    if group_by in ("auto", "", None) and explicit not in (None, ""):
        task, how = str(explicit), "column"
    else:
        task, how = task_from(tags, {}, obj, group_by)
    response = get("response")
    cost = to_float(get("cost"), "cost")
    return Request(
        id=str(get("id") or source), source=source, model=model.strip(),
        messages=text_messages(get("system"), prompt),
        output=None if response in (None, "") else str(response), task=task, task_source=how,
        input_tokens=to_int(get("input_tokens"), "input_tokens"),
        output_tokens=to_int(get("output_tokens"), "output_tokens"),
        cost=cost, cost_source="logged" if cost is not None else None, time=to_time(get("time")), tags=tags,
        expected=None if get("expected") in (None, "") else str(get("expected")),
    )
