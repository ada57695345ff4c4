"""simonw/llm logs: `llm logs --json` output and its `logs.db` SQLite file, as llm 0.31 and 0.36 write them.

llm <= 0.31 logs each call as a `responses` row (`prompt`, `system`, `prompt_json` = the messages sent,
`response`, `options_json`, `schema_id`, `token_details`, tools in `tool_calls` / `tool_results`, files in
`attachments`). llm >= 0.32 logs each call as a `turns` row and its text in a content-addressed message store:
`messages` (a hash chain through `parent_hash`) and their `parts` (text, attachment, tool_call, tool_result);
a turn's request is the chain up to `parent_message_hash`, its answer the rest up to `tip_message_hash`. A
database upgraded from 0.31 keeps its old calls in `responses` and logs new ones as turns: both are read.

A `-c` follow-up is replayed with its conversation: from `prompt_json` when llm logged the messages sent, from
the message chain for turns, else rebuilt from the conversation's earlier entries (as llm's OpenAI plugin
builds it: the system prompt when it changes, each prompt with its attachments or tool results, each answer
with its tool calls). An attachment llm stored only as a path, and image data it elided, cannot be replayed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Message, Request
from .canonical import tool_call
from .common import BadRecord, as_dict, maybe_json, need_str, params_of, task_from, to_float, to_int, to_time

NAME = "llm-logs"
ELIDED = "data:..."  # llm 0.31 writes attachment data in prompt_json as this
MAX_CONVERSATIONS = 50_000  # conversations whose history is kept while reading (the oldest are forgotten)


def sniff(obj: dict[str, Any]) -> bool:
    return "prompt" in obj and "response" in obj and "datetime_utc" in obj


def _attachment_part(att: dict[str, Any]) -> Message | None:
    """An llm attachment as a chat content part, as llm's OpenAI plugin sends it; None when the log holds
    neither its content nor a URL (llm stores a local file's path only)."""
    mime = str(att.get("type") or "application/octet-stream")
    url = att.get("url")
    content = att.get("content")
    if not _usable(content):
        content = None  # a damaged row (a number where the bytes were): never bytes(n), which allocates n
    if not url and not content:
        return None
    if not url or mime.startswith("audio/"):
        import base64

        data = content if isinstance(content, str) else base64.b64encode(bytes(content or b"")).decode()
        url = f"data:{mime};base64,{data}"
    if mime == "application/pdf":
        return {"type": "file", "file": {"file_data": url}}
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": url}}
    return {"type": "input_audio", "input_audio": {"data": url.partition(",")[2],
                                                   "format": "wav" if mime == "audio/wav" else "mp3"}}


def _usable(content: Any) -> bool:
    return content is None or isinstance(content, (str, bytes, bytearray, memoryview))


def _no_attachment(atts: list[dict[str, Any]]) -> str:
    where = ", ".join(str(a.get("path") or a.get("id")) for a in atts)
    if not all(_usable(a.get("content")) for a in atts):
        return f"attachment {where} has content that is neither bytes nor text (a damaged row)"
    return f"attachment {where} is not in the log (llm stores a local file's path, not its content)"


class Conversations:
    """Per conversation, the messages of its entries so far: a follow-up logged without the messages sent
    (`llm logs --json` of llm 0.36, responses of plugins that write no prompt_json) gets them from here."""

    def __init__(self) -> None:
        # conversation id -> (its messages so far, the system prompt now, last entry's time, why not replayable)
        self.turns: dict[str, tuple[list[Message], str | None, str, str | None]] = {}
        self.forgotten: set[str] = set()

    def history(self, cid: str | None, when: str) -> tuple[list[Message], str | None, str | None]:
        """(earlier messages, current system prompt, why they cannot be replayed) for an entry of `cid`."""
        if not cid or cid not in self.turns:
            return [], None, "its conversation's earlier entries were forgotten" if cid in self.forgotten else None
        messages, system, last, why = self.turns[cid]
        if when and last and when < last:
            return [], None, "logged before an earlier-read entry of its conversation (history out of order)"
        return list(messages), system, f"an earlier turn of its conversation: {why}" if why else None

    def add(self, cid: str | None, messages: list[Message], system: str | None, when: str, why: str | None) -> None:
        if not cid:
            return
        self.turns.pop(cid, None)
        self.turns[cid] = (messages, system, when, why.removeprefix("an earlier turn of its conversation: ")
                           if why else None)
        if len(self.turns) > MAX_CONVERSATIONS:
            oldest = next(iter(self.turns))
            del self.turns[oldest]
            self.forgotten.add(oldest)


def _turn_input(obj: dict[str, Any], system: str | None) -> tuple[list[Message], str | None, str | None]:
    """(this entry's new messages, the system prompt now, why not replayable) as llm sends them."""
    out: list[Message] = []
    why = None
    if isinstance(obj.get("system"), str) and obj["system"] and obj["system"] != system:
        system = obj["system"]
        out.append({"role": "system", "content": system})
    for res in obj.get("tool_results") or ():
        if isinstance(res, dict):
            out.append({"role": "tool", "tool_call_id": str(res.get("tool_call_id") or ""),
                        "content": str(res.get("output") or "")})
    prompt = obj.get("prompt")
    atts = [a for a in obj.get("attachments") or () if isinstance(a, dict)]
    parts = [_attachment_part(a) for a in atts]
    if any(p is None for p in parts):
        why = _no_attachment([a for a, p in zip(atts, parts, strict=True) if p is None])
    if atts:
        content: list[Message] = [{"type": "text", "text": prompt}] if prompt else []
        out.append({"role": "user", "content": content + [p for p in parts if p]})
    elif isinstance(prompt, str) and prompt:
        out.append({"role": "user", "content": prompt})
    return out, system, why


def _answer(obj: dict[str, Any]) -> tuple[str | None, tuple[Message, ...]]:
    calls = tuple(tool_call(c.get("tool_call_id"), c.get("name"), maybe_json(c.get("arguments")))
                  for c in obj.get("tool_calls") or () if isinstance(c, dict))
    text = obj.get("response")
    text = text if isinstance(text, str) else None
    return (text or None) if calls else text, calls


def _params(obj: dict[str, Any]) -> dict[str, Any]:
    """llm's options and schema and tools as the OpenAI plugin sends them."""
    options = as_dict(obj.get("options_json"), "options_json")
    params = params_of(options)
    if options.get("json_object"):
        params["response_format"] = {"type": "json_object"}
    schema = maybe_json(obj.get("schema_json"))
    if isinstance(schema, dict):
        params["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    tools = [{"type": "function", "function": {"name": t.get("name"), "description": t.get("description") or None,
                                               "parameters": maybe_json(t.get("input_schema"))}}
             for t in obj.get("tools") or () if isinstance(t, dict)]
    if tools:
        params["tools"] = tools
    return params


def _tokens(obj: dict[str, Any]) -> dict[str, Any]:
    details = as_dict(obj.get("token_details"), "token_details")
    prompt = as_dict(details.get("prompt_tokens_details"), "token_details.prompt_tokens_details")
    output = as_dict(details.get("completion_tokens_details"), "token_details.completion_tokens_details")
    return {"input_tokens": to_int(obj.get("input_tokens"), "input_tokens"),
            "output_tokens": to_int(obj.get("output_tokens"), "output_tokens"),
            "cached_tokens": to_int(prompt.get("cached_tokens", details.get("cached_tokens")), "cached_tokens"),
            "reasoning_tokens": to_int(output.get("reasoning_tokens"), "reasoning_tokens")}


class Parser:
    """Parses one file's entries in order, remembering conversations for follow-ups (Format.session)."""

    def __init__(self) -> None:
        self.conversations = Conversations()

    def __call__(self, obj: dict[str, Any], source: str, group_by: str) -> Request:
        model = need_str(obj, "model")
        if obj.get("prompt") is not None and not isinstance(obj.get("prompt"), str):
            raise BadRecord(f"'prompt' must be text, got {type(obj['prompt']).__name__}")
        cid = obj.get("conversation_id") or None
        when = str(obj.get("datetime_utc") or "")
        earlier, system, why = self.conversations.history(cid, when)
        new, system, att_why = _turn_input(obj, system)
        sent = as_dict(obj.get("prompt_json"), "prompt_json").get("messages")
        if isinstance(sent, list) and sent:  # the messages llm sent: no history to rebuild
            messages, why = sent, obj.get("_unreplayable") or (
                _no_attachment([a for a in obj.get("attachments") or () if isinstance(a, dict)] or [{}])
                if ELIDED in json.dumps(sent) else None)
        else:
            messages, why = earlier + new, why or att_why
            if obj.get("prompt_fragments") or obj.get("system_fragments"):
                why = why or "uses llm fragments, whose text the entry does not hold"
        text, calls = _answer(obj)
        answer: Message = {"role": "assistant", "content": text or None}
        if calls:
            answer["tool_calls"] = list(calls)
        self.conversations.add(cid, [*messages, answer], system, when, why)
        response = as_dict(obj.get("response_json"), "response_json")
        duration = to_float(obj.get("duration_ms"), "duration_ms")
        task, how = task_from((), {}, obj, group_by)
        return Request(
            id=str(obj.get("id") or source), source=source,
            model=str(obj.get("resolved_model") or response.get("model") or model), requested_model=model,
            messages=tuple(m for m in messages if isinstance(m, dict)), params=_params(obj), output=text,
            output_tool_calls=calls, finish_reason=response.get("finish_reason"), task=task, task_source=how,
            time=to_time(obj.get("datetime_utc")), latency_s=duration / 1000 if duration is not None else None,
            trace_id=cid, unreplayable=why, **_tokens(obj),
        )


# --- logs.db -------------------------------------------------------------------------------------------------

def _each(con: sqlite3.Connection, sql: str, *args: Any) -> Iterator[dict[str, Any]]:
    cur = con.execute(sql, args)
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


def _rows(con: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    return list(_each(con, sql, *args))


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def _schema(con: sqlite3.Connection, schema_id: Any) -> Any:
    if not schema_id:
        return None
    row = con.execute("SELECT content FROM schemas WHERE id = ?", (schema_id,)).fetchone()
    return maybe_json(row[0]) if row else None


JOINED = {  # what `llm logs --json` joins to a responses row, by the tables it needs
    "tools": (("tool_responses", "tools"), "SELECT t.name, t.description, t.input_schema FROM tool_responses tr "
                                           "JOIN tools t ON t.id = tr.tool_id WHERE tr.response_id = ?"),
    "tool_calls": (("tool_calls",), "SELECT name, arguments, tool_call_id FROM tool_calls WHERE response_id = ?"),
    "tool_results": (("tool_results",), "SELECT name, output, tool_call_id FROM tool_results WHERE response_id = ?"),
    "attachments": (("prompt_attachments", "attachments"),
                    "SELECT a.id, a.type, a.path, a.url, a.content FROM prompt_attachments pa JOIN attachments a "
                    'ON a.id = pa.attachment_id WHERE pa.response_id = ? ORDER BY pa."order"'),
}


def _response_entry(con: sqlite3.Connection, row: dict[str, Any], tables: set[str]) -> dict[str, Any]:
    """A `responses` row with what `llm logs --json` joins to it (tools, tool calls and results, files)."""
    joined = {key: _rows(con, sql, row["id"]) if set(needs) <= tables else []
              for key, (needs, sql) in JOINED.items()}
    return {**row, "prompt_json": maybe_json(row.get("prompt_json")),
            "schema_json": _schema(con, row.get("schema_id")) if "schemas" in tables else None, **joined}


def _chain(con: sqlite3.Connection, tip: Any) -> list[dict[str, Any]]:
    """The messages from the root to `tip` (walking `parent_hash`), each with its parts in order."""
    chain: list[dict[str, Any]] = []
    seen = set()
    while tip:
        if tip in seen:
            raise BadRecord(f"the message chain loops at {tip}")
        seen.add(tip)
        row = con.execute("SELECT parent_hash, role FROM messages WHERE hash = ?", (tip,)).fetchone()
        if row is None:
            raise BadRecord(f"message {tip} is not in the messages table")
        chain.append({"hash": tip, "role": row[1],
                      "parts": _rows(con, "SELECT id, type, text, payload FROM parts WHERE message_hash = ? "
                                          "ORDER BY position", tip)})
        tip = row[0]
    return chain[::-1]


def _attachment(con: sqlite3.Connection, part: dict[str, Any]) -> dict[str, Any] | None:
    payload = as_dict(part.get("payload"), "parts.payload")
    aid = as_dict(payload.get("attachment"), "parts.payload.attachment").get("id")
    rows = _rows(con, "SELECT id, type, path, url, content FROM attachments WHERE id = ?", aid) if aid else []
    return rows[0] if rows else None


def _chat_messages(con: sqlite3.Connection, chain: list[dict[str, Any]]) -> tuple[list[Message], str | None]:
    """Store messages in chat form, as llm's OpenAI plugin sends them (system deduplicated), and why not
    replayable."""
    out: list[Message] = []
    system = why = None
    for msg in chain:
        texts, atts, calls, results = [], [], [], []
        for part in msg["parts"]:
            payload = as_dict(part.get("payload"), "parts.payload")
            if part["type"] == "text":
                texts.append(part.get("text") or "")
            elif part["type"] == "attachment":
                att = _attachment(con, part)
                item = _attachment_part(att) if att else None
                if item is None:
                    why = why or _no_attachment([att or {"id": "?"}])
                else:
                    atts.append(item)
            elif part["type"] == "tool_call":
                calls.append(tool_call(payload.get("tool_call_id"), payload.get("name"), payload.get("arguments")))
            elif part["type"] == "tool_result":
                results.append({"role": "tool", "tool_call_id": str(payload.get("tool_call_id") or ""),
                                "content": str(payload.get("output") or "")})
        role, text = msg["role"], "".join(texts)
        if role == "tool":
            out += results
            continue
        if role == "system":
            if text == system:
                continue
            system = text
        entry: Message = {"role": role, "content": ([{"type": "text", "text": text}] if texts else []) + atts
                          if atts else (text if texts else None)}
        if calls:
            entry["tool_calls"] = calls
        if entry["content"] is not None or calls or role == "assistant":
            out.append(entry)
    return out, why


def _turn_entry(con: sqlite3.Connection, row: dict[str, Any], legacy: bool) -> dict[str, Any]:
    """A `turns` row in `llm logs --json`'s shape, with the messages sent (`prompt_json`) rebuilt from the store."""
    chain = _chain(con, row.get("tip_message_hash"))
    hashes = [m["hash"] for m in chain]
    if row.get("parent_message_hash") not in hashes:
        raise BadRecord("its parent_message_hash is not on the chain to its tip_message_hash")
    cut = hashes.index(row["parent_message_hash"]) + 1
    sent, why = _chat_messages(con, chain[:cut])
    answer, _ = _chat_messages(con, chain[cut:])
    text = "".join(str(m.get("content") or "") for m in answer if isinstance(m.get("content"), str)) or ""
    calls = [c for m in answer for c in m.get("tool_calls") or ()]
    if legacy and not why and con.execute(
            "SELECT 1 FROM responses r JOIN prompt_attachments pa ON pa.response_id = r.id "
            "WHERE r.conversation_id = ? LIMIT 1", (row.get("thread_id"),)).fetchone():
        why = ("continues an llm 0.31 conversation whose attachment the upgrade did not copy into the message "
               "store")
    return {"id": row["id"], "model": row.get("model"), "resolved_model": row.get("resolved_model"),
            "prompt": None, "system": None, "prompt_json": {"messages": sent}, "response": text,
            "options_json": row.get("options_json"), "schema_json": _schema(con, row.get("schema_id")),
            "response_json": row.get("response_json"), "conversation_id": row.get("thread_id"),
            "duration_ms": row.get("duration_ms"), "datetime_utc": row.get("datetime_utc"),
            "input_tokens": row.get("input_tokens"), "output_tokens": row.get("output_tokens"),
            "token_details": row.get("token_details"),
            "tools": _rows(con, "SELECT t.name, t.description, t.input_schema FROM turn_tools tt "
                                "JOIN tools t ON t.id = tt.tool_id WHERE tt.turn_id = ?", row["id"]),
            "tool_calls": [{"tool_call_id": c["id"], "name": c["function"]["name"],
                            "arguments": c["function"]["arguments"]} for c in calls],
            "_unreplayable": why}


def db_units(path: Path) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(source, entry, None) for each call in llm's logs.db: `responses` rows, then `turns` rows (llm >= 0.32),
    each joined to what `llm logs --json` shows with it. Streamed row by row."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = _tables(con)
    except sqlite3.DatabaseError as e:
        raise InputError(f"{path}: not a readable SQLite file ({e}); expected llm's logs.db") from None
    if not {"responses", "turns"} & tables:
        con.close()
        raise InputError(f"{path}: SQLite file without llm's `responses` or `turns` table (tables: "
                         f"{', '.join(sorted(tables)) or 'none'}); expected llm's logs.db")
    with closing(con):
        try:
            yield from _db_entries(path, con, tables)
        except sqlite3.DatabaseError as e:
            raise InputError(f"{path}: damaged llm logs.db ({e})") from None


def _db_entries(path: Path, con: sqlite3.Connection, tables: set[str]
                ) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    legacy = "responses" in tables and bool(con.execute("SELECT 1 FROM responses LIMIT 1").fetchone())
    for table in ("responses", "turns"):
        if table not in tables:
            continue
        for row in _each(con, f"SELECT rowid AS _rowid, * FROM {table} ORDER BY rowid"):
            source = f"{path}:{table} row {row.pop('_rowid')}"
            try:
                entry = _response_entry(con, row, tables) if table == "responses" else _turn_entry(con, row, legacy)
            except (BadRecord, sqlite3.Error, ValueError, TypeError, KeyError) as e:
                yield source, None, f"llm {table} row that cannot be joined to its parts ({e})"
                continue
            yield source, entry, None


def parse(obj: dict[str, Any], source: str, group_by: str) -> Request:
    """One entry on its own (no conversation remembered); the reader uses a `Parser` per file."""
    return Parser()(obj, source, group_by)
