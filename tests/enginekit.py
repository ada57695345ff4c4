"""Spend logs for the engine tests, and what "the same Traffic" means.

`spend_rows()` mixes the rows the litellm 1.110.2 proxy wrote (tests/fixtures/producers), the synthetic rows the
rest of the suite uses (tagged, metadata.task, untagged with templated prompts), and rows whose shapes the SQL
mapping must hand back to the parser (numbers as strings, a tag list that is not a list, a redacted prompt, odd
times, answers of every shape, failures). `traffic_facts()` is what must agree between two paths.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, make_sample

PRODUCER_ROWS = ROOT / "tests/fixtures/producers/litellm_spend_logs.jsonl"
NOT_COLUMNS = ("accounting_payload", "accounting_delivery_id", "accounting_log_disabled")


def producer_rows() -> list[dict[str, Any]]:
    """The proxy's own spend rows, less the fields its database writer drops (they are not table columns)."""
    rows = [json.loads(line) for line in PRODUCER_ROWS.read_text(encoding="utf-8").splitlines()]
    return [{k: v for k, v in r.items() if k not in NOT_COLUMNS} for r in rows]


def _odd(base: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows outside the shapes the SQL reads itself: the parser must read (or skip) each as it always does."""
    msgs = [{"role": "user", "content": "Classify: my order 12 is late"}]
    variants: list[dict[str, Any]] = [
        {"prompt_tokens": "12"}, {"spend": "0.5"}, {"spend": None}, {"model": ""}, {"model": 5},
        {"request_tags": "task:csv-style"}, {"request_tags": ["task: spaced \u00a0", 7]}, {"request_tags": {}},
        {"metadata": "not json"}, {"metadata": {"task": 3}}, {"metadata": {"usage_object": "{}"}},
        {"messages": [{"role": "user", "content": "redacted-by-litellm"}]}, {"messages": [{"content": "no role"}]},
        {"messages": {"role": "user"}}, {"startTime": "2026-10-01"}, {"startTime": 1790000000}, {"endTime": "soon"},
        {"startTime": "2026-10-01T10:00:00.5Z"}, {"status": 0}, {"status": "failure"},
        {"response": "plain answer"}, {"response": "{}"}, {"response": {}}, {"response": {"choices": []}},
        {"response": {"choices": [{"message": "oops"}]}}, {"response": {"choices": [{"message": {"content": None}}]}},
        {"request_id": 42}, {"completion_tokens": 3.7}, {"completion_tokens": True},
        {"request_tags": ["team-a", "task:", "feature: search "]}, {"metadata": {"task": "from-metadata"}},
        {"messages": msgs, "request_tags": [], "metadata": {}},
        # untyped prompts whose (system, user) text SQL reads for the typer, or leaves to the parser
        {"messages": [{"role": "system", "content": "You sort tickets."}, {"role": "developer", "content": "Terse."},
                      {"role": "user", "content": "Ticket 7: refund \u00e9"}, {"role": "user", "content": "more"}]},
        {"messages": [{"role": "system", "content": None}, {"role": "assistant", "content": "Hi"},
                      {"role": "user", "content": "Ticket 8:\n\"refund\""}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Ticket 9: refund"}]}]},
        {"messages": [{"role": "user"}, {"role": "user", "content": "Ticket 10"}]},
        {"messages": [{"role": "system", "content": ""}, {"role": "user", "content": ""}]},
        {"messages": [{"role": "tool", "content": "x"}]}, {"messages": [{"role": "user", "content": 5}]},
    ]
    return [dict(base, request_id=f"odd-{i}", **v) if "request_id" not in v else dict(base, **v)
            for i, v in enumerate(variants)]


def _ranges(tagged: dict[str, Any]) -> list[dict[str, Any]]:
    """A tagged row (which SQL reads itself) out of range (common.check_ranges: the parser skips it), with the
    model called given otherwise (the per-task clients), or with other tags and messages."""
    variants: list[dict[str, Any]] = [
        {"prompt_tokens": -1}, {"completion_tokens": 2**60}, {"spend": -0.01}, {"startTime": "1999-12-31T23:59:59Z"},
        {"startTime": "2999-01-01T00:00:00Z"}, {"startTime": "2026-10-01T10:00:05Z", "endTime": "2026-10-01T10:00:00Z"},
        {"model_group": ["a"]}, {"model_group": "app-llm"}, {"model_group": ""}, {"model_group": None},
        # tags and messages as the SQL reads them in lists
        {"request_tags": ["team-a", "task:  spaced\u00a0\u3000 ", "feature:x"]},
        {"request_tags": ["task:", "taskName: n "]},
        {"request_tags": ["feature:\u00e9 \u00fc", "task:later"]}, {"request_tags": ["Task:x", "tasks:y"]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
        {"messages": [{"role": "user", "content": "redacted-by-litellm"}, {"role": "user", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}, "text"]}, {"messages": [{"role": None, "content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}, {"content": "y"}]},
        {"metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": 12.0, "cache_write_tokens": 7},
                                       "completion_tokens_details": {"reasoning_tokens": 2.5}}}},
        {"metadata": {"usage_object": {"prompt_tokens_details": {"cached_tokens": "3"}}}},
        {"metadata": {"usage_object": {"prompt_tokens_details": {"cache_creation_tokens": 1.5}}}},
        {"metadata": {"usage_object": {"completion_tokens_details": {"reasoning_tokens": True}}}},
    ]
    return [dict(tagged, request_id=f"range-{i}", **v) for i, v in enumerate(variants)]


def spend_rows(n: int = 600, seed: int = 3) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = producer_rows()
    for style in ("tag", "metadata", "none"):
        synth, _ = make_sample.synth_log(n // 3, seed=seed, tag_style=style)
        rows += [dict(r, request_id=f"{style}-{r['request_id']}") for r in synth]
    tagged = next(r for r in rows if r["request_id"].startswith("tag-"))
    rows += _odd(rows[-1]) + _ranges(tagged)
    return rows


def odd_lines() -> list[str]:
    """Lines of a JSON-lines file that are no spend row at all, as a real log may hold."""
    return ["", "   ", "not json", '{"request_id": "t1", "spend": 1, "startTime": NaN, "model": "m"}',
            '{"request_id": "t2", "spend": 1, "call_type": "x", "model": "m",}', '[1, 2]', '{"truncated": ',
            json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})]


def nan_log(folder: Path, uuids: bool = True) -> tuple[Path, Path]:
    """A spend log as JSON lines whose JSON text columns hold NaN or Infinity in a few rows (which DuckDB's and
    Spark's JSON functions read and Python's parsers refuse), and the same rows as Parquet written by DuckDB, JSON
    columns as text (a column whose values differ in type becomes Parquet's JSON type; `uuids`: the columns DuckDB
    takes for UUIDs stay UUIDs, else they are written as text)."""
    import duckdb

    base = [r for r in spend_rows(40) if isinstance(r.get("request_id"), str)]
    bodies = [
        {"metadata": '{"usage_object": {"prompt_tokens_details": {"cached_tokens": NaN}}}'},
        {"metadata": '{"task": "from-metadata", "other": Infinity}'},
        {"request_tags": '["task:nan-tag", NaN]'},
        {"response": '{"choices": [{"message": {"content": "hi"}}], "z": -Infinity}'},
    ]
    rows = [dict(base[i], request_id=f"nan-{i}", **v) for i, v in enumerate(bodies)]
    psr = json.loads(base[5]["proxy_server_request"]) if isinstance(base[5]["proxy_server_request"], str) \
        else base[5]["proxy_server_request"]
    rows.append(dict(base[5], request_id="nan-body", proxy_server_request=json.dumps(psr)[:-1] + ', "x": NaN}'))
    text = [{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in base + rows]
    clean = write_log(folder / "nan.jsonl", text)
    pq = folder / ("nan.parquet" if uuids else "nan-text-ids.parquet")
    rows_sql = f"SELECT * FROM read_json('{clean}', format='newline_delimited', sample_size=-1)"
    ids = [] if uuids else [c for c, kind, *_ in duckdb.sql(f"DESCRIBE {rows_sql}").fetchall() if kind == "UUID"]
    text_ids = f" REPLACE ({', '.join(f'{c}::VARCHAR AS {c}' for c in ids)})" if ids else ""
    duckdb.sql(f"COPY (SELECT *{text_ids} FROM ({rows_sql})) TO '{pq}'")
    return clean, pq


def write_log(path: Path, rows: list[dict[str, Any]], extra: list[str] = ()) -> Path:
    lines = [json.dumps(r) for r in rows]
    for i, line in enumerate(extra):
        lines.insert(1 + i * 37 % len(lines), line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def traffic_facts(traffic: Any, sources: bool = True) -> dict[str, Any]:
    """Everything two paths over the same rows must agree on, but the logged cost (see `same_cost`)."""
    st = traffic.stats
    return {
        "volume": {k: (*u.row()[:7], u.logged_cost_n) for k, u in traffic.volume.items()},
        "tasks": {t: (x.requests, x.replayable, dict(x.sources), dict(x.called), dict(x.tags))
                  for t, x in traffic.tasks.items()},
        "sample": {s: [r.id for r in reqs] for s, reqs in traffic.strata.items()},
        "sampled": {s: [(r.task, r.task_source, r.model, r.messages, r.output, r.params, r.input_tokens)
                        for r in reqs] for s, reqs in traffic.strata.items()},
        "offered": dict(traffic.offered), "groups": sorted(traffic.groups),
        "time": (traffic.first_time, traffic.last_time),
        "stats": (st.lines, st.records, st.skipped, dict(st.typing), dict(st.reasons), list(st.formats.values())),
        "sources": ([s.source for s in st.examples], {s: [r.source for r in v] for s, v in traffic.strata.items()})
        if sources else None,
    }


def same_cost(a: Any, b: Any) -> bool:
    """Logged cost per volume group, to 1e-9: an engine sums the same numbers in another order."""
    return a.volume.keys() == b.volume.keys() and all(
        math.isclose(a.volume[k].logged_cost, b.volume[k].logged_cost, rel_tol=1e-9, abs_tol=1e-12) for k in a.volume)


def audit_decisions(logs: list[str], folder: Path, **options: Any) -> tuple[Any, ...]:
    """Audit the logs (with the loopback tiers in ./tiertool.yaml) and return what was decided and on what."""
    import tiertool

    config = tiertool.load_config("tiertool.yaml")
    tiertool.run_audit(logs, config, folder, **options)
    audit = tiertool.load_audit(folder)
    rec = tiertool.recommend(audit)
    results = sorted((r.request_id, r.tier, r.passed) for r in audit.results)
    return (tuple((d.task, d.requests, d.sampled, d.tier, d.pass_rate) for d in rec.decisions),
            round(rec.savings.saved_fraction, 9), results)
