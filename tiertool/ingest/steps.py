"""Agent steps as task types of their own (config `agent_steps: true`).

An agent's calls share their system prompt and first user message, so whatever types them (a task key, the trace
name, or the template tasktype.py infers from exactly those parts of the prompt) puts the first step, which
picks a tool, and the step that writes the answer from the tool's result into one task type, though a small
model may do one well and not the other. So a step of an agent trace (a request with a trace or session id, or
one that offers tools or whose history holds tool turns) is typed `<task> › <step>`, the step read from where
its logged history ends:

* `first`: no assistant turn yet (the step that answers the user's request, usually by choosing tools);
* `after <tool>[+<tool>]`: the history ends with the results of these tools (the step that reads them);
* `follow-up`: the history has assistant turns and ends with a user turn.

Each step is replayed with the history the log holds for it; tools are never executed (the answer to score is
the step's own next message: text or tool calls).
"""

from __future__ import annotations

from dataclasses import replace

from ..records import Message, Request

SEP = " › "


def step(req: Request) -> str | None:
    """The step kind of an agent request, or None for a request that is not an agent step."""
    msgs = req.messages
    agent = req.trace_id or req.session_id or req.params.get("tools") or any(
        m.get("role") == "tool" or m.get("tool_calls") for m in msgs)
    if not agent or not msgs:
        return None
    if msgs[-1].get("role") == "tool":
        return "after " + "+".join(sorted(_results(msgs)))
    return "follow-up" if any(m.get("role") == "assistant" for m in msgs) else "first"


def _results(msgs: tuple[Message, ...]) -> set[str]:
    """Names of the tools whose results end the history (matched to the calls by id; `tool` when unnamed)."""
    names = {c.get("id"): (c.get("function") or {}).get("name") for m in msgs for c in m.get("tool_calls") or ()
             if isinstance(c, dict)}
    out: set[str] = set()
    for m in reversed(msgs):
        if m.get("role") != "tool":
            break
        out.add(str(m.get("name") or names.get(m.get("tool_call_id")) or "tool"))
    return out


def by_step(req: Request) -> Request:
    """The request typed by its agent step (unchanged when it is not one)."""
    kind = step(req)
    return req if kind is None else replace(req, task=f"{req.task}{SEP}{kind}")


def renamed(renames: dict[str, str], tasks: set[str]) -> dict[str, str]:
    """Inferred task types are renamed once the log is read (reader.renames); their steps follow them."""
    out = dict(renames)
    for task in tasks:
        base, sep, kind = task.partition(SEP)
        if sep and base in renames:
            out[task] = f"{renames[base]}{SEP}{kind}"
    return out
