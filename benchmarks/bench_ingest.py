"""Benchmark: `tiertool inspect` on a generated 1,000,000-line LiteLLM spend log vs
`pandas.read_json(lines=True)` on the same file, in one run; both in fresh subprocesses, timed and with
their peak resident memory (os.wait4 rusage). Targets: at least as fast as pandas, under 1 GB peak.

Then a Parquet file in the Langfuse blob export's schema (observations: timestamps, maps, decimals, JSON text
columns) written in one row group as ClickHouse writes it, at a quarter of `--parquet-rows` and at all of them:
`tiertool inspect` streams it in record batches, so its peak memory stays flat while `pandas.read_parquet`'s
grows with the file. Target: tiertool's peak at the full size within 1.25x of its peak at a quarter.

    .venv/bin/python benchmarks/bench_ingest.py            # 1,000,000 lines, 400,000 Parquet rows
    .venv/bin/python benchmarks/bench_ingest.py --lines 100000 --parquet-rows 100000
    .venv/bin/python benchmarks/bench_ingest.py --lines 0  # the Parquet part alone

The log is written to a temporary folder and deleted afterwards. A third of the rows stored their prompts
(`store_prompts_in_spend_logs`), three quarters carry a `task:` tag, the rest are typed by template inference.
"""

from __future__ import annotations

import argparse
import decimal
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATES = [
    ("Classify the support ticket into one of: billing, bug, feature-request, account, shipping. "
     "Answer with the label only.", "Ticket {n}: {who} reports that the {thing} stopped working after {d} days"),
    ("Extract the order as JSON with keys id, items and total.", "{who} ordered {d} x {thing} for ${n}.00"),
    ("You are a helpful assistant.", "Summarise in one sentence: {who} bought a {thing} and returned it after {d} "
                                     "days because it broke."),
]
TASKS = ["ticket-triage", "order-extract", "summarise", "support-reply", "math"]
WHO = ["Alice", "Bob", "Chandra", "Dmitri", "Eve", "Fatima"]
THINGS = ["printer", "laptop", "kettle", "bicycle", "phone"]
MODELS = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-3-5-haiku-20241022", "anthropic")]


def write_log(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    t0 = 1767225600
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            model, provider = MODELS[i % 3]
            pt, ct = rng.randint(30, 900), rng.randint(1, 300)
            start = t0 + i * 2.6
            row = {"request_id": f"chatcmpl-{i:09d}", "call_type": "acompletion", "api_key": "88dc28d0f030c5",
                   "spend": round(pt * 2.5e-6 + ct * 1e-5, 8), "total_tokens": pt + ct, "prompt_tokens": pt,
                   "completion_tokens": ct, "startTime": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start))}Z",
                   "endTime": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start + 1))}Z", "model": model,
                   "model_id": "dep-1", "model_group": model, "custom_llm_provider": provider,
                   "api_base": "https://api.example.com", "user": "u-1", "team_id": "team-1",
                   "metadata": {"user_api_key_alias": "prod", "user_api_key_team_id": "team-1",
                                "additional_usage_values": {}},
                   "cache_hit": "False", "cache_key": "Cache OFF",
                   "request_tags": [f"task:{TASKS[i % 5]}"] if i % 4 else [],
                   "end_user": "", "requester_ip_address": "", "messages": {}, "response": {}, "status": "success"}
            if i % 3 == 0:
                system, user = TEMPLATES[i % len(TEMPLATES)]
                text = user.format(n=rng.randint(1, 99999), who=rng.choice(WHO), thing=rng.choice(THINGS),
                                   d=rng.randint(1, 30))
                row["messages"] = [{"role": "system", "content": system}, {"role": "user", "content": text}]
                row["response"] = {"id": f"r{i}", "object": "chat.completion", "model": model,
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "billing"}}],
                                   "usage": {"prompt_tokens": pt, "completion_tokens": ct}}
            fh.write(json.dumps(row) + "\n")


def run(cmd: list[str]) -> tuple[float, float, bytes]:
    """(seconds, peak RSS in MiB, stdout) of a command run alone; the child is reaped here so its rusage is its own."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks = []
    while chunk := proc.stdout.read(1 << 16):
        chunks.append(chunk)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024, b"".join(chunks)


def write_parquet(path: Path, n: int, seed: int = 0) -> None:
    """`n` Langfuse blob-export observations (hosted/langfuse.source.md columns) in one row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    ts = pa.timestamp("ms", tz="UTC")
    schema = pa.schema([("id", pa.string()), ("trace_id", pa.string()), ("type", pa.string()),
                        ("start_time", ts), ("end_time", ts), ("level", pa.string()),
                        ("metadata", pa.map_(pa.string(), pa.string())), ("input", pa.string()),
                        ("output", pa.string()), ("provided_model_name", pa.string()),
                        ("model_parameters", pa.string()), ("usage_details", pa.map_(pa.string(), pa.uint64())),
                        ("total_cost", pa.decimal128(18, 12))])
    with pq.ParquetWriter(path, schema) as writer:
        cols: dict[str, list] = {name: [] for name in schema.names}
        for i in range(n):
            model = MODELS[i % 3][0]
            system, user = TEMPLATES[i % len(TEMPLATES)]
            text = user.format(n=rng.randint(1, 99999), who=rng.choice(WHO), thing=rng.choice(THINGS),
                               d=rng.randint(1, 30))
            pt, ct = rng.randint(30, 900), rng.randint(1, 300)
            row = {"id": f"obs-{i:09d}", "trace_id": f"tr-{i // 2:09d}", "type": "GENERATION",
                   "start_time": 1767225600_000 + i * 2600, "end_time": 1767225601_000 + i * 2600,
                   "level": "DEFAULT", "metadata": [("task", TASKS[i % 5])],
                   "input": json.dumps([{"role": "system", "content": system}, {"role": "user", "content": text}]),
                   "output": json.dumps({"role": "assistant", "content": "billing"}), "provided_model_name": model,
                   "model_parameters": '{"temperature":"0"}', "usage_details": [("input", pt), ("output", ct)],
                   "total_cost": decimal.Decimal(f"{pt * 2.5e-6 + ct * 1e-5:.12f}")}
            for name in schema.names:
                cols[name].append(row[name])
        writer.write_table(pa.table(cols, schema=schema), row_group_size=n)


def parquet_bench(n: int, tiertool: str) -> None:
    code = "import sys, pandas; df = pandas.read_parquet(sys.argv[1]); print(len(df))"
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for size in (n // 4, n):
            path = Path(tmp) / f"observations-{size}.parquet"
            writer = multiprocessing.get_context("spawn").Process(target=write_parquet, args=(path, size))
            writer.start()  # in a fresh process: a child's peak RSS starts at its parent's (exec keeps the
            writer.join()  # high-water mark), so this process must never hold the table itself
            if writer.exitcode:
                sys.exit(f"writing {path} failed ({writer.exitcode})")
            tt, tm, out = run([tiertool, "inspect", str(path), "--json"])
            assert json.loads(out)["records"] == size
            pt, pm, out = run([sys.executable, "-c", code, str(path)])
            assert int(out) == size
            rows.append((size, path.stat().st_size, tt, tm, pt, pm))
            path.unlink()
    for size, nbytes, tt, tm, pt, pm in rows:
        print(f"parquet {size:>9,} rows ({nbytes / 2**20:5.0f} MiB): tiertool {tt:6.1f} s peak {tm:5.0f} MiB | "
              f"pandas.read_parquet {pt:5.1f} s peak {pm:5.0f} MiB | ratio time {tt / pt:.2f}x memory {tm / pm:.2f}x")
    grow_t, grow_p = rows[1][3] / rows[0][3], rows[1][5] / rows[0][5]
    print(f"peak growth from {rows[0][0]:,} to {rows[1][0]:,} rows: tiertool {grow_t:.2f}x, pandas {grow_p:.2f}x; "
          f"target flat (<= 1.25x): {'met' if grow_t <= 1.25 else 'NOT met'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--parquet-rows", type=int, default=400_000, help="0 skips the Parquet part")
    args = ap.parse_args()
    tiertool = str(Path(sys.executable).with_name("tiertool"))
    if args.parquet_rows:
        parquet_bench(args.parquet_rows, tiertool)
    if not args.lines:
        return
    pandas_code = ("import sys, pandas; df = pandas.read_json(sys.argv[1], lines=True); "
                   "print(len(df), df['spend'].sum())")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "spend.jsonl"
        t = time.perf_counter()
        write_log(log, args.lines)
        size = log.stat().st_size
        print(f"generated {args.lines:,} lines ({size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.1f} s")
        tt, tm, out = run([tiertool, "inspect", str(log), "--json"])
        summary = json.loads(out)
        assert summary["records"] == args.lines, summary["records"]
        pt, pm, out = run([sys.executable, "-c", pandas_code, str(log)])
        assert int(out.split()[0]) == args.lines
    print(f"tiertool inspect          : {tt:7.1f} s  peak {tm:7.0f} MiB  "
          f"({summary['records']:,} records, {len(summary['tasks'])} task types)")
    print(f"pandas.read_json(lines=True): {pt:7.1f} s  peak {pm:7.0f} MiB")
    print(f"ratio tiertool/pandas     : time {tt / pt:.2f}x  memory {tm / pm:.2f}x")
    print(f"targets: time <= pandas: {'met' if tt <= pt else 'NOT met'}; "
          f"peak < 1 GB: {'met' if tm < 1024 else 'NOT met'}")


if __name__ == "__main__":
    main()
