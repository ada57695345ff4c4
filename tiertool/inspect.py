"""`tiertool inspect`: what the logs hold before any model is called — formats, records, skipped lines and why,
replayable share, task types and how they were typed, tokens, current spend, time span and models."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .ingest import read_logs
from .prices import lookup
from .records import Request

TYPING_ORDER = ("group_by", "tag", "column", "name", "metadata", "inferred", "none")
TYPING_WORDS = {"group_by": "--group-by path", "tag": "task tag or property", "column": "mapped task column",
                "name": "trace / workflow name", "metadata": "metadata.task", "inferred": "inferred from template",
                "none": "untyped"}


@dataclass
class _Model:
    requests: int = 0
    input: int = 0
    output: int = 0
    cached: int = 0
    logged_usd: float = 0.0
    logged_n: int = 0
    unlogged_in: int = 0
    unlogged_out: int = 0
    unlogged_cached: int = 0

    def add(self, r: Request) -> None:
        self.requests += 1
        self.input += r.input_tokens
        self.output += r.output_tokens
        self.cached += r.cached_tokens
        if r.cost is not None:
            self.logged_usd += r.cost
            self.logged_n += 1
        else:
            self.unlogged_in += r.input_tokens
            self.unlogged_out += r.output_tokens
            self.unlogged_cached += r.cached_tokens


def inspect_logs(paths: list[str | Path], fmt: str | None = None, group_by: str | None = None,
                 mapping: str | None = None, semantic: bool = False) -> dict[str, Any]:
    """Read the logs once, streaming, and summarise them (memory: per task and per model aggregates)."""
    reader = read_logs(paths, fmt, group_by, mapping, semantic=semantic)
    tasks: dict[str, list[Any]] = {}  # task -> [requests, replayable, source]
    models: dict[str, _Model] = defaultdict(_Model)
    replayable = reasoning = 0
    first = last = None
    for r in reader:
        t = tasks.get(r.task)
        if t is None:
            t = tasks[r.task] = [0, 0, r.task_source]
        t[0] += 1
        ok = r.replayable
        t[1] += ok
        replayable += ok
        reasoning += r.reasoning_tokens
        models[r.model].add(r)
        if r.time is not None:
            first = r.time if first is None or r.time < first else first
            last = r.time if last is None or r.time > last else last
    st = reader.stats
    for old, new in reader.renames.items():  # inferred groups: final names, or untagged when too small
        count, rep, source = tasks.pop(old)
        t = tasks.setdefault(new, [0, 0, "none" if new == "untagged" else source])
        t[0] += count
        t[1] += rep
    groups = {g.name: g for g in reader.typer.kept()} if reader.typer else {}
    n = st.records or 1
    task_rows = []
    for name, (count, rep, source) in sorted(tasks.items(), key=lambda kv: (-kv[1][0], kv[0])):
        row = {"task": name, "requests": count, "share": count / n, "replayable": rep, "typed_by": source}
        if name in groups:
            g = groups[name]
            row.update(similarity_mean=round(g.similarity_mean, 3), similarity_min=round(g.similarity_min, 3),
                       inferred_by=g.how, template=g.fixed)
        task_rows.append(row)
    return {
        "files": [{"file": str(p), "format": st.formats.get(str(p))} for p in reader.paths],
        "lines": st.lines, "records": st.records, "skipped": st.skipped, "joined": st.joined,
        "skip_reasons": [{"reason": reason, "count": count,
                          "examples": [s.source for s in st.examples if s.reason == reason]}
                         for reason, count in st.reasons.most_common()],
        "notes": st.notes,
        "replayable": replayable, "replayable_share": replayable / n if st.records else 0.0,
        "typing": [{"source": s, "how": TYPING_WORDS.get(s, s), "requests": st.typing[s],
                    "share": st.typing[s] / n} for s in TYPING_ORDER if st.typing.get(s)],
        "tasks": task_rows,
        "tokens": {"input": sum(m.input for m in models.values()), "output": sum(m.output for m in models.values()),
                   "cached": sum(m.cached for m in models.values()), "reasoning": reasoning},
        "spend": _spend(models),
        "time": {"first": first, "last": last, "days": (last - first) / 86400 if first is not None else None},
        "models": [{"model": k, "requests": m.requests} for k, m in
                   sorted(models.items(), key=lambda kv: -kv[1].requests)],
    }


def _spend(models: dict[str, _Model]) -> dict[str, Any]:
    """Logged cost where the log has one, else litellm's price map; says which and what could not be priced."""
    computed, computed_n, unpriced = 0.0, 0, []
    for name, m in models.items():
        unlogged = m.requests - m.logged_n
        if not unlogged or not (m.unlogged_in or m.unlogged_out):
            continue  # nothing to price (failed requests log no tokens)
        price = lookup(name)
        if price is None:
            unpriced.append(name)
            continue
        computed += price.cost(m.unlogged_in, m.unlogged_out, m.unlogged_cached)
        computed_n += unlogged
    logged = sum(m.logged_usd for m in models.values())
    return {"logged_usd": logged, "logged_requests": sum(m.logged_n for m in models.values()),
            "computed_usd": computed, "computed_requests": computed_n, "total_usd": logged + computed,
            "unpriced_models": sorted(unpriced)}


def _usd(x: float) -> str:
    return f"${x:,.2f}" if x >= 1 or x == 0 else f"${x:.6f}"


def render_text(s: dict[str, Any], max_tasks: int = 30) -> str:
    """The summary for a terminal."""
    out = []
    for f in s["files"]:
        out.append(f"{f['file']}: {f['format'] or 'no readable records'}")
    out.append(f"lines {s['lines']:,}  records {s['records']:,}  skipped {s['skipped']:,}"
               + (f"  (+{s['joined']:,} batch results joined to their requests)" if s["joined"] else ""))
    for r in s["skip_reasons"]:
        more = r["count"] - len(r["examples"])
        out.append(f"  skipped {r['count']:,} x {r['reason']}: {', '.join(r['examples'])}"
                   + (f" and {more:,} more" if more > 0 else ""))
    out += [f"  note: {n}" for n in s["notes"]]
    out.append(f"replayable {s['replayable']:,} of {s['records']:,} ({s['replayable_share']:.1%}); the rest have no "
               f"captured prompt or failed, and count for volume only")
    out.append("task typing: " + ", ".join(f"{t['how']} {t['share']:.1%}" for t in s["typing"]))
    out.append(f"task types ({len(s['tasks'])}):")
    for t in s["tasks"][:max_tasks]:
        tight = (f"  similarity mean {t['similarity_mean']:.2f} min {t['similarity_min']:.2f}"
                 if "similarity_mean" in t else "")
        out.append(f"  {t['task']:<40} {t['requests']:>10,} {t['share']:>7.1%}  [{t['typed_by']}]{tight}")
    if len(s["tasks"]) > max_tasks:
        out.append(f"  ... {len(s['tasks']) - max_tasks} more (see --json)")
    tk = s["tokens"]
    out.append(f"tokens: input {tk['input']:,} (cached {tk['cached']:,}), output {tk['output']:,} "
               f"(reasoning {tk['reasoning']:,})")
    sp = s["spend"]
    out.append(f"spend: {_usd(sp['total_usd'])} = logged {_usd(sp['logged_usd'])} ({sp['logged_requests']:,} "
               f"requests) + computed from litellm's price map {_usd(sp['computed_usd'])} "
               f"({sp['computed_requests']:,})"
               + (f"; unpriced models: {', '.join(sp['unpriced_models'])}" if sp["unpriced_models"] else ""))
    tm = s["time"]
    if tm["first"] is not None:
        from datetime import datetime, timezone

        iso = [datetime.fromtimestamp(x, timezone.utc).strftime("%Y-%m-%d %H:%M") for x in (tm["first"], tm["last"])]
        out.append(f"time span: {iso[0]} .. {iso[1]} UTC ({tm['days']:.1f} days)")
    out.append("models: " + ", ".join(f"{m['model']} ({m['requests']:,})" for m in s["models"][:12])
               + (f", ... {len(s['models']) - 12} more" if len(s["models"]) > 12 else ""))
    return "\n".join(out) + "\n"
