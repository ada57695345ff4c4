"""Real-shape LiteLLM spend rows for the benchmarks, generated from the rows the litellm 1.110.2 proxy itself wrote
(tests/fixtures/producers/litellm_spend_logs.jsonl): the same 36 `LiteLLM_SpendLogs` columns, JSON columns as
JSON text (~21 KB a row: `metadata` ~12 KB with the price-map entry, `proxy_server_request` ~7.5 KB with the
request headers twice), with ids, times, models, tokens, cost, prompts and task channels varied.

Task channels, as a LiteLLM user sets them: 45% a client tag `task:NAME` (LiteLLM puts it first in
`request_tags`), 35% only `metadata.task` in the request body (`proxy_server_request.metadata.task`), 20% no
task key (a prompt template per task, left to inference); 10% of rows were logged without their prompt
(`proxy_server_request` "{}") and 3% are provider failures (`status` "failure", `response` "{}").
"""

from __future__ import annotations

import copy
import random
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

FIXTURE = Path(__file__).resolve().parent.parent / "tests/fixtures/producers/litellm_spend_logs.jsonl"
NOT_COLUMNS = ("accounting_payload", "accounting_delivery_id", "accounting_log_disabled")  # the DB writer drops them
TASKS = {
    "ticket-triage": ("Classify the support ticket into one of: billing, bug, feature-request, account. Answer "
                      "with the label only.", "Ticket {n}: {who} reports that the {thing} stopped after {d} days"),
    "order-extract": ("Extract the order as JSON with keys id, items and total.", "{who} ordered {d} x {thing} "
                      "for ${n}.00, please ship to {who} street {d}"),
    "summarize": ("You summarise news for a busy reader.", "Summarize: the council met on day {d} and {who} "
                  "proposed {n} new {thing}s"),
    "translate": ("Translate the user's text into French.", "{who} left the {thing} at the station {d} times, "
                  "ticket {n}"),
    "math": ("Solve the problem step by step and end with the number.", "{who} has {n} {thing}s and buys {d} "
             "more. How many now?"),
    "support": ("You are the support assistant of Acme Corp. Answer politely and cite the policy section.",
                "My {thing} order {n} arrived broken after {d} days, what can {who} do?"),
}
WHO = ["Alice", "Bob", "Chandra", "Dmitri", "Eve", "Fatima"]
THINGS = ["printer", "laptop", "kettle", "bicycle", "phone"]
DEPLOYMENTS = [("openai/gpt-4o", "app-llm", ["tier-large"], 2.5e-6, 1e-5),
               ("openai/gpt-4o-mini", "app-llm", ["tier-small", "default"], 1.5e-7, 6e-7),
               ("openai/o4-mini", "reasoner", ["default"], 1.1e-6, 4.4e-6)]
USER_AGENT = ["User-Agent: OpenAI", "User-Agent: OpenAI/Python 3.57.0"]
T0 = 1796126274 - 31 * 86400  # the month before 2026-12-01, the fixture's day (times must not lie ahead: check_ranges)


class _Template:
    """A JSON document with holes: dumped once, each hole filled with a value's JSON text per row (fast)."""

    def __init__(self, doc: Any) -> None:
        text = orjson.dumps(doc).decode()
        self.parts = re.split(r'"@(\w+)@"', text)  # even items: text; odd: hole names

    def fill(self, **values: Any) -> str:
        out = list(self.parts)
        for k in range(1, len(out), 2):
            out[k] = orjson.dumps(values[out[k]]).decode()
        return "".join(out)


def _holes(doc: Any, **holes: str) -> Any:
    """A copy of `doc` with the values at these dotted paths replaced by hole markers."""
    doc = copy.deepcopy(doc)
    for name, path in holes.items():
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = f"@{name}@"
    return doc


def _templates() -> dict[str, Any]:
    """The fixture's first row (a success) and its 19th (a provider failure), with holes for what varies."""
    lines = FIXTURE.read_bytes().splitlines()
    ok, failed = orjson.loads(lines[0]), orjson.loads(lines[18])
    for key in NOT_COLUMNS:
        ok.pop(key, None)
    meta = orjson.loads(ok["metadata"])
    psr = orjson.loads(ok["proxy_server_request"])
    psr["metadata"]["requester_metadata"].pop("task")
    untasked = _holes(psr, model="model", messages="messages", tags="metadata.tags", call="litellm_call_id",
                      rtags="metadata.requester_metadata.tags", ctags="metadata.caller_tags")
    del untasked["metadata"]["task"]
    psr["metadata"]["requester_metadata"]["task"] = "@task@"
    resp = orjson.loads(ok["response"])
    return {
        "row": ok,
        "meta": _Template(_holes(meta, pt="usage_object.prompt_tokens", ct="usage_object.completion_tokens",
                                 tt="usage_object.total_tokens", c1="usage_object.prompt_tokens_details.cached_tokens",
                                 c2="additional_usage_values.prompt_tokens_details.cached_tokens",
                                 call="litellm_call_id", cost="cost_breakdown.total_cost")),
        "failed_meta": _Template(_holes(orjson.loads(failed["metadata"]), call="litellm_call_id")),
        "psr_task": _Template(_holes(psr, model="model", messages="messages", tags="metadata.tags",
                                     task="metadata.task", call="litellm_call_id",
                                     rtags="metadata.requester_metadata.tags", ctags="metadata.caller_tags")),
        "psr": _Template(untasked),
        "resp": _Template(_holes(resp, id="id", created="created", model="model",
                                 content="choices.0.message.content", pt="usage.prompt_tokens",
                                 ct="usage.completion_tokens", tt="usage.total_tokens")),
    }


def _iso(t: float, sep: str = "T") -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(sep=sep)


def rows(n: int, seed: int = 0, start: int = 0) -> Iterator[dict[str, Any]]:
    """`n` spend rows (dicts keyed by column, JSON columns as JSON text), the same for the same seed."""
    rng = random.Random(seed * 1_000_003 + start)
    tpl = _templates()
    names = list(TASKS)
    span = 30 * 86400 / max(n, 1)
    for i in range(start, start + n):
        task = names[i % len(names)]
        model, group, dep_tags, pin, pout = DEPLOYMENTS[rng.randrange(3)]
        channel = rng.random()
        client_tags = [f"team-{rng.choice('abc')}"]
        if channel < 0.45:
            client_tags.insert(0, f"task:{task}")
        system, user = TASKS[task]
        text = user.format(n=rng.randint(1, 99999), who=rng.choice(WHO), thing=rng.choice(THINGS), d=rng.randint(1, 30))
        pt, ct = rng.randint(30, 1500), rng.randint(1, 400)
        cached = rng.choice([0, 0, 0, 1024]) if pt > 1100 else 0
        failed = rng.random() < 0.03
        start_t = T0 + i * span + rng.random()
        end_t = start_t + rng.uniform(0.2, 4.0)
        call_id = f"{rng.getrandbits(128):032x}"
        spend = 0.0 if failed else round((pt - cached) * pin + cached * pin / 2 + ct * pout, 10)
        if failed:
            meta, resp, ct = tpl["failed_meta"].fill(call=call_id), "{}", 0
        else:
            meta = tpl["meta"].fill(pt=pt, ct=ct, tt=pt + ct, c1=cached, c2=cached, call=call_id, cost=spend)
            resp = tpl["resp"].fill(id=f"chatcmpl-{i}", created=int(start_t), model=group, content=f"answer {i % 97}",
                                    pt=pt, ct=ct, tt=pt + ct)
        psr = "{}"
        if rng.random() >= 0.10:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
            holes = {"model": group, "messages": messages, "tags": client_tags, "rtags": client_tags,
                     "ctags": client_tags, "call": call_id}
            psr = (tpl["psr_task"].fill(task=task, **holes) if 0.45 <= channel < 0.80 else tpl["psr"].fill(**holes))
        row = dict(tpl["row"])
        row.update(
            request_id=f"chatcmpl-{i:09d}" if not failed else str(uuid.UUID(call_id)), startTime=_iso(start_t),
            endTime=_iso(end_t), completionStartTime=_iso(end_t, " "), model=model, model_group=group,
            model_id=f"{group}-{model[7:]}", spend=spend, prompt_tokens=pt, completion_tokens=ct,
            total_tokens=pt + ct, request_tags=orjson.dumps(client_tags + dep_tags + USER_AGENT).decode(),
            metadata=meta, proxy_server_request=psr, response=resp, status="failure" if failed else "success",
            litellm_call_id=call_id, session_id=f"{rng.getrandbits(64):016x}",
            request_duration_ms=int((end_t - start_t) * 1000))
        yield row


def write_jsonl(path: Path, n: int, seed: int = 0) -> Path:
    with path.open("wb") as fh:
        for row in rows(n, seed):
            fh.write(orjson.dumps(row) + b"\n")
    return path
