"""`tiertool inspect`: what the logs hold before any model is called — formats, records, skipped lines and why,
replayable share, task types and how they were typed, tokens, current spend, time span and models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import Tier
from ..ingest import scan
from ..pricing.savings import Pricer
from ..records import TASK_SOURCES, Key, Usage
from ..replay import carry_check
from ..text import printable


def inspect(paths: Sequence[str | Path], fmt: str | None = None, group_by: str | None = None,
            mapping: str | None = None, semantic: bool = False, requests: str | Path | None = None,
            tiers: Sequence[Tier] = (), steps: bool = False, engine: str | None = None, since: str | None = None,
            until: str | None = None) -> dict[str, Any]:
    """Read the logs once (ingest's one pass, as the audit reads them) and summarise them; `requests`: also
    write how each request was typed to that CSV file; `tiers`: also count the requests litellm cannot send
    to one of them as logged (as the audit counts them); `steps`: type agent steps apart."""
    check = carry_check(tiers) if tiers else None
    traffic = scan(paths, fmt, group_by, mapping, semantic=semantic, listing=requests, check=check, steps=steps,
                   engine=engine, since=since, until=until)
    st = traffic.stats
    n = st.records or 1
    task_rows = []
    for name, t in traffic.tasks.items():
        row: dict[str, Any] = {"task": name, "requests": t.requests, "share": t.requests / n,
                               "replayable": t.replayable, "typed_by": t.typed_by}
        group = traffic.groups.get(name)
        if group is not None:
            row.update(similarity_mean=round(group.similarity_mean, 3), similarity_min=round(group.similarity_min, 3),
                       inferred_by=group.how, template=group.fixed)
        task_rows.append(row)
    volume = traffic.volume.values()
    models: dict[str, int] = {}
    for key, u in traffic.volume.items():
        models[key.model] = models.get(key.model, 0) + u.requests
    replayable = sum(t.replayable for t in traffic.tasks.values())
    first, last = traffic.first_time, traffic.last_time
    return {
        "files": [{"file": str(p), "format": st.formats.get(str(p))} for p in traffic.paths],
        "lines": st.lines, "records": st.records, "skipped": st.skipped, "joined": st.joined,
        "skip_reasons": [{"reason": reason, "count": count,
                          "examples": [s.source for s in st.examples if s.reason == reason]}
                         for reason, count in st.reasons.most_common()],
        "notes": st.notes,
        "replayable": replayable, "replayable_share": replayable / n if st.records else 0.0,
        "not_replayable": [{"reason": why, "count": count} for why, count in st.not_replayable.most_common()],
        "typing": [{"source": s, "how": words, "requests": st.typing[s], "share": st.typing[s] / n}
                   for s, words in TASK_SOURCES.items() if st.typing.get(s)],
        "tasks": task_rows,
        "tokens": {"input": sum(u.input_tokens for u in volume), "output": sum(u.output_tokens for u in volume),
                   "cached": sum(u.cached_tokens for u in volume),
                   "reasoning": sum(u.reasoning_tokens for u in volume)},
        "spend": _spend(traffic.volume),
        "time": {"first": first, "last": last,
                 "days": (last - first) / 86400 if first is not None and last is not None else None},
        "models": [{"model": k, "requests": v} for k, v in sorted(models.items(), key=lambda kv: -kv[1])],
    }


def _spend(volume: dict[Key, Usage]) -> dict[str, Any]:
    """Today's spend as the savings price it (pricing.savings.Pricer): the logged cost where the log recorded one
    for every request of a group, else the price map's (batch prices for batch requests); says which, and what
    could not be priced."""
    pricer = Pricer()
    logged = computed = 0.0
    logged_n = computed_n = 0
    for key, u in volume.items():
        if u.logged_cost_n < u.requests and not (u.input_tokens or u.output_tokens):
            continue  # nothing to price (failed requests log no tokens)
        now = pricer.current(key, u)
        if now is None:
            continue
        if now[1] == "logged cost":
            logged, logged_n = logged + now[0], logged_n + u.requests
        else:
            computed, computed_n = computed + now[0], computed_n + u.requests
    return {"logged_usd": logged, "logged_requests": logged_n, "computed_usd": computed,
            "computed_requests": computed_n, "total_usd": logged + computed, "unpriced_models": sorted(pricer.unpriced)}


def _usd(x: float) -> str:
    return f"${x:,.2f}" if x >= 1 or x == 0 else f"${x:.6f}"


def render_inspection(s: dict[str, Any], max_tasks: int = 30) -> str:
    """The summary for a terminal. Everything named by the log (files, task types, models, skip reasons) goes
    through `printable`, so an escape sequence in a log shows as text instead of acting on the terminal."""
    p = printable
    out = []
    for f in s["files"]:
        out.append(f"{p(f['file'])}: {p(f['format'] or 'no readable records')}")
    out.append(f"lines {s['lines']:,}  records {s['records']:,}  skipped {s['skipped']:,}"
               + (f"  (+{s['joined']:,} batch results joined to their requests)" if s["joined"] else ""))
    for r in s["skip_reasons"]:
        more = r["count"] - len(r["examples"])
        out.append(f"  skipped {r['count']:,} x {p(r['reason'])}: {p(', '.join(r['examples']))}"
                   + (f" and {more:,} more" if more > 0 else ""))
    out += [f"  note: {p(n)}" for n in s["notes"]]
    out.append(f"replayable {s['replayable']:,} of {s['records']:,} ({s['replayable_share']:.1%}); the rest count "
               f"for volume only:" if s["not_replayable"] else
               f"replayable {s['replayable']:,} of {s['records']:,} ({s['replayable_share']:.1%})")
    out += [f"  not replayable {r['count']:,} x {p(r['reason'])}" for r in s["not_replayable"][:10]]
    out.append("task typing: " + ", ".join(f"{t['how']} {t['share']:.1%}" for t in s["typing"]))
    out.append(f"task types ({len(s['tasks'])}):")
    for t in s["tasks"][:max_tasks]:
        tight = (f"  similarity mean {t['similarity_mean']:.2f} min {t['similarity_min']:.2f}"
                 if "similarity_mean" in t else "")
        out.append(f"  {p(t['task']):<40} {t['requests']:>10,} {t['share']:>7.1%}  [{t['typed_by']}]{tight}")
    if len(s["tasks"]) > max_tasks:
        out.append(f"  ... {len(s['tasks']) - max_tasks} more (see --json)")
    tk = s["tokens"]
    out.append(f"tokens: input {tk['input']:,} (cached {tk['cached']:,}), output {tk['output']:,} "
               f"(reasoning {tk['reasoning']:,})")
    sp = s["spend"]
    out.append(f"spend: {_usd(sp['total_usd'])} = logged {_usd(sp['logged_usd'])} ({sp['logged_requests']:,} "
               f"requests) + computed from litellm's price map {_usd(sp['computed_usd'])} "
               f"({sp['computed_requests']:,})"
               + (f"; unpriced models: {p(', '.join(sp['unpriced_models']))}" if sp["unpriced_models"] else ""))
    tm = s["time"]
    if tm["first"] is not None:
        from datetime import datetime, timezone

        iso = [datetime.fromtimestamp(x, timezone.utc).strftime("%Y-%m-%d %H:%M") for x in (tm["first"], tm["last"])]
        out.append(f"time span: {iso[0]} .. {iso[1]} UTC ({tm['days']:.1f} days)")
    out.append("models: " + ", ".join(f"{p(m['model'])} ({m['requests']:,})" for m in s["models"][:12])
               + (f", ... {len(s['models']) - 12} more" if len(s["models"]) > 12 else ""))
    return "\n".join(out) + "\n"
